"""What every API function refuses before binding a request: another account's path (the second wall behind the
authorizer's policy), and a body it will not read (too large, or not JSON)."""

from __future__ import annotations

from typing import Any

from emma_events.errors import ApiError, Forbidden, PayloadTooLarge, UnsupportedMediaType
from emma_events.gateway import header
from emma_events.observability import logger
from emma_events.responses import problem

#: Request bodies larger than this are refused with 413 (10 events of 32 KB of attributes fit well within).
MAX_BODY_BYTES = 1024 * 1024

#: The body of API Gateway's ACCESS_DENIED answer (template.yaml's GatewayResponses), which the functions repeat.
FORBIDDEN_DETAIL = "These credentials do not give access to this account."


def refuse_foreign_account(event: dict[str, Any]) -> dict[str, Any] | None:
    """A 403 proxy response unless the path's ``account_id`` is the account the authorizer vouched for, else None.

    API Gateway already denies other accounts' paths by the authorizer's policy; this is the second wall, in the
    one place every API function goes through, so a policy mistake alone cannot expose another account. The
    authorizer puts the caller's account in its context, which API Gateway passes on as
    ``requestContext.authorizer.account_id``. No context (a direct invoke without one) is refused too. The
    comparison is of the path segment as sent: ``/0100/...`` is not account 100's path, as it is not for the
    policy either.
    """
    authorizer = (event.get("requestContext") or {}).get("authorizer") or {}
    vouched = authorizer.get("account_id")
    requested = (event.get("pathParameters") or {}).get("account_id")
    if vouched is not None and requested is not None and str(vouched) == requested:
        return None
    logger.warning("account mismatch", extra={"path_account": requested, "authorized_account": vouched})
    return problem(Forbidden(FORBIDDEN_DETAIL))


def refuse_body(event: dict[str, Any]) -> dict[str, Any] | None:
    """A 413 or 415 proxy response for a body this API will not read, else None.

    Over ``MAX_BODY_BYTES``: 413. A declared content type that is not JSON: 415 (a body without
    ``Content-Type`` is read as JSON: existing Emma clients send none; Powertools would parse form-encoded
    bodies, which this API does not accept). Checked before the resolver parses anything.
    """
    body = event.get("body")
    if not body:
        return None
    error: ApiError | None = None
    if _body_bytes(body, bool(event.get("isBase64Encoded"))) > MAX_BODY_BYTES:
        error = PayloadTooLarge(f"The body is larger than {MAX_BODY_BYTES} bytes.")
    declared = header(event, "content-type")
    media_type = (declared or "").split(";")[0].strip().lower()
    if error is None and media_type and media_type != "application/json":
        error = UnsupportedMediaType(f"The body must be JSON (Content-Type: application/json), not {media_type}.")
    return None if error is None else problem(error)


def _body_bytes(body: str, base64_encoded: bool) -> int:
    """The size of the body as sent, in bytes: decoded from base64 when API Gateway encoded it, else its UTF-8
    (a character is up to 4 bytes; a lone surrogate, which only a direct invoke can send, counts as 3)."""
    if base64_encoded:
        return len(body) * 3 // 4 - body[-2:].count("=")
    if len(body) > MAX_BODY_BYTES:  # too large whatever its characters: no need to encode it
        return len(body)
    return len(body.encode("utf-8", "surrogatepass"))

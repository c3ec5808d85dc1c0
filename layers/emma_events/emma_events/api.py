"""HTTP glue shared by every API function: argument types, the entry point, the error mapping.

Every error leaves as ``application/problem+json`` (RFC 9457) with ``type``, ``title``, ``status``, ``detail``
and, for validation errors, ``errors``: one entry per offending field. Emma answers invalid input with 400.
Binding a request to a handler's arguments is ``endpoint.py``'s (pydantic, one route per function).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any, Literal
from urllib.parse import unquote

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit, SchemaValidationError
from pydantic import BeforeValidator, Field

from emma_events import settles_init
from emma_events.config import METRICS_NAMESPACE
from emma_events.dates import parse_time
from emma_events.domain import Idempotency
from emma_events.dynamo import set_deadline
from emma_events.endpoint import Endpoint, InHeader, InPath, InQuery, Request, Response, route
from emma_events.errors import (
    ApiError,
    Forbidden,
    PayloadTooLarge,
    ServiceUnavailable,
    UnsupportedMediaType,
    reject,
)
from emma_events.gateway import header
from emma_events.keys import MAX_ID

__all__ = ["Endpoint", "Request", "Response", "route"]

PROBLEM_JSON = "application/problem+json"
#: Request bodies larger than this are refused with 413 (10 events of 32 KB of attributes fit well within).
MAX_BODY_BYTES = 1024 * 1024


def _plain_id(value: Any) -> Any:
    """An id in a URL is written one way: ASCII digits, no sign, space or leading zero (``5``, not ``+5``, ``05``
    or ``5.0``), as the account segment must be for the authorizer's policy."""
    if isinstance(value, str) and not (value.isascii() and value.isdigit() and value[:1] != "0"):
        raise ValueError("must be a positive integer written in plain digits (no sign, space or leading zero)")
    return value


PlainId = BeforeValidator(_plain_id)
AccountId = Annotated[int, InPath, Field(gt=0, le=MAX_ID, description="The account's id."), PlainId]
EventTypeId = Annotated[int, InPath, Field(gt=0, le=MAX_ID, description="The event type's id."), PlainId]
MemberId = Annotated[int, InPath, Field(gt=0, le=MAX_ID, description="The member's id."), PlainId]
EmailPath = Annotated[
    str,
    InPath,
    Field(min_length=1, max_length=762, description="The member's email (URL-encoded).", examples=["ada@example.com"]),
]

TimeQuery = Annotated[
    datetime | None,
    BeforeValidator(lambda v: None if v in (None, "") else parse_time(v)),
    InQuery,
    Field(description="ISO 8601 or @D:YYYY-MM-DDTHH:MM:SS; inclusive."),
]
Order = Annotated[Literal["asc", "desc"], InQuery, Field(description="`desc`: newest first.")]
EventTypeFilter = Annotated[
    int | None, InQuery, Field(gt=0, le=MAX_ID, description="Only events of this type."), PlainId
]
IdempotencyKey = Annotated[
    str | None,
    InHeader("Idempotency-Key"),
    Field(
        min_length=1,
        max_length=255,
        pattern=r"^[\x21-\x7e]+$",
        description="Retries with the same key and body within 24 hours return the first answer.",
    ),
]

logger = Logger()
#: The API's metrics (CloudWatch embedded metric format: written with the logs, no API call), namespace
#: POWERTOOLS_METRICS_NAMESPACE; docs/operations.md.
metrics = Metrics(namespace=METRICS_NAMESPACE)


def lookup_email(value: str, field: str) -> str:
    """The address to look a member up by (``models.LookupEmail``), or a 400 naming ``field``."""
    from pydantic import TypeAdapter, ValidationError

    from emma_events.models import LookupEmail

    try:
        return str(TypeAdapter(LookupEmail).validate_python(value))
    except ValidationError as error:
        reject(field, error.errors()[0]["msg"], "email")


def refuse_invalid_email(value: str, field: str) -> None:
    """A 400 naming ``field`` if an address that found no member is not an address at all."""
    from emma_events.models import email_problem

    problem = email_problem(value)
    if problem:
        reject(field, problem, "email")


def email_from_path(raw: str) -> str:
    """The email of ``/members/email/{email}``, URL-decoded (API Gateway passes path segments as sent)."""
    return unquote(raw)


def idempotency(key: str | None, request: Request) -> Idempotency | None:
    """The key and a fingerprint of the JSON body: of its canonical text, so key order and whitespace do not
    matter."""
    if key is None or request.canonical is None:
        return None
    # surrogatepass: a lone surrogate ("\ud800" in the JSON) in a field the models ignore is still fingerprinted
    return Idempotency(key, hashlib.sha256(request.canonical.encode("utf-8", "surrogatepass")).hexdigest())


def _proxy(status: int, content_type: str, body: str, headers: Mapping[str, str] | None = None) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"Content-Type": content_type, **(headers or {})},
        "body": body,
        "isBase64Encoded": False,
    }


def problem(error: ApiError) -> dict[str, Any]:
    """The proxy response of an error: its problem document."""
    body: dict[str, Any] = {"type": error.type, "title": error.title, "status": error.status, "detail": error.detail}
    if error.errors is not None:
        body["errors"] = error.errors
    retry = {"Retry-After": str(error.retry_after_seconds)} if isinstance(error, ServiceUnavailable) else None
    return _proxy(error.status, PROBLEM_JSON, json.dumps(body), retry)


def _unexpected() -> dict[str, Any]:
    logger.exception("unhandled error")
    body = {
        "type": "about:blank",
        "title": "Internal Server Error",
        "status": 500,
        "detail": "An unexpected error occurred; it has been logged.",
    }
    return _proxy(500, PROBLEM_JSON, json.dumps(body))


def answer(response: Response) -> dict[str, Any]:
    """The proxy response of a handler's answer: its body as JSON (pydantic serializes models, dates as Emma's)."""
    import pydantic_core

    return _proxy(response.status, "application/json", pydantic_core.to_json(response.body).decode(), response.headers)


#: Time kept for answering after the last DynamoDB call (serializing, logging) within the function's timeout.
ANSWER_MARGIN_S = 0.5

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


def count(metric: str, value: int = 1) -> None:
    """Add to one of the API's business metrics (EventsRecorded, EventTypesCreated, ...) for this request."""
    metrics.add_metric(name=metric, unit=MetricUnit.Count, value=value)


def write_metrics() -> None:
    """Write this request's metrics document (Powertools' ``log_metrics`` does the same, but lets a failure to
    write fail the request). Metrics are never worth an answer: a document that cannot be written is logged and
    dropped. (Powertools keeps one metric set per process; calls running at once in one process, as the tests'
    in-process invocations do, can empty it under each other.)"""
    try:
        metrics.flush_metrics()
    except SchemaValidationError as error:
        logger.warning("metrics not written", extra={"error": str(error)})
    finally:  # with POWERTOOLS_METRICS_DISABLED the flush keeps the set, which Powertools prints at 100 values
        metrics.clear_metrics()


def lambda_handler_for(endpoint: Endpoint) -> Any:
    """The Lambda entry point of every API function: structured logs with the request id, the account check,
    the body check, then the endpoint (binding and handler); one ``Requests2xx``/``4xx``/``5xx`` metric per
    request, with the account id as a property of the metrics document (not a dimension: one metric per account
    would cost more than the API)."""
    from aws_lambda_powertools.logging import correlation_paths

    @settles_init
    @logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
    def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        account = (event.get("pathParameters") or {}).get("account_id")
        if account is not None:
            metrics.add_metadata(key="account_id", value=str(account))
        status = 500
        try:
            proxy = refuse_foreign_account(event) or refuse_body(event)
            if proxy is None:
                set_deadline(context.get_remaining_time_in_millis() / 1000 - ANSWER_MARGIN_S)
                try:
                    proxy = answer(endpoint(event))
                except ApiError as error:
                    proxy = problem(error)
                except Exception:
                    proxy = _unexpected()
                finally:
                    set_deadline(None)
            status = proxy["statusCode"]
            return proxy
        finally:  # an exception that escapes is Lambda's error, API Gateway's 502: a 5xx
            count(f"Requests{min(status // 100, 5)}xx")
            write_metrics()

    return lambda_handler

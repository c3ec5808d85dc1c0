"""HTTP glue shared by every function: the resolver, path/query parameter types and the error mapping.

Every error leaves as ``application/problem+json`` (RFC 9457) with ``type``, ``title``, ``status``, ``detail``
and, for validation errors, ``errors``: one entry per offending field. Emma answers invalid input with 400
(Powertools' default would be 422), so request validation errors map to 400 here.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Annotated, Any, Literal
from urllib.parse import unquote

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestUnsupportedContentType, RequestValidationError
from aws_lambda_powertools.event_handler.openapi.params import Header, Path, Query
from aws_lambda_powertools.metrics import MetricUnit, SchemaValidationError
from pydantic import BeforeValidator

from emma_events.config import METRICS_NAMESPACE
from emma_events.dates import parse_time
from emma_events.errors import (
    ApiError,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    ServiceUnavailable,
    UnsupportedMediaType,
    ValidationFailed,
    field_error,
    reject,
)
from emma_events.keys import MAX_ID
from emma_events.repository import Idempotency, set_deadline

PROBLEM_JSON = "application/problem+json"
#: Request bodies larger than this are refused with 413 (10 events of 32 KB of attributes fit well within).
MAX_BODY_BYTES = 1024 * 1024

AccountId = Annotated[int, Path(gt=0, le=MAX_ID, description="The account's id.")]
EventTypeId = Annotated[int, Path(gt=0, le=MAX_ID, description="The event type's id.")]
MemberId = Annotated[int, Path(gt=0, le=MAX_ID, description="The member's id.")]
EmailPath = Annotated[
    str,
    Path(min_length=1, max_length=762, description="The member's email (URL-encoded).", examples=["ada@example.com"]),
]

TimeQuery = Annotated[
    datetime | None,
    BeforeValidator(lambda v: None if v in (None, "") else parse_time(v)),
    Query(description="ISO 8601 or @D:YYYY-MM-DDTHH:MM:SS; inclusive."),
]
Order = Annotated[Literal["asc", "desc"], Query(description="`desc`: newest first.")]
EventTypeFilter = Annotated[int | None, Query(gt=0, le=MAX_ID, description="Only events of this type.")]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        pattern=r"^[\x21-\x7e]+$",
        description="Retries with the same key and body within 24 hours return the first answer.",
    ),
]

logger = Logger()
#: The API's metrics (CloudWatch embedded metric format: written with the logs, no API call), namespace
#: POWERTOOLS_METRICS_NAMESPACE; README, "Operating it".
metrics = Metrics(namespace=METRICS_NAMESPACE)


def validate_email(value: str, field: str) -> str:
    """The normalized address, or a 400 naming ``field``."""
    from pydantic import TypeAdapter, ValidationError

    from emma_events.models import Email

    try:
        return str(TypeAdapter(Email).validate_python(value))
    except ValidationError as error:
        reject(field, error.errors()[0]["msg"], "email")


def email_from_path(raw: str) -> str:
    """The email of ``/members/email/{email}``, URL-decoded (API Gateway passes path segments as sent)."""
    return unquote(raw)


def idempotency(key: str | None, body: Any) -> Idempotency | None:
    """The key and a fingerprint of the JSON body (key order and whitespace do not matter)."""
    if key is None:
        return None
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    # surrogatepass: a lone surrogate ("\ud800" in the JSON) in a field the models ignore is still fingerprinted
    return Idempotency(key, hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest())


def problem(error: ApiError) -> Response[str]:
    body: dict[str, Any] = {"type": error.type, "title": error.title, "status": error.status, "detail": error.detail}
    if error.errors is not None:
        body["errors"] = error.errors
    headers = {"Retry-After": str(error.retry_after_seconds)} if isinstance(error, ServiceUnavailable) else None
    return Response(status_code=error.status, content_type=PROBLEM_JSON, body=json.dumps(body), headers=headers)


def _validation_problem(exc: RequestValidationError) -> Response[str]:
    errors = []
    for err in exc.errors():
        loc = tuple(err.get("loc", ()))
        message = str(err.get("msg", err.get("type", "invalid")))
        if err.get("type") == "json_invalid":
            loc, message = ("body",), f"body is not valid JSON: {err.get('ctx', {}).get('error', 'parse error')}"
        errors.append(field_error(loc, message, str(err.get("type", "invalid"))))
    fields = ", ".join(sorted({e["field"] for e in errors}))
    return problem(ValidationFailed(f"Invalid request: {fields}.", errors=errors))


#: Nesting depth of a request body (DynamoDB's own limit for a stored document; ``attributes`` and ``fields``
#: allow less, checked by their models).
BODY_MAX_DEPTH = 32


def _nesting(value: Any) -> int:
    """The nesting depth of a parsed JSON value, without recursion (a hostile body must not exhaust the stack)."""
    deepest, level = 0, [(value, 1)]
    while level:
        node, depth = level.pop()
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else None
        if children is not None:
            deepest = max(deepest, depth)
            if deepest > BODY_MAX_DEPTH:
                break
            level.extend((child, depth + 1) for child in children)
    return deepest


def _strict_json(text: str) -> Any:
    """``json.loads`` for request bodies, whose every refusal is a ``JSONDecodeError`` (the one error Powertools
    turns into a 400): duplicate keys (which parser would win is anyone's guess), integers past Python's digit
    limit (a ``ValueError``), nesting past the interpreter's stack (a ``RecursionError``) or past
    ``BODY_MAX_DEPTH``."""

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        seen: dict[str, Any] = {}
        for key, value in items:
            if key in seen:
                raise json.JSONDecodeError(f"duplicate key {key!r}", text, 0)
            seen[key] = value
        return seen

    try:
        parsed = json.loads(text, object_pairs_hook=pairs)
    except json.JSONDecodeError:
        raise
    except RecursionError:
        raise json.JSONDecodeError(f"nested more than {BODY_MAX_DEPTH} levels deep", text, 0) from None
    except ValueError as error:  # "Exceeds the limit (4300 digits) for integer string conversion"
        raise json.JSONDecodeError(str(error), text, 0) from None
    if _nesting(parsed) > BODY_MAX_DEPTH:
        raise json.JSONDecodeError(f"nested more than {BODY_MAX_DEPTH} levels deep", text, 0)
    return parsed


def make_resolver() -> APIGatewayRestResolver:
    """A REST API resolver with request validation and this API's error mapping."""
    app = APIGatewayRestResolver(enable_validation=True, json_body_deserializer=_strict_json)

    app.exception_handler(ApiError)(problem)

    app.exception_handler(RequestValidationError)(_validation_problem)

    @app.exception_handler(RequestUnsupportedContentType)
    def _unsupported(exc: RequestUnsupportedContentType) -> Response[str]:
        return problem(UnsupportedMediaType("The body must be JSON (Content-Type: application/json)."))

    @app.not_found
    def _no_route(exc: NotFoundError) -> Response[str]:
        event = app.current_event
        return problem(NotFound(f"No route for {event.http_method} {event.path}."))

    @app.exception_handler(Exception)
    def _unexpected(exc: Exception) -> Response[str]:
        logger.exception("unhandled error")
        body = {
            "type": "about:blank",
            "title": "Internal Server Error",
            "status": 500,
            "detail": "An unexpected error occurred; it has been logged.",
        }
        return Response(status_code=500, content_type=PROBLEM_JSON, body=json.dumps(body))

    return app


#: Time kept for answering after the last DynamoDB call (serializing, logging) within the function's timeout.
ANSWER_MARGIN_S = 0.5

#: The body of API Gateway's ACCESS_DENIED answer (template.yaml's GatewayResponses), which the functions repeat.
FORBIDDEN_DETAIL = "These credentials do not give access to this account."


def _proxy_response(error: ApiError) -> dict[str, Any]:
    response = problem(error)
    return {
        "statusCode": response.status_code,
        "headers": {"Content-Type": PROBLEM_JSON},
        "body": response.body,
        "isBase64Encoded": False,
    }


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
    return _proxy_response(Forbidden(FORBIDDEN_DETAIL))


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
    declared = next((v for k, v in (event.get("headers") or {}).items() if k.lower() == "content-type"), None)
    media_type = (declared or "").split(";")[0].strip().lower()
    if error is None and media_type and media_type != "application/json":
        error = UnsupportedMediaType(f"The body must be JSON (Content-Type: application/json), not {media_type}.")
    return None if error is None else _proxy_response(error)


def _body_bytes(body: str, base64_encoded: bool) -> int:
    """The size of the body as sent, in bytes: decoded from base64 when API Gateway encoded it, else its UTF-8
    (a character is up to 4 bytes; a lone surrogate, which only a direct invoke can send, counts as 3)."""
    if base64_encoded:
        return len(body) * 3 // 4 - body[-2:].count("=")
    if len(body) > MAX_BODY_BYTES:  # too large whatever its characters: no need to encode it
        return len(body)
    return len(body.encode("utf-8", "surrogatepass"))


def _normalized_media_type(event: dict[str, Any]) -> dict[str, Any]:
    """Media types are case-insensitive (RFC 9110): ``APPLICATION/JSON`` is JSON (``refuse_body`` let it through),
    while the resolver compares them as written. A request without a body has no media type: the resolver would
    parse the nothing it declares (an empty multipart body is a ``ValueError`` there), so it is dropped."""
    for name in ("headers", "multiValueHeaders"):
        headers = event.get(name) or {}
        for key, value in list(headers.items()):
            if key.lower() != "content-type":
                continue
            if not event.get("body"):
                del headers[key]
            else:
                headers[key] = [v.lower() for v in value] if isinstance(value, list) else str(value).lower()
    return event


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


def lambda_handler_for(app: APIGatewayRestResolver) -> Any:
    """The Lambda entry point of every API function: structured logs with the request id, the account check,
    the body check, then ``app.resolve``; one ``Requests2xx``/``4xx``/``5xx`` metric per request, with the
    account id as a property of the metrics document (not a dimension: one metric per account would cost more
    than the API)."""
    from aws_lambda_powertools.logging import correlation_paths

    @logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
    def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        account = (event.get("pathParameters") or {}).get("account_id")
        if account is not None:
            metrics.add_metadata(key="account_id", value=str(account))
        status = 500
        try:
            refused = refuse_foreign_account(event) or refuse_body(event)
            if refused:
                status = refused["statusCode"]
                return refused
            set_deadline(context.get_remaining_time_in_millis() / 1000 - ANSWER_MARGIN_S)
            try:
                answer = app.resolve(_normalized_media_type(event), context)
            finally:
                set_deadline(None)
            status = answer["statusCode"]
            return answer
        finally:  # an exception that escapes is Lambda's error, API Gateway's 502: a 5xx
            count(f"Requests{min(status // 100, 5)}xx")
            write_metrics()

    return lambda_handler

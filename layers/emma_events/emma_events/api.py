"""HTTP glue shared by every function: the resolver, path/query parameter types and the error mapping.

Every error leaves as ``application/problem+json`` (RFC 9457) with ``type``, ``title``, ``status``, ``detail``
and, for validation errors, ``errors``: one entry per offending field. Emma answers invalid input with 400
(Powertools' default would be 422), so request validation errors map to 400 here.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestUnsupportedContentType, RequestValidationError
from aws_lambda_powertools.event_handler.openapi.params import Path, Query

from emma_events.errors import ApiError, NotFound, ServiceUnavailable, UnsupportedMediaType, ValidationFailed
from emma_events.models import MAX_ID

PROBLEM_JSON = "application/problem+json"

AccountId = Annotated[int, Path(gt=0, le=MAX_ID, description="The account's id.")]
EventTypeId = Annotated[int, Path(gt=0, le=MAX_ID, description="The event type's id.")]

#: Emma paging: ``start``/``end`` select records [start, end), at most ``MAX_PAGE`` per call.
MAX_PAGE = 500
Start = Annotated[int, Query(ge=0, le=MAX_ID, description="Index of the first record to return.")]
End = Annotated[int | None, Query(gt=0, le=MAX_ID, description="Index after the last record (default start+500).")]
Count = Annotated[bool, Query(description="`true` returns the number of records as a bare integer.")]

logger = Logger()


def page_bounds(start: int, end: int | None) -> tuple[int, int]:
    """Validate Emma's ``start``/``end`` pair; ``end`` defaults to ``start + 500``."""
    if end is None:
        return start, start + MAX_PAGE
    if end <= start:
        raise ValidationFailed(
            "`end` must be greater than `start`.",
            errors=[_error(("query", "end"), "must be greater than start", "greater_than_start")],
        )
    if end - start > MAX_PAGE:
        raise ValidationFailed(
            f"At most {MAX_PAGE} records per call.",
            errors=[_error(("query", "end"), f"end - start must be at most {MAX_PAGE}", "page_too_large")],
        )
    return start, end


def _error(loc: tuple[Any, ...], message: str, kind: str) -> dict[str, Any]:
    return {"field": ".".join(str(part) for part in loc), "loc": list(loc), "message": message, "type": kind}


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
        errors.append(_error(loc, message, str(err.get("type", "invalid"))))
    fields = ", ".join(sorted({e["field"] for e in errors}))
    return problem(ValidationFailed(f"Invalid request: {fields}.", errors=errors))


def make_resolver() -> APIGatewayRestResolver:
    """A REST API resolver with request validation and this API's error mapping."""
    app = APIGatewayRestResolver(enable_validation=True)

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


def unsupported_media_type(event: dict[str, Any]) -> dict[str, Any] | None:
    """A 415 proxy response when a body declares a content type that is not JSON, else None.

    A body without ``Content-Type`` is read as JSON (existing Emma clients send none). Powertools would parse
    form-encoded bodies, which this API does not accept, so the check runs before the resolver.
    """
    if not event.get("body"):
        return None
    declared = next((v for k, v in (event.get("headers") or {}).items() if k.lower() == "content-type"), None)
    if not declared:
        return None
    media_type = declared.split(";")[0].strip().lower()
    if media_type == "application/json":
        return None
    response = problem(
        UnsupportedMediaType(f"The body must be JSON (Content-Type: application/json), not {media_type}.")
    )
    return {
        "statusCode": response.status_code,
        "headers": {"Content-Type": PROBLEM_JSON},
        "body": response.body,
        "isBase64Encoded": False,
    }


def lambda_handler_for(app: APIGatewayRestResolver) -> Any:
    """The Lambda entry point of a function: structured logs with the request id, then ``app.resolve``."""
    from aws_lambda_powertools.logging import correlation_paths

    @logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
    def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return unsupported_media_type(event) or app.resolve(event, context)

    return lambda_handler

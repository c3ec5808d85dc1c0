"""What an API function answers, as API Gateway's proxy response: a handler's answer as JSON, or an error as
``application/problem+json`` (RFC 9457) with ``type``, ``title``, ``status``, ``detail`` and, for validation
errors, ``errors``: one entry per offending field (Emma answers invalid input with 400)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from emma_events.endpoint import Response
from emma_events.errors import ApiError, ServiceUnavailable
from emma_events.observability import logger

PROBLEM_JSON = "application/problem+json"


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


def unexpected() -> dict[str, Any]:
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

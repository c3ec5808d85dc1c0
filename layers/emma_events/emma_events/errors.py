"""Domain errors. Each carries the HTTP status it maps to; ``responses.py`` turns them into RFC 9457 bodies.

The stores raise these to the API functions (never ``botocore`` errors: ``dynamo_errors.translate_errors``), so
handlers never build error responses.
"""

from __future__ import annotations

from typing import Any, NoReturn

# Problem types are URNs (RFC 9457 allows any URI); docs/errors.md describes each one.
PROBLEM_BASE = "urn:emma-events:problem:"


class ApiError(Exception):
    """An error the client can act on. ``slug`` names the problem type in docs/errors.md."""

    status: int = 400
    title: str = "Bad Request"
    slug: str = "bad-request"

    def __init__(self, detail: str, *, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors

    @property
    def type(self) -> str:
        return PROBLEM_BASE + self.slug


class ValidationFailed(ApiError):
    """The request is malformed; ``errors`` names every offending field."""

    status = 400
    title = "Validation failed"
    slug = "validation-failed"


def field_error(loc: tuple[Any, ...] | list[Any], message: str, kind: str, field: str | None = None) -> dict[str, Any]:
    """One entry of a validation problem's ``errors``: the field as a dotted path (unless given) and as a list,
    what is wrong, and its machine-readable type."""
    field = ".".join(str(part) for part in loc) if field is None else field
    return {"field": field, "loc": list(loc), "message": message, "type": kind}


def _event_field(index: int, field: str) -> dict[str, Any]:
    """``body.events.N.field``; a field inside the attributes is ``attributes`` and a JSON pointer
    (``attributes/sku``), its ``loc`` the pointer's tokens."""
    name, _, pointer = field.partition("/")
    tokens = [t.replace("~1", "/").replace("~0", "~") for t in pointer.split("/")] if pointer else []
    return {"loc": ("body", "events", index, name, *tokens), "field": f"body.events.{index}.{field}"}


def invalid_cursor() -> ValidationFailed:
    """The 400 for a cursor this API did not issue (or one altered since)."""
    return ValidationFailed("The cursor is not valid.", errors=[field_error(("query", "cursor"), "invalid", "cursor")])


#: One problem of one event of a POST: (index, field, message, type).
EventProblem = tuple[int, str, str, str]


def reject(field: str, message: str, kind: str) -> NoReturn:
    """Raise a 400 naming one field (``query.start``, ``path.email``, ...)."""
    raise ValidationFailed(
        f"Invalid request: {field}: {message}.", errors=[field_error(tuple(field.split(".")), message, kind)]
    )


class InvalidEvents(ValidationFailed):
    """Events of one ``POST /{account_id}/events/members`` that name members or types the account does not have
    (or that disagree), or whose attributes fail their type's schema; each problem is (index, field, message,
    type), reported as ``body.events.N.field``."""

    def __init__(self, problems: list[EventProblem], total: int) -> None:
        indexes = sorted({index for index, *_ in problems})
        super().__init__(
            f"{len(indexes)} of {total} events are invalid (indexes {', '.join(map(str, indexes))}); "
            "nothing was written.",
            errors=[
                field_error(message=message, kind=kind, **_event_field(index, field))
                for index, field, message, kind in problems
            ],
        )


class Forbidden(ApiError):
    """The credentials belong to another account than the path names (the same document as API Gateway's 403)."""

    status = 403
    title = "Forbidden"
    slug = "forbidden"


class NotFound(ApiError):
    status = 404
    title = "Not Found"
    slug = "not-found"


class EventTypeExists(ApiError):
    """Emma answers a duplicate ``event_type`` with 400, and so do we."""

    status = 400
    title = "Event type already exists"
    slug = "event-type-exists"

    def __init__(self, detail: str) -> None:
        super().__init__(detail, errors=[field_error(("body", "event_type"), "is taken", "event_type_exists")])


class FieldExists(ApiError):
    """Emma answers a field whose ``shortcut_name`` the account has with 400, and so do we."""

    status = 400
    title = "Field already exists"
    slug = "field-exists"

    def __init__(self, detail: str) -> None:
        super().__init__(detail, errors=[field_error(("body", "shortcut_name"), "is taken", "field_exists")])


class UnsupportedMediaType(ApiError):
    status = 415
    title = "Unsupported Media Type"
    slug = "unsupported-media-type"


class PayloadTooLarge(ApiError):
    status = 413
    title = "Payload Too Large"
    slug = "payload-too-large"


class SearchTooLarge(ApiError):
    """A search whose run would read more than even a run outside the request may (docs/api.md, "Searches")."""

    status = 422
    title = "Search too large"
    slug = "search-too-large"


class ServiceUnavailable(ApiError):
    """DynamoDB throttled us beyond the SDK's retries; the client should retry later."""

    status = 503
    title = "Service Unavailable"
    slug = "service-unavailable"
    retry_after_seconds = 1


class SearchRunning(ServiceUnavailable):
    """A large search whose run outside the request is on its way: ask again after ``Retry-After`` seconds."""

    title = "Search running"
    slug = "search-running"
    retry_after_seconds = 10


class IdempotencyKeyReused(ApiError):
    """The ``Idempotency-Key`` was already used, within 24 hours, for a request with another body."""

    status = 422
    title = "Idempotency key reused"
    slug = "idempotency-key-reused"

    def __init__(self, detail: str) -> None:
        field = ("header", "Idempotency-Key")
        super().__init__(detail, errors=[field_error(field, "was used for another body", "idempotency_key_reused")])

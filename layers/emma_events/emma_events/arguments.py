"""The arguments API functions declare: path, query and header types (``endpoint.py`` binds them to a request
with pydantic), and what handlers make of them: an email to look a member up by, an idempotency fingerprint."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Annotated, Any, Literal
from urllib.parse import unquote

from pydantic import BeforeValidator, Field

from emma_events.dates import parse_time
from emma_events.domain import Idempotency
from emma_events.endpoint import InHeader, InPath, InQuery, Request
from emma_events.errors import reject
from emma_events.keys import MAX_ID


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
SearchId = Annotated[int, InPath, Field(gt=0, le=MAX_ID, description="The saved search's id."), PlainId]
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

"""Pydantic models: what clients send (``*Request``) and what they get back (``*Response``).

The domain objects the repository returns are plain dataclasses in ``domain.py``; stored items (with their
keys) never leave ``repository.py``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PlainSerializer, StringConstraints, WithJsonSchema

from emma_events.dates import EMMA_DATE_PATTERN, to_emma
from emma_events.domain import EventType

#: Ids are positive integers that stay exact in JavaScript (``Number.MAX_SAFE_INTEGER``).
MAX_ID = 2**53 - 1
#: Documented limits (README, "Limits").
EVENT_TYPE_MAX_LENGTH = 100
DISPLAY_NAME_MAX_LENGTH = 255


def _printable(value: str) -> str:
    """Reject control characters (NUL included) and lone surrogates, which DynamoDB cannot store as UTF-8."""
    for char in value:
        code = ord(char)
        if code < 0x20 or code == 0x7F or 0xD800 <= code <= 0xDFFF:
            raise ValueError(f"must not contain the control or surrogate character U+{code:04X}")
    return value


EventTypeName = Annotated[
    str,
    StringConstraints(strict=True, strip_whitespace=True, min_length=1, max_length=EVENT_TYPE_MAX_LENGTH),
    AfterValidator(_printable),
    Field(description="The account-unique name of the type, e.g. `purchase`.", examples=["purchase"]),
]
DisplayName = Annotated[
    str,
    StringConstraints(strict=True, strip_whitespace=True, min_length=1, max_length=DISPLAY_NAME_MAX_LENGTH),
    AfterValidator(_printable),
    Field(description="A human-readable name.", examples=["Purchase"]),
]

#: A datetime serialized the way Emma does it: ``"@D:2026-11-26T12:00:00"`` (UTC).
EmmaDate = Annotated[
    datetime,
    PlainSerializer(to_emma, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "pattern": EMMA_DATE_PATTERN, "examples": ["@D:2026-11-26T12:00:00"]}),
]


class EventTypeRequest(BaseModel):
    """Body of ``POST /{account_id}/events`` and ``PUT /{account_id}/events/{event_type_id}``."""

    # Unknown fields are ignored, as Emma does, so existing clients that send extra fields keep working.
    model_config = ConfigDict(extra="ignore")

    event_type: EventTypeName
    display_name: DisplayName


class EventTypeResponse(BaseModel):
    account_id: int
    event_type_id: int
    event_type: str
    display_name: str
    created_at: EmmaDate

    @classmethod
    def of(cls, event_type: EventType) -> EventTypeResponse:
        return cls(
            account_id=event_type.account_id,
            event_type_id=event_type.event_type_id,
            event_type=event_type.event_type,
            display_name=event_type.display_name,
            created_at=event_type.created_at,
        )

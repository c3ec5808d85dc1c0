"""Member events' models: the events of ``POST /{account_id}/events/members`` and the events answered."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Self

from pydantic import ConfigDict, Field, PlainSerializer, ValidationError, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from emma_events import sums
from emma_events.domain import NewMemberEvent
from emma_events.models import (
    MAX_EVENTS_PER_POST,
    Attributes,
    EmmaDate,
    EventTimestamp,
    EventTypeName,
    LookupEmail,
    MonetaryValue,
    RequestId,
    RequestModel,
    ResponseModel,
)


class MemberEventRequest(RequestModel):
    """One event: its member by `member_id` or `email`, its type by `event_type_id` or `event_type` (when both
    are given they must agree); the rest is optional."""

    model_config = ConfigDict(  # the either-or rule in words and examples: _names_member_and_type enforces it
        json_schema_extra={
            "examples": [
                {"member_id": 1, "event_type": "purchase", "event_monetary_value": 19.99, "attributes": {"sku": "A-1"}},
                {"email": "ada@example.com", "event_type_id": 2, "event_timestamp": "2026-11-20T09:30:00Z"},
            ]
        },
    )

    member_id: RequestId | None = None
    email: LookupEmail | None = None
    event_type_id: RequestId | None = None
    event_type: EventTypeName | None = None
    attributes: Attributes | None = None
    event_monetary_value: MonetaryValue | None = None
    mailing_id: RequestId | None = None
    event_timestamp: EventTimestamp | None = None

    @model_validator(mode="after")
    def _names_member_and_type(self) -> Self:
        """Each event names its member and its type (whether they exist, and agree, is ``event_batch``'s to say)."""
        missing = [
            InitErrorDetails(
                type=PydanticCustomError("missing", f"{field} or {other} is required"), loc=(field,), input=None
            )
            for field, other, given in (
                ("member_id", "email", self.member_id is not None or self.email is not None),
                ("event_type_id", "event_type", self.event_type_id is not None or self.event_type is not None),
            )
            if not given
        ]
        if missing:  # raised as a ValidationError so that each names its field: body.events.N.member_id
            raise ValidationError.from_exception_data(type(self).__name__, missing)
        return self

    def to_domain(self) -> NewMemberEvent:
        return NewMemberEvent(**{name: getattr(self, name) for name in NewMemberEvent._fields})


class CreateMemberEventsRequest(RequestModel):
    events: list[MemberEventRequest] = Field(min_length=1, max_length=MAX_EVENTS_PER_POST)


class MemberEventResponse(ResponseModel):
    event_id: int
    account_id: int
    member_id: int
    event_type_id: int
    event_timestamp: EmmaDate
    inserted_at: EmmaDate
    event_monetary_value: int | float | None
    mailing_id: int | None
    attributes: dict[str, Any] | None


#: An exact sum of values as decimal text (sums.py): a JSON number would be read as a double and lose digits.
ExactValue = Annotated[
    Decimal,
    PlainSerializer(sums.text, return_type=str),
    Field(
        description="The exact sum of the events' `event_monetary_value`s (0 when none has one), as decimal text: a "
        "JSON number would be read as a double by most clients and lose digits.",
        examples=["39.98"],
        json_schema_extra={"pattern": r"^-?\d+(\.\d+)?$"},
    ),
]


class MemberTypeStatsResponse(ResponseModel):
    """A member's events of one type: how many, the sum of their `event_monetary_value`s, the first and the last."""

    event_type_id: int
    count: int
    value: ExactValue
    first: EmmaDate
    last: EmmaDate


class TypeStatsBucketResponse(ResponseModel):
    """A type's events in one bucket: from `start` (UTC) to the next bucket's start."""

    start: EmmaDate
    count: int
    value: ExactValue

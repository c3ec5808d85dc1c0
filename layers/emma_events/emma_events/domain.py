"""Domain objects: what the repository returns, independent of HTTP and of DynamoDB's item layout."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class EventType:
    account_id: int
    event_type_id: int
    event_type: str
    display_name: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Member:
    account_id: int
    member_id: int
    email: str
    fields: dict[str, Any]
    status: str
    member_since: datetime


@dataclass(frozen=True, slots=True)
class NewMemberEvent:
    """One event of a POST, validated; the member and type may still be named by email and name."""

    member_id: int | None
    email: str | None
    event_type_id: int | None
    event_type: str | None
    event_timestamp: datetime | None
    event_monetary_value: int | float | None
    mailing_id: int | None
    attributes: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class MemberEvent:
    account_id: int
    event_id: int
    member_id: int
    event_type_id: int
    event_timestamp: datetime
    inserted_at: datetime
    event_monetary_value: int | float | None
    mailing_id: int | None
    attributes: dict[str, Any] | None

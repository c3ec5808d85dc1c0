"""Domain objects: what the repository returns, independent of HTTP and of DynamoDB's item layout."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class EventType:
    account_id: int
    event_type_id: int
    event_type: str
    display_name: str
    created_at: datetime

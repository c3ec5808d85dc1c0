"""Domain objects: what the stores return, independent of HTTP and of DynamoDB's item layout.

Immutable named tuples: a class of them costs a fifth of a frozen dataclass's to create, and every function
imports these at its cold start (docs/performance.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, NamedTuple


class EventType(NamedTuple):
    account_id: int
    event_type_id: int
    event_type: str
    display_name: str
    created_at: datetime
    attributes_schema: dict[str, Any] | None = None
    #: Goes up by one at each change of the schema (0: never had one); a POST's transaction checks it.
    schema_version: int = 0

    @property
    def attributes_schema_version(self) -> int | None:
        """The version answered to clients: only with a schema in force."""
        return None if self.attributes_schema is None else self.schema_version


class Member(NamedTuple):
    account_id: int
    member_id: int
    email: str
    fields: dict[str, Any]
    status: str
    member_since: datetime


class MemberField(NamedTuple):
    """One of an account's member fields (Emma's ``/fields``): what a member's ``fields`` are keyed by."""

    account_id: int
    field_id: int
    shortcut_name: str
    display_name: str
    field_type: str
    widget_type: str
    column_order: int


class NewMemberEvent(NamedTuple):
    """One event of a POST, validated; the member and type may still be named by email and name."""

    member_id: int | None
    email: str | None
    event_type_id: int | None
    event_type: str | None
    event_timestamp: datetime | None
    event_monetary_value: int | float | None
    mailing_id: int | None
    attributes: dict[str, Any] | None

    def recorded(
        self, account_id: int, event_id: int, member_id: int, event_type_id: int, now: datetime
    ) -> MemberEvent:
        """The event as recorded: its ids, its time (now, if it gave none) and its details as given."""
        details = {name: getattr(self, name) for name in DETAILS}
        return MemberEvent(account_id, event_id, member_id, event_type_id, self.event_timestamp or now, now, **details)


#: What an event carries beside its ids and times, as given, optional: listed once, here.
DETAILS = ("event_monetary_value", "mailing_id", "attributes")


class MemberEvent(NamedTuple):
    account_id: int
    event_id: int
    member_id: int
    event_type_id: int
    event_timestamp: datetime
    inserted_at: datetime
    event_monetary_value: int | float | None
    mailing_id: int | None
    attributes: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class TypeStats:
    """A member's events of one type: how many, the sum of their values (exact), the first and the last."""

    event_type_id: int
    count: int
    value: Decimal
    first: datetime
    last: datetime


class Parent(NamedTuple):
    """An event type or a member whose events the cascade deletes."""

    kind: str  # "event_type" | "member"
    account_id: int
    parent_id: int


class CascadeState(NamedTuple):
    """Where one range of a cascade stands: carried by the range's cursor item from one step (invocation) to the
    next."""

    parent: Parent
    position: dict[str, Any] | None  # the range's next ExclusiveStartKey; None: the start of a pass
    deleted: int  # events of the range deleted so far, all passes
    pass_deleted: int  # keys of the range deleted in the current pass
    steps: int  # steps taken: a checkpoint is written only over the one its step started from
    #: Epoch seconds before which a pass that finds nothing does not end the range: the cascade's start plus the
    #: bound on the index's lag (0: no wait).
    settled_at: float = 0.0
    #: Epoch seconds at which the current pass started (0: unknown, the pass is not a final one).
    pass_started_at: float = 0.0
    #: The range (``CascadeStore.ranges``); None: the one cursor of a release before, which restarts the cascade.
    part: str | None = None
    #: The range's chain of steps: a token of its own for each cursor ``begin`` or ``wake`` writes, kept by its
    #: checkpoints; a record of another chain writes and marks nothing.
    chain: str = ""


class Idempotency(NamedTuple):
    """A client's ``Idempotency-Key`` and the fingerprint of the request body it was sent with."""

    key: str
    request_hash: str


#: How long an idempotency record answers retries.
IDEMPOTENCY_TTL_SECONDS = 24 * 3600


class EventFilter(NamedTuple):
    """Which of a member's events a listing returns, and in which order."""

    event_type_id: int | None = None
    since: datetime | None = None
    until: datetime | None = None
    descending: bool = False


class EventPage(NamedTuple):
    """A page of a member's events, and where the next page starts (None: nothing follows). Positions are the
    store's own and opaque above it: a cursor carries ``next_after`` back to it unread."""

    events: list[MemberEvent]
    next_after: str | None
    #: Each event's own position, so that the page can be cut short (``cut``).
    positions: tuple[str, ...] = ()

    def cut(self, size: int) -> EventPage:
        """The first ``size`` events, the next page starting after the last of them."""
        if size >= len(self.events):
            return self
        return EventPage(self.events[:size], self.positions[size - 1], self.positions[:size])


@dataclass(frozen=True, slots=True)
class Search:
    """A saved search: its criteria as JSON text, and what its last run found (``last_run_at`` None: never run)."""

    account_id: int
    search_id: int
    name: str
    criteria: str
    active_count: int = 0
    optout_count: int = 0
    error_count: int = 0
    last_run_at: datetime | None = None
    deleted_at: datetime | None = None
    runs_outside: bool = False

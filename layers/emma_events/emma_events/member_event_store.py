"""Member events: record a batch all or nothing (exactly once with an ``Idempotency-Key``), with the members'
counts (counts.py); the reads of a member's events are ``member_timeline``'s.

Each method documents the DynamoDB calls it makes. Which event of a batch is wrong is decided by ``event_batch``;
the idempotency records are ``idempotency_store``'s.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime

from emma_events import counts, event_batch, keys, layout
from emma_events.dates import utc_now
from emma_events.deadline import DynamoDBClient
from emma_events.domain import Idempotency, MemberEvent, NewMemberEvent
from emma_events.dynamo_errors import translate_errors
from emma_events.idempotency_store import IdempotencyRecords
from emma_events.member_timeline import MemberTimeline
from emma_events.transactions import AGAIN, Again, Cancelled, Part

#: The version and schema (its text, or None) of each type, by id.
Known = dict[int, tuple[int, str | None]]


def _types(resolved: list[tuple[int, int]]) -> list[int]:
    return sorted({type_id for _, type_id in resolved})


@dataclass
class _Batch:
    """A POST's events on their way to the table: what the rounds of its transaction share."""

    account_id: int
    events: list[NewMemberEvent]
    idempotency: Idempotency | None
    resolved: list[tuple[int, int]] = field(default_factory=list)  # (member id, type id) of each event
    first_id: int = 0  # the first of the batch's event ids (0: none taken yet)
    now: datetime = datetime.min

    def recorded(self) -> list[MemberEvent]:
        return [
            new.recorded(self.account_id, self.first_id + index, member_id, type_id, self.now)
            for index, (new, (member_id, type_id)) in enumerate(zip(self.events, self.resolved, strict=True))
        ]


class MemberEventStore(MemberTimeline):
    """Members' events (items ``EV#<timestamp>#<id>`` of the member's partition, indexed by type in ``ByType`` and
    by member and type in ``ByMemberType``) and their counts (items ``C#…`` there too)."""

    def __init__(self, table_name: str, client: DynamoDBClient | None = None) -> None:
        super().__init__(table_name, client)
        self.records = IdempotencyRecords(table_name, self.client)
        self.schemas = event_batch.KnownSchemas()

    @translate_errors
    def create_member_events(
        self, account_id: int, events: list[NewMemberEvent], idempotency: Idempotency | None = None
    ) -> tuple[list[MemberEvent], bool]:
        """Record up to 10 events, all or none; and whether this call recorded them (False: a retry answered from
        its idempotency record).

        By ids: 1 x TransactWriteItems (+ 1 x UpdateItem per 1,000 event ids). By email or type name: + 1 x
        BatchGetItem (the email and name guards: a name is read each time, as a name freed by a delete may be
        taken by a new type at once) first. A type
        whose schema this container has not read in the last second (``KnownSchemas``): + 1 x BatchGetItem of the
        types, before each event's attributes are checked against its type's schema. The transaction holds a
        ``ConditionCheck`` that each member still exists, so an event is never stored for a member deleted at the
        same moment; no item of the type (every POST of the type would share it: a type's delete or schema change
        answers only once no container trusts what it read before, and the cascade's last pass comes after
        any POST that read the type before its delete). With an
        ``Idempotency-Key``, a ``Put`` of the idempotency record: a retry fails that condition and is answered
        from the record as the failed condition returns it. And an ``Update`` adding to each count item of the
        events' members (hour, day and month; of the type and of all types): at most 6 per event, and to each
        member's totals of each type: at most 92 items in all.
        """
        batch = _Batch(account_id, events, idempotency)

        def attempt() -> tuple[list[Part], tuple[list[MemberEvent], bool]]:
            replay = self._resolve(batch)
            if replay is not None:
                return [], (replay, False)
            if not batch.first_id:  # one range of ids, kept across rounds: a cancelled transaction wrote none
                batch.first_id = self.next_id(account_id, keys.EVENT_SEQUENCE, len(events)) - len(events) + 1
            batch.now = utc_now()
            created = batch.recorded()
            return self._parts(batch, created), (created, True)

        def cancelled(
            error: Cancelled, answer: tuple[list[MemberEvent], bool]
        ) -> tuple[list[MemberEvent], bool] | Again:
            # A member that is gone answers as a fresh request would, also for a retry whose record exists: a
            # replay never hands back the events of a member deleted since (erased is erased).
            gone = {outcome.part.ident for outcome in error.failed("member")}
            if gone:
                raise event_batch.gone(account_id, events, batch.resolved, gone, set())
            if idempotency and (records := error.failed("record")):  # a retry: answered from the record found
                replay = self.records.replayed(records[0].item, idempotency, batch.now)
                return AGAIN if replay is None else (replay, False)  # None: it expired in between: write anew
            if error.failed("event"):
                return answer  # its ids are this request's own: an earlier attempt of it was written
            return AGAIN

        return self.write(attempt, cancelled, "events")

    def _resolve(self, batch: _Batch) -> list[MemberEvent] | None:
        """Name each event's member and type by id (the guards of emails and names read, with the types this
        container does not know), and check their attributes; a retry's recorded events when it was recorded
        before its type's schema changed."""
        wanted, check_ids = event_batch.lookups(batch.account_id, batch.events)
        read_at = time.monotonic()
        found = self._batch_get(wanted)
        fresh = self.schemas.learn(found.values(), read_at)
        batch.resolved = event_batch.resolve(batch.account_id, batch.events, found, check_ids)
        return self._check_schemas(batch.account_id, batch.events, batch.resolved, fresh, batch.idempotency)

    def _parts(self, batch: _Batch, created: list[MemberEvent]) -> list[Part]:
        """The batch's transaction: each member's existence checked, each event put, the members' counts added to,
        and the idempotency record put (with its legacy key's check)."""
        account_id = batch.account_id
        members = sorted({event.member_id for event in created})
        parts = [Part("member", self._exists_check(layout.member_key(account_id, m)), m) for m in members]
        items = [layout.event_item(event) for event in created]  # each written twice with a key: made once
        parts += [Part("event", {"Put": self._put(item)}) for item in items]
        parts += [
            Part("count", {"Update": counts.update(self.table_name, k, a)})
            for k, a in counts.increments(created).items()
        ]
        if batch.idempotency:
            record = self.records.put(account_id, batch.idempotency, items, batch.now)
            legacy = self.records.legacy_check(account_id, batch.idempotency, batch.now)
            parts += [Part("record", {"Put": record}), Part("record", {"ConditionCheck": legacy})]
        return parts

    def _check_schemas(
        self,
        account_id: int,
        events: list[NewMemberEvent],
        resolved: list[tuple[int, int]],
        fresh: Known,
        idempotency: Idempotency | None,
    ) -> list[MemberEvent] | None:
        """Check each event's attributes against its type's schema: ``InvalidEvents`` names every failure. Types
        this container has not read in the last second are read first; a rejection by a schema known from an
        earlier request (not one of the ``fresh`` types just read) is confirmed on a fresh read (+1 x BatchGetItem).
        For a retry of a batch recorded before its type's schema changed, the recorded events (never turned into an
        error)."""
        type_ids = _types(resolved)
        known = self._known(account_id, events, resolved, type_ids, fresh)
        fault = event_batch.schema_faults(events, resolved, known)
        stale = set(type_ids) - set(fresh)
        if fault is not None and stale:
            known = self._known(account_id, events, resolved, type_ids, fresh, again=stale)
            fault = event_batch.schema_faults(events, resolved, known)
        if fault is None:
            return None
        replay = self.records.replay(account_id, idempotency, utc_now()) if idempotency else None
        if replay is None:
            raise fault
        return replay

    def _known(
        self,
        account_id: int,
        events: list[NewMemberEvent],
        resolved: list[tuple[int, int]],
        type_ids: list[int],
        fresh: Known,
        again: set[int] | frozenset[int] = frozenset(),
    ) -> Known:
        """The version and schema of each type: those just read (``fresh``), else those this container read in the
        last second, else (and those read ``again``) read now, which then count as fresh for this request, however
        long the read took (``fresh`` is updated)."""
        known = self.schemas.snapshot(account_id, [t for t in type_ids if t not in again]) | fresh
        missing = [t for t in type_ids if t not in known]
        fresh |= self._read_types(account_id, events, resolved, missing)
        return known | fresh

    def _read_types(
        self, account_id: int, events: list[NewMemberEvent], resolved: list[tuple[int, int]], type_ids: list[int]
    ) -> Known:
        """Learn the schemas of types not known yet (and return them): 1 x BatchGetItem, with the batch's members,
        so that one 400 names every member and type that does not exist (no read for no type)."""
        if not type_ids:
            return {}
        member_keys = {m: layout.member_key(account_id, m) for m, _ in resolved}
        type_keys = [layout.type_key(account_id, t) for t in type_ids]
        read_at = time.monotonic()
        found = self._batch_get([*member_keys.values(), *type_keys])
        learned = self.schemas.learn(found.values(), read_at)
        missing_types = set(type_ids) - set(learned)
        missing_members = {m for m, key in member_keys.items() if (key[keys.PK]["S"], key[keys.SK]["S"]) not in found}
        if missing_types or missing_members:
            raise event_batch.gone(account_id, events, resolved, missing_members, missing_types)
        return learned

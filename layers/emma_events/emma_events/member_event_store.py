"""Member events: record a batch all or nothing (exactly once with an ``Idempotency-Key``), with the members'
counts (counts.py); the reads of a member's events are ``member_timeline``'s.

Each method documents the DynamoDB calls it makes. Which event of a batch is wrong is decided by ``event_batch``;
the idempotency records are ``idempotency_store``'s.
"""

from __future__ import annotations

import time
from typing import Any, NamedTuple

from botocore.exceptions import ClientError

from emma_events import counts, event_batch, keys, layout
from emma_events.dates import utc_now
from emma_events.domain import Idempotency, MemberEvent, NewMemberEvent
from emma_events.dynamo import TRANSACTION_TRIES, DynamoDBClient, translate_errors
from emma_events.errors import ServiceUnavailable
from emma_events.idempotency_store import IdempotencyRecords
from emma_events.member_timeline import MemberTimeline

#: The version and schema (its text, or None) of each type, by id.
Known = dict[int, tuple[int, str | None]]


def _types(resolved: list[tuple[int, int]]) -> list[int]:
    return sorted({type_id for _, type_id in resolved})


class Part(NamedTuple):
    """One item of a batch's transaction, and what it is about: its cancellation reason is read by it."""

    kind: str  # "member" (a ConditionCheck that it exists), "event" (a Put), "count" (an Update), "record"
    ident: int  # the member or event id (0 for the others)
    item: dict[str, Any]


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
        from the record (+1 x GetItem). And an ``Update`` adding to each count item of the events' members
        (hour, day and month; of the type and of all types): at most 6 per event, so at most 82 items in all.
        """
        first = 0
        for attempt in range(TRANSACTION_TRIES):
            wanted, check_ids = event_batch.lookups(account_id, events)
            read_at = time.monotonic()
            found = self._batch_get(wanted)
            fresh = self.schemas.learn(found.values(), read_at)
            resolved = event_batch.resolve(account_id, events, found, check_ids)
            replay = self._check_schemas(account_id, events, resolved, fresh, idempotency)
            if replay is not None:
                return replay, False
            if not first:  # one range of ids, kept across retries: a cancelled transaction wrote none of them
                first = self.next_id(account_id, keys.EVENT_SEQUENCE, len(events)) - len(events) + 1
            now = utc_now()
            created = [
                MemberEvent(
                    account_id=account_id,
                    event_id=first + index,
                    member_id=member_id,
                    event_type_id=event_type_id,
                    event_timestamp=new.event_timestamp or now,
                    inserted_at=now,
                    event_monetary_value=new.event_monetary_value,
                    mailing_id=new.mailing_id,
                    attributes=new.attributes,
                )
                for index, (new, (member_id, event_type_id)) in enumerate(zip(events, resolved, strict=True))
            ]
            member_ids = sorted({m for m, _ in resolved})
            parts = [Part("member", m, self._exists_check(layout.member_key(account_id, m))) for m in member_ids]
            items = [layout.event_item(e) for e in created]  # each written twice with a key: made once
            parts += [Part("event", e.event_id, {"Put": self._put(i)}) for e, i in zip(created, items, strict=True)]
            added = counts.increments(created).items()
            parts += [Part("count", 0, {"Update": counts.update(self.table_name, k, a)}) for k, a in added]
            if idempotency:
                parts.append(Part("record", 0, {"Put": self.records.put(account_id, idempotency, items, now)}))
                parts.append(
                    Part("record", 0, {"ConditionCheck": self.records.legacy_check(account_id, idempotency, now)})
                )
            try:
                self.client.transact_write_items(TransactItems=[part.item for part in parts])
                return created, True
            except ClientError as error:
                codes = self._cancelled(error, len(parts))
                failed = [part for part, code in zip(parts, codes, strict=True) if code == "ConditionalCheckFailed"]
                failure = error
            # A member that is gone answers as a fresh request would, also for a retry whose record exists: a
            # replay never hands back the events of a member deleted since (erased is erased).
            failed_members = {part.ident for part in failed if part.kind == "member"}
            if failed_members:
                raise event_batch.gone(account_id, events, resolved, failed_members, set())
            if idempotency and any(part.kind == "record" for part in failed):
                replay = self.records.replay(account_id, idempotency, now)
                if replay is not None:
                    return replay, False
                continue  # the record expired between the two calls: write anew
            if any(part.kind == "event" for part in failed) and self._exists(layout.event_key(created[0])):
                return created, True  # the ids are this request's own: an earlier attempt of it was written
            self._backoff(attempt, failure)
        raise ServiceUnavailable("The events conflicted with concurrent changes; retry the request.")

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

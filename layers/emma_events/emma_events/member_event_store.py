"""Member events: record a batch all or nothing (exactly once with an ``Idempotency-Key``), page and count a
member's events.

Each method documents the DynamoDB calls it makes. Which event of a batch is wrong is decided by ``event_batch``;
the idempotency records are ``idempotency_store``'s.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from botocore.exceptions import ClientError

from emma_events import event_batch, keys, layout
from emma_events.dates import to_storage, utc_now
from emma_events.domain import EventFilter, EventPage, Idempotency, MemberEvent, NewMemberEvent
from emma_events.dynamo import (
    QUERY_PAGE_ITEMS,
    TRANSACTION_TRIES,
    DynamoDBClient,
    Item,
    Table,
    attr_n,
    attr_s,
    translate_errors,
)
from emma_events.errors import NotFound, ServiceUnavailable, invalid_cursor
from emma_events.idempotency_store import IdempotencyRecords

#: How many Queries one cursor page may make while a type filter finds too few events (each reads at most 1 MB).
QUERY_PAGES_PER_CALL = 8


def _types(resolved: list[tuple[int, int]]) -> list[int]:
    return sorted({type_id for _, type_id in resolved})


class Part(NamedTuple):
    """One item of a batch's transaction, and what it is about: its cancellation reason is read by it."""

    kind: str  # "member" or "type" (a ConditionCheck that it exists), "event" (a Put), "record" (idempotency)
    ident: int  # the member, type or event id (0 for the record)
    item: dict[str, Any]


class MemberEventStore(Table):
    """Members' events (items ``EV#<timestamp>#<id>`` of the member's partition, indexed by type in ``ByType``)."""

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

        By ids: 1 x UpdateItem (event ids) + 1 x TransactWriteItems. By email or type name: + 1 x BatchGetItem
        (the email and name guards) first. A type this container has not read yet (``KnownSchemas``): + 1 x
        BatchGetItem of the types, before each event's attributes are checked against its type's schema. The
        transaction holds a ``ConditionCheck`` that each member and type still exists, each type at the schema
        version validated against, so an event is never stored for a member or type deleted at the same moment,
        nor against a schema changed since (the type is read again and the batch validated anew); and, with an
        ``Idempotency-Key``, a ``Put`` of the idempotency record: a retry fails that condition and is answered
        from the record (+1 x GetItem).
        """
        first = 0
        for attempt in range(TRANSACTION_TRIES):
            wanted, check_ids = event_batch.lookups(account_id, events)
            found = self._batch_get(wanted)
            resolved = event_batch.resolve(account_id, events, found, check_ids)
            versions, replay = self._check_schemas(account_id, events, resolved, found, idempotency)
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
            parts += [Part("type", t, self._type_check(account_id, t, versions[t])) for t in _types(resolved)]
            items = [layout.event_item(e) for e in created]  # each written twice with a key: made once
            parts += [Part("event", e.event_id, {"Put": self._put(i)}) for e, i in zip(created, items, strict=True)]
            if idempotency:
                parts.append(Part("record", 0, {"Put": self.records.put(account_id, idempotency, items, now)}))
            try:
                self.client.transact_write_items(TransactItems=[part.item for part in parts])
                return created, True
            except ClientError as error:
                codes = self._cancelled(error, len(parts))
                failed = [part for part, code in zip(parts, codes, strict=True) if code == "ConditionalCheckFailed"]
                failure = error
            # A member or type that is gone answers as a fresh request would, also for a retry whose record
            # exists: a replay never hands back the events of a member or type deleted since (erased is erased).
            failed_members = {part.ident for part in failed if part.kind == "member"}
            failed_types = {part.ident for part in failed if part.kind == "type"}
            self.schemas.forget(account_id, failed_types)  # gone, or at another schema version: read again
            if failed_members:
                raise event_batch.gone(account_id, events, resolved, failed_members, failed_types)
            if failed_types:
                continue
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
        found: dict[tuple[str, str], Item],
        idempotency: Idempotency | None,
    ) -> tuple[dict[int, int], list[MemberEvent] | None]:
        """Check each event's attributes against its type's schema: ``InvalidEvents`` names every failure. Types
        this container has not read yet are read first; a rejection by a schema known from an earlier request
        is confirmed on a fresh read (+1 x BatchGetItem). The version of each type validated against (for the
        transaction's checks), and, for a retry of a batch recorded before its type's schema changed, the
        recorded events (never turned into an error)."""
        type_ids = _types(resolved)
        fresh = self.schemas.learn(found.values())
        known, read = self._known(account_id, events, resolved, type_ids)
        fault = event_batch.schema_faults(events, resolved, known)
        stale = set(type_ids) - fresh - read
        if fault is not None and stale:
            self.schemas.forget(account_id, stale)
            known, _ = self._known(account_id, events, resolved, type_ids)
            fault = event_batch.schema_faults(events, resolved, known)
        versions = {t: version for t, (version, _) in known.items()}
        if fault is None:
            return versions, None
        replay = self.records.replay(account_id, idempotency, utc_now()) if idempotency else None
        if replay is None:
            raise fault
        return versions, replay

    def _known(
        self, account_id: int, events: list[NewMemberEvent], resolved: list[tuple[int, int]], type_ids: list[int]
    ) -> tuple[dict[int, tuple[int, str | None]], set[int]]:
        """The version and schema of each type, read first if this container does not know it (or a concurrent
        invocation forgot it meanwhile: read again); and the types read."""
        read: set[int] = set()
        for _ in range(TRANSACTION_TRIES):
            known = self.schemas.snapshot(account_id, type_ids)
            missing = [t for t in type_ids if t not in known]
            if not missing:
                return known, read
            read |= self._read_types(account_id, events, resolved, missing)
        raise ServiceUnavailable("The event types changed while the events were checked; retry the request.")

    def _read_types(
        self, account_id: int, events: list[NewMemberEvent], resolved: list[tuple[int, int]], type_ids: list[int]
    ) -> set[int]:
        """Learn the schemas of types not known yet (and return their ids): 1 x BatchGetItem, with the batch's
        members, so that one 400 names every member and type that does not exist (no read for no type)."""
        if not type_ids:
            return set()
        member_keys = {m: layout.member_key(account_id, m) for m, _ in resolved}
        type_keys = [layout.type_key(account_id, t) for t in type_ids]
        found = self._batch_get([*member_keys.values(), *type_keys])
        learned = self.schemas.learn(found.values())
        missing_types = set(self.schemas.unknown(account_id, type_ids))
        missing_members = {m for m, key in member_keys.items() if (key[keys.PK]["S"], key[keys.SK]["S"]) not in found}
        if missing_types or missing_members:
            raise event_batch.gone(account_id, events, resolved, missing_members, missing_types)
        return learned

    def _type_check(self, account_id: int, type_id: int, version: int) -> dict[str, Any]:
        expression, values = event_batch.condition(version)
        check = self._exists_check(layout.type_key(account_id, type_id))
        check["ConditionCheck"]["ConditionExpression"] = expression
        if values:
            check["ConditionCheck"]["ExpressionAttributeValues"] = values
        return check

    @translate_errors
    def member_events_page(
        self, account_id: int, member_id: int, filters: EventFilter, *, offset: int, limit: int, after: str | None
    ) -> EventPage:
        """A page of a member's events, sorted by timestamp then id.

        1 x BatchGetItem (the member exists, else ``NotFound``; the types being removed) + Query on the member's
        partition with the time range as key condition, from the start or, with ``after`` (a cursor), after that
        key: the cost of a page does not depend on its depth. Reads ``limit + 1`` matching events, so a page that
        ends exactly at the last event links to nothing (DynamoDB returns a ``LastEvaluatedKey`` whenever it stops
        at ``Limit``, even with nothing after it); Emma's ``start`` skips ``offset`` matching events first.
        ``Limit`` applies before the type filter, so reads go on until enough events match, at most
        ``QUERY_PAGES_PER_CALL`` Queries for a cursor page: then the page may be short (even empty) and links on
        from where the reads stopped, so a walk always reaches every matching event. Every ``Limit`` is at most
        ``QUERY_PAGE_ITEMS``.
        """
        removing = self._member_and_removals(account_id, member_id)
        if filters.event_type_id in removing:
            return EventPage([], None)
        query = self._events_query(account_id, member_id, filters, removing)
        if after is not None:
            values = query["ExpressionAttributeValues"]
            # Only a position inside the key condition's range: DynamoDB refuses any other ExclusiveStartKey.
            if not (keys.is_event_sk(after) and values[":low"]["S"] <= after <= values[":high"]["S"]):
                raise invalid_cursor()
            query["ExclusiveStartKey"] = {keys.PK: values[":pk"], keys.SK: attr_s(after)}
        to_skip, wanted = offset, limit + 1
        items: list[Item] = []
        reads = 0
        while True:
            query["Limit"] = min(QUERY_PAGE_ITEMS, to_skip + wanted - len(items))
            page = self.client.query(**query)
            reads += 1
            found = page["Items"]
            skipped = min(to_skip, len(found))
            to_skip -= skipped
            items += found[skipped:]
            resume = page.get("LastEvaluatedKey")
            if resume is None or len(items) >= wanted:
                break
            if after is not None and reads >= QUERY_PAGES_PER_CALL:
                # Enough reading for one call: the rest comes with the next page, from where this one stopped.
                events = [layout.event_of(item) for item in items]
                return EventPage(events, resume[keys.SK]["S"], tuple(map(layout.event_sort_key, events)))
            query["ExclusiveStartKey"] = resume
        events = [layout.event_of(item) for item in items[:limit]]
        positions = tuple(map(layout.event_sort_key, events))
        return EventPage(events, positions[-1] if len(items) > limit else None, positions)

    @translate_errors
    def count_member_events(self, account_id: int, member_id: int, filters: EventFilter) -> int:
        """1 x BatchGetItem (the member exists; the types being removed) + Query ``Select=COUNT`` (paginated)."""
        removing = self._member_and_removals(account_id, member_id)
        if filters.event_type_id in removing:
            return 0
        return self._count(self._events_query(account_id, member_id, filters, removing))

    def _events_query(
        self, account_id: int, member_id: int, filters: EventFilter, removing: list[int]
    ) -> dict[str, Any]:
        """The Query of a member's events in the time range, leaving out the types being removed: their events
        are still stored until the cascade deletes them, but a deleted type's events are gone for the client."""
        low = keys.EVENT_PREFIX + (to_storage(filters.since) if filters.since else "")
        high = keys.EVENT_PREFIX + (to_storage(filters.until) + "#~" if filters.until else "~")
        query: dict[str, Any] = {
            "TableName": self.table_name,
            "KeyConditionExpression": "PK = :pk AND SK BETWEEN :low AND :high",
            "ExpressionAttributeValues": {
                ":pk": attr_s(keys.member_pk(account_id, member_id)),
                ":low": attr_s(low),
                ":high": attr_s(high),
            },
            "ScanIndexForward": not filters.descending,
        }
        conditions = []
        if filters.event_type_id is not None:
            conditions.append("event_type_id = :type")
            query["ExpressionAttributeValues"][":type"] = attr_n(filters.event_type_id)
        elif removing:
            # One comparison per type being removed (the item is emptied as cascades end, so the list stays as
            # short as the deletes in flight); IN takes at most 100 operands, hence groups of 100.
            for group in range(0, len(removing), 100):
                names = [f":gone{index}" for index in range(group, min(group + 100, len(removing)))]
                conditions.append(f"NOT (event_type_id IN ({', '.join(names)}))")
                for name, type_id in zip(names, removing[group : group + 100], strict=True):
                    query["ExpressionAttributeValues"][name] = attr_n(type_id)
        if conditions:
            query["FilterExpression"] = " AND ".join(conditions)
        return query

    def _member_and_removals(self, account_id: int, member_id: int) -> list[int]:
        """The ids of the account's types being removed, checking the member exists (else ``NotFound``), in one
        round trip: 1 x BatchGetItem, strongly consistent."""
        member, removals = layout.member_key(account_id, member_id), layout.removals_key(account_id)
        found = self._batch_get([member, removals])
        if (member[keys.PK]["S"], member[keys.SK]["S"]) not in found:
            raise NotFound(f"Member {member_id} does not exist in account {account_id}.")
        item = found.get((removals[keys.PK]["S"], removals[keys.SK]["S"]), {})
        return sorted(int(n) for n in item.get("type_ids", {}).get("NS", []))

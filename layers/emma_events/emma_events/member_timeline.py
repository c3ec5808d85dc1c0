"""A member's timeline: a page of its events, and how many there are, each at a cost that does not depend on how
many events the member has (docs/data-model.md).

A page reads its events and little more: through the member's partition, or, filtered by type, through the
``ByMemberType`` index, whose key holds the type. A count adds up the member's count items (counts.py) and reads
only the events of the at most two hours the range covers in part.
"""

from __future__ import annotations

import time
from typing import Any

from emma_events import counts, keys, layout
from emma_events.dates import to_storage
from emma_events.domain import EventFilter, EventPage, TypeStats
from emma_events.dynamo import QUERY_PAGE_ITEMS, Item, Table, attr_n, attr_s
from emma_events.dynamo_errors import translate_errors
from emma_events.errors import NotFound, ServiceUnavailable, invalid_cursor
from emma_events.transactions import TRANSACTION_TRIES

#: How many Queries one cursor page may make while leaving out the events of types being removed finds too few
#: (each reads at most 1 MB).
QUERY_PAGES_PER_CALL = 8


class MemberTimeline(Table):
    """The reads of a member's events."""

    @translate_errors
    def member_events_page(
        self, account_id: int, member_id: int, filters: EventFilter, *, offset: int, limit: int, after: str | None
    ) -> EventPage:
        """A page of a member's events, sorted by timestamp then id.

        1 x BatchGetItem (the member exists, else ``NotFound``; the types being removed) + 1 x Query with the time
        range as key condition: of the member's partition, or of ``ByMemberType`` for one type. From the start
        or, with ``after`` (a cursor), after that key. Reads ``offset + limit + 1`` events, so a page that ends
        exactly at the last event links to nothing (DynamoDB returns a ``LastEvaluatedKey`` whenever it stops at
        ``Limit``, even with nothing after it). Only events of types being removed (a delete whose cascade runs)
        are read and left out: reads go on until enough events are kept, at most ``QUERY_PAGES_PER_CALL``
        Queries for a cursor page, which may then be short and link on from where the reads stopped.
        """
        removing, _ = self.member_and_removals(account_id, member_id)
        if filters.event_type_id in removing:
            return EventPage([], None)
        query = self._events_query(account_id, member_id, filters, removing)
        if after is not None:
            values = query["ExpressionAttributeValues"]
            # Only a position inside the key condition's range: DynamoDB refuses any other ExclusiveStartKey.
            if not (keys.is_event_sk(after) and values[":low"]["S"] <= after <= values[":high"]["S"]):
                raise invalid_cursor()
            start = {keys.PK: attr_s(keys.member_pk(account_id, member_id)), keys.SK: attr_s(after)}
            if filters.event_type_id is not None:
                start[keys.MEMBER_TYPE_INDEX_PK] = values[":pk"]
            query["ExclusiveStartKey"] = start
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
        """How many of the member's events the filters keep, exactly, strongly consistent.

        1 x BatchGetItem (the member, the types being removed, the member's ``SETTLED`` marker and the count
        items of the range's ends: at most six) + 1 x Query of the whole years' count items (when the range spans
        more than two years) + 1 x Query ``Select=COUNT`` of the events of each hour the range covers in part (at
        most two). While a type is being removed: its count items too (subtracted), then 1 x BatchGetItem that
        the removals and the marker have not changed meanwhile (a settlement moved counts: all is read again);
        the same when the reads took longer than a settlement may come after a removal.
        """
        for _ in range(TRANSACTION_TRIES):
            started = time.monotonic()
            total, seen = self._count_once(account_id, member_id, filters)
            if not seen[0] and time.monotonic() - started < counts.SETTLE_AFTER_S:
                return total
            if self._marks(account_id, member_id) == seen:
                return total
        raise ServiceUnavailable("The member's counts kept changing while they were read; retry the request.")

    @translate_errors
    def member_stats(self, account_id: int, member_id: int) -> list[TypeStats]:
        """The member's stats per event type (member_stats.py)."""
        from emma_events.member_stats import member_stats

        return member_stats(self, account_id, member_id)

    def _marks(self, account_id: int, member_id: int) -> tuple[tuple[int, ...], int]:
        """The types being removed and the member's settlement marker (1 x BatchGetItem)."""
        removals, marker = layout.removals_key(account_id), self._marker(account_id, member_id)
        found = self._batch_get([removals, marker])
        return tuple(_removing(found.get(_at(removals), {}))), _marker_count(found, marker)

    @staticmethod
    def _marker(account_id: int, member_id: int) -> Item:
        return {keys.PK: attr_s(keys.member_pk(account_id, member_id)), keys.SK: attr_s(counts.SETTLED_SK)}

    def _count_once(
        self, account_id: int, member_id: int, filters: EventFilter
    ) -> tuple[int, tuple[tuple[int, ...], int]]:
        """The count, and what it saw of the removals and the marker."""
        plan = counts.plan(filters.since, filters.until)
        scope = counts.scope_of(filters.event_type_id)
        marker = self._marker(account_id, member_id)
        pk = keys.member_pk(account_id, member_id)
        ends = [{keys.PK: attr_s(pk), keys.SK: attr_s(counts.count_sk(scope, period))} for period in plan.items]
        removing, found = self.member_and_removals(account_id, member_id, marker, *ends)
        seen = tuple(removing), _marker_count(found, marker)
        if filters.event_type_id in removing:
            return 0, seen
        total = self._counted(plan, pk, scope, found)
        if filters.event_type_id is None and removing:
            scopes = [counts.scope_of(t) for t in removing]
            theirs = self._batch_get(
                [
                    {keys.PK: attr_s(pk), keys.SK: attr_s(counts.count_sk(s, period))}
                    for s in scopes
                    for period in plan.items
                ]
            )
            total -= sum(self._counted(plan, pk, s, theirs) for s in scopes)
        for low, high in plan.edges:
            part = EventFilter(filters.event_type_id, low, high)
            total += self._count(self._events_query(account_id, member_id, part, removing, base=True))
        return total, seen

    def _counted(self, plan: counts.Plan, pk: str, scope: str, found: dict[tuple[str, str], Item]) -> int:
        """The events of one scope that the plan's count items hold: the ends' items (read), the whole years'
        (1 x Query, strongly consistent)."""
        prefix = counts.count_sk(scope, "")
        items = {period: found.get((pk, prefix + period), {}) for period in plan.items}
        years: list[Item] = []
        if plan.years:
            first, last = plan.years
            query = {
                "TableName": self.table_name,
                "KeyConditionExpression": "PK = :pk AND SK BETWEEN :first AND :last",
                "ExpressionAttributeValues": {
                    ":pk": attr_s(pk),
                    ":first": attr_s(f"{prefix}Y#{first:04d}"),
                    ":last": attr_s(f"{prefix}Y#{last:04d}"),
                },
                "ConsistentRead": True,
            }
            years = self._query_all(query)
        return counts.total(plan, items, years)

    def _events_query(
        self, account_id: int, member_id: int, filters: EventFilter, removing: list[int], *, base: bool = False
    ) -> dict[str, Any]:
        """The Query of a member's events in the time range: of one type through ``ByMemberType`` (``base``:
        the member's partition, filtered, strongly consistent), else of the partition, leaving out the types
        being removed: their events are stored until the cascade deletes them, but are gone for the client."""
        low = keys.EVENT_PREFIX + (to_storage(filters.since) if filters.since else "")
        high = keys.EVENT_PREFIX + (to_storage(filters.until) + "#~" if filters.until else "~")
        type_id = None if base else filters.event_type_id
        by_type = type_id is not None
        pk = (
            keys.member_pk(account_id, member_id)
            if type_id is None
            else keys.member_type_pk(account_id, member_id, type_id)
        )
        partition = keys.MEMBER_TYPE_INDEX_PK if by_type else keys.PK
        query: dict[str, Any] = {
            "TableName": self.table_name,
            "KeyConditionExpression": f"{partition} = :pk AND SK BETWEEN :low AND :high",
            "ExpressionAttributeValues": {":pk": attr_s(pk), ":low": attr_s(low), ":high": attr_s(high)},
            "ScanIndexForward": not filters.descending,
        }
        if by_type:
            query["IndexName"] = keys.MEMBER_TYPE_INDEX
            return query
        if base:
            query["ConsistentRead"] = True
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

    def member_and_removals(
        self, account_id: int, member_id: int, *more: Item
    ) -> tuple[list[int], dict[tuple[str, str], Item]]:
        """The ids of the account's types being removed, checking the member exists (else ``NotFound``), and the
        ``more`` items found, in one round trip: 1 x BatchGetItem, strongly consistent."""
        member, removals = layout.member_key(account_id, member_id), layout.removals_key(account_id)
        found = self._batch_get([member, removals, *more])
        if _at(member) not in found:
            raise NotFound(f"Member {member_id} does not exist in account {account_id}.")
        return _removing(found.get(_at(removals), {})), found


def _at(key: Item) -> tuple[str, str]:
    """Where ``Table._batch_get`` answers an item: by (PK, SK)."""
    return key[keys.PK]["S"], key[keys.SK]["S"]


def _removing(item: Item) -> list[int]:
    return sorted(int(n) for n in item.get("type_ids", {}).get("NS", []))


def _marker_count(found: dict[tuple[str, str], Item], marker: Item) -> int:
    return int(found.get(_at(marker), {}).get("n", {}).get("N", 0))

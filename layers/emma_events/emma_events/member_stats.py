"""A member's stats per event type: how many events, the exact sum of their values, the first and the last, at a
cost that grows with the member's types, not its events.

The counts and values come from the member's totals items (``CT#<type>``, kept in each POST's transaction:
counts.py), all read by one strongly consistent Query; the first and last events of each type are the ends of
its ``ByMemberType`` key (one ``Limit 1`` Query each way, side by side). Types being removed are left out.
"""

from __future__ import annotations

from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING

from emma_events import counts, keys, sums
from emma_events.dates import from_storage
from emma_events.deadline import side_by_side
from emma_events.domain import TypeStats
from emma_events.dynamo import Item, attr_s

if TYPE_CHECKING:
    from emma_events.member_timeline import MemberTimeline


def member_stats(store: MemberTimeline, account_id: int, member_id: int) -> list[TypeStats]:
    """Per type of the member's events, by type id. 1 x BatchGetItem (the member: ``NotFound``; the types being
    removed) + 1 x Query of the totals items + 2 x Query per type (side by side). A type whose newest events the
    index does not hold yet (it lags the table by about a second) is answered with the ends it holds; one whose
    first event it does not hold yet is left out until it does."""
    removing, _ = store.member_and_removals(account_id, member_id)
    pk = keys.member_pk(account_id, member_id)
    totals = {
        int(item[keys.SK]["S"].removeprefix(keys.TOTALS_PREFIX)): item
        for item in _totals(store, pk)
        if item[keys.SK]["S"].removeprefix(keys.TOTALS_PREFIX).isdigit()
    }
    wanted = [(type_id, forward) for type_id in sorted(set(totals) - set(removing)) for forward in (True, False)]
    ends = side_by_side(partial(_end, store, account_id, member_id), wanted)
    stats = []
    for index in range(0, len(wanted), 2):
        (type_id, _), first, last = wanted[index], ends[index], ends[index + 1]
        item = totals[type_id]
        count = int(item[counts.TOTAL]["N"])
        if first is None or last is None or count <= 0:
            continue
        stats.append(TypeStats(type_id, count, sums.total(item, counts.VALUE), first, last))
    return stats


def _totals(store: MemberTimeline, pk: str) -> list[Item]:
    return store._query_all(
        {
            "TableName": store.table_name,
            "KeyConditionExpression": "PK = :pk AND begins_with(SK, :prefix)",
            "ExpressionAttributeValues": {":pk": attr_s(pk), ":prefix": attr_s(keys.TOTALS_PREFIX)},
            "ConsistentRead": True,
        }
    )


def _end(store: MemberTimeline, account_id: int, member_id: int, wanted: tuple[int, bool]) -> datetime | None:
    """The time of the member's first (``forward``) or last event of the type, by its ``ByMemberType`` key."""
    type_id, forward = wanted
    page = store.client.query(
        TableName=store.table_name,
        IndexName=keys.MEMBER_TYPE_INDEX,
        KeyConditionExpression=f"{keys.MEMBER_TYPE_INDEX_PK} = :pk",
        ExpressionAttributeValues={":pk": attr_s(keys.member_type_pk(account_id, member_id, type_id))},
        ProjectionExpression="event_timestamp",
        ScanIndexForward=forward,
        Limit=1,
    )
    found = page["Items"]
    return from_storage(found[0]["event_timestamp"]["S"]) if found else None

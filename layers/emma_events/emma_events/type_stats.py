"""A type's stats per bucket, read from its stats items (type_rollups.py) at a cost that grows with the buckets,
not with the events: a UTC day a bucket holds whole is read from its month's item, a day it holds in part from
its own item's quarter-hours."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from emma_events import counts, keys, sums
from emma_events.deadline import side_by_side
from emma_events.dynamo import Item, Table, attr_s
from emma_events.stat_buckets import utc_days
from emma_events.type_rollups import DAY, QUARTER, day_sk, month_sk

#: Keys of one BatchGetItem (DynamoDB's limit); more days, when they fill their range, are read as one Query.
BATCH_DAYS = 100


@dataclass(frozen=True, slots=True)
class Bucket:
    start: datetime
    count: int
    value: Decimal


class _Slot:
    """What one stats item holds per slot (``q37``, ``d05``): events and value bands."""

    def __init__(self, item: Item | None) -> None:
        self.count: dict[str, int] = defaultdict(int)
        self.bands: dict[str, list[tuple[int, int]]] = defaultdict(list)
        for name, value in (item or {}).items():
            if name in (keys.PK, keys.SK) or name[0] not in (QUARTER, DAY):
                continue
            slot, _, band = name.partition(counts.VALUE)
            if band:
                self.bands[slot].append((int(band), int(value["N"])))
            else:
                self.count[slot] += int(value["N"])


def _whole(day: date, start: datetime, end: datetime) -> bool:
    first = datetime.combine(day, datetime.min.time(), UTC)
    return start <= first and first + timedelta(days=1) <= end


def _quarters(day: date, start: datetime, end: datetime) -> list[str]:
    """The quarter-hour slots of ``day`` inside [start, end) (both on quarter-hours)."""
    first = datetime.combine(day, datetime.min.time(), UTC)
    low = max(0, int((start - first) / timedelta(minutes=15)))
    high = min(96, int((end - first) / timedelta(minutes=15)))
    return [f"{QUARTER}{q:02d}" for q in range(low, high)]


def type_stats(
    table: Table, account_id: int, event_type_id: int, spans: list[tuple[datetime, datetime]]
) -> list[Bucket]:
    """Each bucket's events and the sum of their values. 1 x Query of the months' items (when a bucket holds a
    whole UTC day) + the items of the days held in part: 1 x BatchGetItem per 100, or 1 x Query of their range
    when there are more."""
    pk = keys.type_stats_pk(account_id, event_type_id)
    whole_months: set[str] = set()
    part_days: set[date] = set()
    for start, end in spans:
        for day in utc_days(start, end):
            if _whole(day, start, end):
                whole_months.add(f"{day:%Y-%m}")
            else:
                part_days.add(day)
    months = _range(table, pk, month_sk(min(whole_months)), month_sk(max(whole_months))) if whole_months else {}
    days = _days(table, pk, sorted(part_days))
    answer = []
    for start, end in spans:
        count, bands = 0, []
        for day in utc_days(start, end):
            if _whole(day, start, end):
                slot, wanted = months.get(month_sk(f"{day:%Y-%m}")), [f"{DAY}{day:%d}"]
            else:
                slot, wanted = days.get(day_sk(f"{day:%Y-%m-%d}")), _quarters(day, start, end)
            if slot is not None:
                count += sum(slot.count[name] for name in wanted)
                bands += [pair for name in wanted for pair in slot.bands.get(name, [])]
        answer.append(Bucket(start, count, sums.add(bands)))
    return answer


def _days(table: Table, pk: str, days: list[date]) -> dict[str, _Slot]:
    """The items of ``days``: 1 x Query of their range when they fill at least half of it (a day in a zone off
    UTC: every day), else BatchGetItem calls of 100, side by side."""
    if not days:
        return {}
    if len(days) > BATCH_DAYS and 2 * len(days) >= (days[-1] - days[0]).days + 1:
        return _range(table, pk, day_sk(f"{days[0]:%Y-%m-%d}"), day_sk(f"{days[-1]:%Y-%m-%d}"))
    wanted = [{keys.PK: attr_s(pk), keys.SK: attr_s(day_sk(f"{day:%Y-%m-%d}"))} for day in days]
    chunks = [wanted[start : start + BATCH_DAYS] for start in range(0, len(wanted), BATCH_DAYS)]
    return {sk: _Slot(item) for part in side_by_side(table._batch_get, chunks) for (_, sk), item in part.items()}


def _range(table: Table, pk: str, first: str, last: str) -> dict[str, _Slot]:
    """The stats items with sort keys first..last (1 x Query, more past 1 MB)."""
    query = {
        "TableName": table.table_name,
        "KeyConditionExpression": "PK = :pk AND SK BETWEEN :first AND :last",
        "ExpressionAttributeValues": {":pk": attr_s(pk), ":first": attr_s(first), ":last": attr_s(last)},
    }
    return {item[keys.SK]["S"]: _Slot(item) for item in table._query_all(query)}

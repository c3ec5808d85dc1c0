"""Part of ``make bench``'s sixth phase: a type's stats at a busy type's size, on DynamoDB Local.

The type's stats items are written as the stream's consumer would have kept them for a year of events at the
scale section's density, every quarter-hour of every day holding events with cents (the items' largest ordinary
size), then each read is metered: what it costs depends on the buckets and on the items' size, never on how many
events they count, so a type of 10M events a year costs what this one costs.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from emma_events import counts, keys, sums
from emma_events.type_rollups import DAY, QUARTER, day_sk, month_sk

#: Events per quarter-hour (10M a year is ~285) and what each is worth.
PER_QUARTER = 285
VALUE = 19.99
YEAR = 2025
#: At most this many calls for a year of days, in any zone (the issue's budget).
YEAR_OF_DAYS_CALLS = 2


def _slot(item: dict[str, Any], name: str, events: int) -> None:
    item[name] = {"N": str(events)}
    for band, part in sums.bands(round(VALUE * events, 2)).items():
        item[sums.attribute(name + counts.VALUE, band)] = {"N": str(part)}


def seed_year(stores: Any, account_id: int, type_id: int) -> None:
    """A year of a busy type's stats items: a day item per day, a month item per month."""
    pk = keys.type_stats_pk(account_id, type_id)
    items = []
    day = datetime(YEAR, 1, 1, tzinfo=UTC)
    months: dict[str, dict[str, Any]] = {}
    while day.year == YEAR:
        item: dict[str, Any] = {keys.PK: {"S": pk}, keys.SK: {"S": day_sk(f"{day:%Y-%m-%d}")}}
        for quarter in range(96):
            _slot(item, f"{QUARTER}{quarter:02d}", PER_QUARTER)
        items.append(item)
        month = months.setdefault(f"{day:%Y-%m}", {keys.PK: {"S": pk}, keys.SK: {"S": month_sk(f"{day:%Y-%m}")}})
        _slot(month, f"{DAY}{day:%d}", PER_QUARTER * 96)
        day += timedelta(days=1)
    items += months.values()
    for start in range(0, len(items), 25):
        batch = [{"PutRequest": {"Item": item}} for item in items[start : start + 25]]
        stores.client.batch_write_item(RequestItems={stores.table_name: batch})


def reads(stores: Any, account_id: int, type_id: int) -> list[tuple[str, Any]]:
    from emma_events.stat_buckets import buckets, zone

    since, until = datetime(YEAR, 1, 1, 12, tzinfo=UTC), datetime(YEAR, 12, 30, 12, tzinfo=UTC)

    def stats(interval: str, name: str, low: datetime = since, high: datetime = until) -> Any:
        spans = buckets(interval, zone(name), low, high)
        return lambda: stores.event_types.type_stats(account_id, type_id, spans)

    month = (datetime(YEAR, 6, 1, tzinfo=UTC), datetime(YEAR, 6, 30, tzinfo=UTC))
    return [
        ("type stats: a year of days (UTC)", stats("day", "UTC")),
        ("type stats: a year of days (Asia/Kolkata, +05:30)", stats("day", "Asia/Kolkata")),
        ("type stats: a year of days (America/New_York)", stats("day", "America/New_York")),
        ("type stats: a year of weeks (America/New_York)", stats("week", "America/New_York")),
        ("type stats: 12 months (Asia/Kathmandu, +05:45)", stats("month", "Asia/Kathmandu")),
        ("type stats: a month of hours (UTC)", stats("hour", "UTC", *month)),
    ]


def type_stats_at_scale(stores: Any, metered: Any) -> tuple[list[dict[str, Any]], list[str]]:
    """The rows of the stats reads (``metered(name, action)`` gives each's figures) and what failed."""
    kind = stores.event_types.create_event_type(100, "busy", "Busy").event_type_id
    seed_year(stores, 100, kind)
    rows, failed = [], []
    for name, action in reads(stores, 100, kind):
        figures = metered(action)
        budget = YEAR_OF_DAYS_CALLS if "a year of days" in name else None
        rows.append({"operation": name, "budget": budget, **figures})
        if budget is not None and figures["round_trips"] > budget:
            failed.append(f"{name} over its budget")
    return rows, failed

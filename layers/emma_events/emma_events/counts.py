"""A member's event counts per hour, day and month, kept beside the events in the same
transaction, so that counting a member's events costs the same at any size (docs/data-model.md, "Counts").

Three items per scope and period, in the member's partition: a day's item counts its hours, a month's its days,
a year's its months. The scope is the member's events of one type (``<type id>``) or all of them (``*``). A
time range is read as the items that cover its whole hours (at most three per end, and the whole years between,
one Query), plus the events of the at most two hours it covers in part. Day and month entries also sum the
events' values (sums.py), and a totals item per type holds its count and value of all time (member_stats.py).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from emma_events import keys, sums
from emma_events.domain import MemberEvent

ALL = "*"
#: Every count item's total of the events it counts.
TOTAL = "n"
#: A member's item whose ``n`` every settling transaction of a removed type's counts adds 1 to: a count that read
#: while one committed sees it change, and reads again.
SETTLED_SK = "C#SETTLED"
#: A type's cascade settles no count before this long after it started (after the removal): a count whose reads
#: took less, and that saw no type being removed, cannot have met a settlement; one that took longer reads again.
SETTLE_AFTER_S = 0.5
HOUR = timedelta(hours=1)
#: The earliest and latest times an event can carry (dates.parse_timestamp: from 1970, at most a year ahead).
FIRST = datetime(1970, 1, 1, tzinfo=UTC)
LAST = datetime(9998, 12, 31, 23, 59, 59, tzinfo=UTC)


def scope_of(event_type_id: int | None) -> str:
    return ALL if event_type_id is None else f"{event_type_id:0{keys.ID_WIDTH}d}"


UP = {"hour": "day", "day": "month", "month": "year"}


def _parent(level: str, unit: datetime) -> datetime:
    """The first unit of ``unit``'s parent (a day's first hour, a month's first day, a year's first month)."""
    if level == "hour":
        return unit.replace(hour=0)
    if level == "day":
        return unit.replace(day=1)
    return unit.replace(month=1)


def _next(level: str, unit: datetime) -> datetime:
    if level == "hour":
        return unit + HOUR
    if level == "day":
        return unit + timedelta(days=1)
    if level == "month":
        return unit.replace(year=unit.year + (unit.month == 12), month=unit.month % 12 + 1)
    return unit.replace(year=unit.year + 1)


def _previous(level: str, unit: datetime) -> datetime:
    if level == "hour":
        return unit - HOUR
    if level == "day":
        return unit - timedelta(days=1)
    if level == "month":
        return unit.replace(year=unit.year - (unit.month == 1), month=(unit.month - 2) % 12 + 1)
    return unit.replace(year=unit.year - 1)


def _where(level: str, unit: datetime) -> tuple[str, str]:
    """The period of the item that counts a unit, and its attribute there."""
    if level == "hour":
        return f"D#{unit:%Y-%m-%d}", f"h{unit:%H}"
    if level == "day":
        return f"M#{unit:%Y-%m}", f"d{unit:%d}"
    return f"Y#{unit:%Y}", f"m{unit:%m}"


def count_sk(scope: str, period: str) -> str:
    return f"{keys.COUNT_PREFIX}{scope}#{period}"


def totals_sk(scope: str) -> str:
    """A member's totals item of one type (``scope_of`` its id): its events' count ``n`` and value (``VALUE``)."""
    return f"{keys.TOTALS_PREFIX}{scope}"


#: The bands of a value's sum (sums.py) are named by the entry they add to and this, then the band: ``d05v0``.
VALUE = "v"


def _counted_in(hour: datetime) -> tuple[tuple[str, datetime], ...]:
    """The units an event of ``hour`` is counted in: its hour (in its day's item), day (month's), month (year's)."""
    return ("hour", hour), ("day", hour.replace(hour=0)), ("month", hour.replace(day=1, hour=0))


def increments(events: Iterable[MemberEvent], *, counted: bool = True) -> dict[tuple[str, str], dict[str, int]]:
    """What a batch adds to its members' count items, by item key (PK, SK): per attribute (``h09``: the hour
    from 09:00), the number of events, for the events' types and for all types, and to each item's ``TOTAL``
    (every change of an item changes it: a settlement deletes an item only as it read it); per day and month
    entry, the sum of the events' values, in bands (sums.py: ``d05v0``); and to the totals item of each event's
    type, its count and value. ``counted`` False: only what an event counted by a release before lacks, the values
    and the totals (``ops.tally_events``)."""
    added: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for event in events:
        pk = keys.member_pk(event.account_id, event.member_id)
        hour = event.event_timestamp.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
        value = {} if event.event_monetary_value is None else sums.bands(event.event_monetary_value)
        scope = scope_of(event.event_type_id)
        for each in (ALL, scope):
            for level, unit in _counted_in(hour):
                period, attribute = _where(level, unit)
                item = added[(pk, count_sk(each, period))]
                if counted:
                    item[attribute] += 1
                    item[TOTAL] += 1
                if level != "hour":
                    for band, part in value.items():
                        item[sums.attribute(attribute + VALUE, band)] += part
        totals = added[(pk, totals_sk(scope))]
        totals[TOTAL] += 1
        for band, part in value.items():
            totals[sums.attribute(VALUE, band)] += part
    return {at: values for at, values in added.items() if values}


def items_of(event_keys: Iterable[dict[str, Any]], scope: str) -> set[tuple[str, str]]:
    """The keys of the count items of ``scope`` that count the events of ``event_keys``: an event's sort key holds
    its time (``EV#YYYY-MM-DDTHH:MM:SSZ#id``), whose day, month and year name its hour's, day's and month's items
    (as ``_where`` names them); and its member's totals item of ``scope``."""
    found = set()
    start = len(keys.EVENT_PREFIX)
    for key in event_keys:
        sk = key[keys.SK]["S"]
        if sk.startswith(keys.EVENT_PREFIX):
            pk, day = key[keys.PK]["S"], sk[start : start + 10]
            found |= {(pk, count_sk(scope, period)) for period in (f"D#{day}", f"M#{day[:7]}", f"Y#{day[:4]}")}
            found.add((pk, totals_sk(scope)))
    return found


@dataclass
class Plan:
    """How to count a time range: the attributes to add up in each item (by period), the whole years between
    (first, last: one Query of the year items), and the parts of hours to count from the events themselves."""

    items: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    years: tuple[int, int] | None = None
    edges: list[tuple[datetime, datetime]] = field(default_factory=list)


def plan(since: datetime | None, until: datetime | None) -> Plan:
    """The reads that count the events in [since, until] (both inclusive, whole seconds)."""
    low, high = max(since or FIRST, FIRST), min(until or LAST, LAST)
    found = Plan()
    if low > high:
        return found
    first_hour, last_hour = low.replace(minute=0, second=0), high.replace(minute=0, second=0)
    if first_hour == last_hour and (low != first_hour or high != last_hour + HOUR - timedelta(seconds=1)):
        found.edges.append((low, high))
        return found
    if low != first_hour:  # part of the first hour
        found.edges.append((low, first_hour + HOUR - timedelta(seconds=1)))
        first_hour += HOUR
    if high != last_hour + HOUR - timedelta(seconds=1):  # part of the last hour
        found.edges.append((last_hour, high))
        last_hour -= HOUR
    _whole(found, "hour", first_hour, last_hour)
    return found


def _whole(found: Plan, level: str, lo: datetime, hi: datetime) -> None:
    """Add the units lo..hi (inclusive) of ``level``: those of a parent covered in part from the parent's item,
    the whole parents between one level up, and whole years as a range."""
    while lo <= hi:
        if level == "year":
            found.years = (lo.year, hi.year)
            return
        first, last_parent = _parent(level, lo), _parent(level, hi)
        whole_first, whole_last = lo == first, _next(UP[level], last_parent) == _next(level, hi)
        if first == last_parent and not (whole_first and whole_last):
            _units(found, level, lo, hi)
            return
        if not whole_first:
            after = _next(UP[level], first)
            _units(found, level, lo, _previous(level, after))
            lo = after
        if not whole_last:
            _units(found, level, last_parent, hi)
            hi = _previous(level, last_parent)
        if lo > hi:
            return
        level, lo, hi = UP[level], _parent(level, lo), _parent(level, hi)


def _units(found: Plan, level: str, lo: datetime, hi: datetime) -> None:
    unit = lo
    while unit <= hi:
        period, attribute = _where(level, unit)
        found.items[period].add(attribute)
        unit = _next(level, unit)


def total(plan_: Plan, items: dict[str, dict[str, Any]], years: Iterable[dict[str, Any]]) -> int:
    """The events counted by the plan's items (by period; a missing item counts none) and year items."""
    counted = sum(
        int(items.get(period, {}).get(a, {}).get("N", 0)) for period, names in plan_.items.items() for a in names
    )
    for item in years:
        counted += sum(int(value["N"]) for name, value in item.items() if _is_month(name))
    return counted


def _is_month(name: str) -> bool:
    return len(name) == 3 and name[0] == "m" and name[1:].isdigit()


def update(table_name: str, key: tuple[str, str], added: dict[str, int]) -> dict[str, Any]:
    """A transaction's ``Update`` adding to a count item's attributes (ADD creates the item and each attribute).
    A member's day item or totals item of a type also gets its ``MembersByType`` key (the same value each time:
    the index is written only when the item is made)."""
    update_: dict[str, Any] = {
        "TableName": table_name,
        "Key": {keys.PK: {"S": key[0]}, keys.SK: {"S": key[1]}},
        "UpdateExpression": "ADD " + ", ".join(f"#a{i} :a{i}" for i in range(len(added))),
        "ExpressionAttributeNames": {f"#a{i}": name for i, name in enumerate(added)},
        "ExpressionAttributeValues": {f":a{i}": {"N": str(value)} for i, value in enumerate(added.values())},
    }
    indexed = keys.members_by_type_keys(*key)
    if indexed is not None:
        update_["UpdateExpression"] += " SET #ipk = :ipk, #isk = :isk"
        update_["ExpressionAttributeNames"] |= {"#ipk": keys.MEMBERS_BY_TYPE_PK, "#isk": keys.MEMBERS_BY_TYPE_SK}
        update_["ExpressionAttributeValues"] |= {":ipk": {"S": indexed[0]}, ":isk": {"S": indexed[1]}}
    return update_


#: Items of one transaction (DynamoDB's limit).
TRANSACTION_ITEMS = 100


Settlement = tuple[set[str], list[dict[str, Any]]]  # the members a transaction settles, and its items


def settlements(table_name: str, items: list[dict[str, Any]], scope: str) -> list[list[Settlement]]:
    """The settling transactions of a removed type's count items, in runs to make one after another (the runs side
    by side): per member, its ``SETTLED`` marker's increment and, per item, its delete (conditioned on every
    attribute as read) and the subtraction of its values from the all-types item of its period. Members are packed
    into transactions of up to ``TRANSACTION_ITEMS`` items; a member with more items than one holds takes as many
    as it needs, each with its marker, in a run of its own (side by side they would conflict on the marker)."""
    by_member: dict[str, list[dict[str, Any]]] = {}
    for item in items:
        by_member.setdefault(item[keys.PK]["S"], []).append(item)
    per_transaction = (TRANSACTION_ITEMS - 1) // 2
    runs: list[list[Settlement]] = []
    members: set[str] = set()
    parts: list[dict[str, Any]] = []
    for pk, owned in sorted(by_member.items()):
        if len(owned) > per_transaction:
            chunks = [owned[start : start + per_transaction] for start in range(0, len(owned), per_transaction)]
            runs.append([({pk}, _settling(table_name, pk, chunk, scope)) for chunk in chunks])
            continue
        if len(parts) + 1 + 2 * len(owned) > TRANSACTION_ITEMS:
            runs.append([(members, parts)])
            members, parts = set(), []
        members.add(pk)
        parts += _settling(table_name, pk, owned, scope)
    if parts:
        runs.append([(members, parts)])
    return runs


def _settling(table_name: str, pk: str, items: list[dict[str, Any]], scope: str) -> list[dict[str, Any]]:
    """A member's share of a settling transaction: its marker's increment, then each item's delete as read and its
    subtraction from the all-types item."""
    prefix = count_sk(scope, "")
    parts: list[dict[str, Any]] = [{"Update": update(table_name, (pk, SETTLED_SK), {TOTAL: 1})}]
    for item in items:
        sk = item[keys.SK]["S"]
        read = {name: value for name, value in item.items() if name not in (keys.PK, keys.SK)}
        values = {name: -int(value["N"]) for name, value in read.items() if "N" in value}  # not the index's keys
        # deleted only as read, every attribute: an item changed (or deleted and made again) since holds other
        # values, and is read again (an item of a release before has no TOTAL: none may have been added since)
        condition = [f"#a{i} = :a{i}" for i in range(len(read))]
        if TOTAL not in read:
            condition.append(f"attribute_not_exists(#a{len(read)})")
        names = {f"#a{i}": name for i, name in enumerate([*read, *([] if TOTAL in read else [TOTAL])])}
        delete = {
            "TableName": table_name,
            "Key": {keys.PK: item[keys.PK], keys.SK: item[keys.SK]},
            "ConditionExpression": " AND ".join(condition),
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": {f":a{i}": value for i, value in enumerate(read.values())},
        }
        parts.append({"Delete": delete})
        if sk.startswith(prefix):  # a period's item; a totals item has no all-types twin
            parts.append({"Update": update(table_name, (pk, count_sk(ALL, sk.removeprefix(prefix))), values)})
    return parts

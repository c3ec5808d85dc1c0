"""The buckets of a type's stats: hours, days, weeks (from Monday) or months of a time zone, as UTC instants.

A bucket starts where the zone's clock starts its unit (a day at local midnight, or where the day begins when a
change of offset skips midnight); an hour also where the offset changes, so an hour the clock shows twice is two
buckets (and Lord Howe's half hour shown twice one more). Every zone's offset since 1980 is
a multiple of 15 minutes (not so Africa/Monrovia's -0:44:30 before 1972, Pacific/Kiritimati's -10:40 before 1979):
the rollups hold quarter-hours, so a bucket must start on one (else ``NotQuarterAligned``); a change of offset at
00:01 (Antarctica/Casey 2020-22, Gaza 2010-11) is taken at the quarter-hour after it.
"""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from importlib import resources
from zoneinfo import ZoneInfo

INTERVALS = ("hour", "day", "week", "month")
#: The most buckets one request may ask for.
MAX_BUCKETS = 1000
#: Buckets before ``until`` when no ``since`` is given.
DEFAULT_BUCKETS = 30
QUARTER = timedelta(minutes=15)


class UnknownZone(ValueError):
    pass


@lru_cache(maxsize=1)
def _zone_names() -> frozenset[str]:
    return frozenset(resources.files("tzdata").joinpath("zones").read_text().split())


@lru_cache(maxsize=64)
def zone(name: str) -> ZoneInfo:
    """The IANA zone ``name`` from the layer's ``tzdata`` (a name on its list, never a path: ``UnknownZone``)."""
    if name not in _zone_names():
        raise UnknownZone(f"is not an IANA time zone name: {name[:64]!r}")
    with resources.files("tzdata.zoneinfo").joinpath(*name.split("/")).open("rb") as data:
        return ZoneInfo.from_file(data, key=name)


class TooManyBuckets(ValueError):
    pass


class NotQuarterAligned(ValueError):
    pass


def _local_starts(interval: str, first: datetime, last: datetime) -> list[datetime]:
    """The naive local times at which units begin, from the unit holding ``first`` to the one holding ``last``
    (both naive local), at most ``MAX_BUCKETS`` + 1 of them (more: ``TooManyBuckets``)."""
    if interval == "hour":
        unit, step = first.replace(minute=0, second=0, microsecond=0), timedelta(hours=1)
    elif interval == "day":
        unit, step = datetime.combine(first.date(), datetime.min.time()), timedelta(days=1)
    elif interval == "week":
        monday = first.date() - timedelta(days=first.weekday())
        unit, step = datetime.combine(monday, datetime.min.time()), timedelta(weeks=1)
    else:
        unit, step = datetime(first.year, first.month, 1), timedelta(0)
    starts = []
    while unit <= last:
        starts.append(unit)
        if len(starts) > MAX_BUCKETS:
            raise TooManyBuckets(f"more than {MAX_BUCKETS} buckets")
        unit = _next_month(unit) if interval == "month" else unit + step
    starts.append(unit)  # the end of the last bucket
    return starts


def _next_month(unit: datetime) -> datetime:
    return unit.replace(year=unit.year + (unit.month == 12), month=unit.month % 12 + 1)


def _instants(naive: datetime, zone: ZoneInfo) -> tuple[datetime, ...]:
    """The UTC instants at which the zone's clock shows ``naive``, the first first (two in a repeated hour), or,
    when it never does (skipped by a change of offset), the instant the clock jumps past it (``fold=0`` there:
    PEP 495)."""
    first = naive.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if first.astimezone(zone).replace(tzinfo=None) != naive:  # in a gap: fold=1 would be before the jump
        return (first,)
    return first, naive.replace(tzinfo=zone, fold=1).astimezone(UTC)


def _changes_within(starts: list[datetime], zone: ZoneInfo) -> set[datetime]:
    """The quarter-hours between consecutive hour starts where the zone's offset changes."""
    found = set()
    for start, end in itertools.pairwise(starts):
        before, moment = start.astimezone(zone).utcoffset(), start + QUARTER
        while moment < end:
            if moment.astimezone(zone).utcoffset() != before:
                found.add(moment)
                break
            moment += QUARTER
    return found


def buckets(interval: str, zone: ZoneInfo, since: datetime, until: datetime) -> list[tuple[datetime, datetime]]:
    """The buckets [start, end) of ``interval`` in ``zone`` that hold any instant of [since, until], in UTC."""
    first, last = since.astimezone(zone).replace(tzinfo=None), until.astimezone(zone).replace(tzinfo=None)
    starts: set[datetime] = set()
    for naive in _local_starts(interval, first, last):
        found = _instants(naive, zone)
        starts.update(found if interval == "hour" else found[:1])  # a repeated midnight begins its day once
    if interval == "hour":  # and where the offset changes within an hour (Lord Howe's 30 minutes back)
        starts |= _changes_within(sorted(starts), zone)
    ordered = sorted(starts)
    # keep the buckets that meet [since, until]: a repeated or skipped hour may add one at either end
    spans = [(a, b) for a, b in itertools.pairwise(ordered) if b > since and a <= until]
    if len(spans) > MAX_BUCKETS:
        raise TooManyBuckets(f"more than {MAX_BUCKETS} buckets")
    for start, _ in spans:
        if (start - datetime(1970, 1, 1, tzinfo=UTC)) % QUARTER:
            raise NotQuarterAligned(f"a bucket would start at {start:%Y-%m-%dT%H:%M:%S}Z, not on a quarter-hour")
    return spans


def default_since(interval: str, zone: ZoneInfo, until: datetime) -> datetime:
    """The start of the bucket ``DEFAULT_BUCKETS - 1`` units before the one holding ``until``."""
    local = until.astimezone(zone).replace(tzinfo=None)
    back = DEFAULT_BUCKETS - 1
    if interval == "hour":
        naive = local.replace(minute=0, second=0, microsecond=0) - timedelta(hours=back)
    elif interval == "day":
        naive = datetime.combine(local.date() - timedelta(days=back), datetime.min.time())
    elif interval == "week":
        naive = datetime.combine(local.date() - timedelta(days=local.weekday(), weeks=back), datetime.min.time())
    else:
        months = local.year * 12 + local.month - 1 - back
        naive = datetime(months // 12, months % 12 + 1, 1)
    return _instants(naive, zone)[0]


def utc_days(start: datetime, end: datetime) -> list[date]:
    """The UTC days [start, end) touches."""
    days, day = [], start.date()
    while datetime.combine(day, datetime.min.time(), UTC) < end:
        days.append(day)
        day += timedelta(days=1)
    return days

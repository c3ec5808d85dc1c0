"""Dates as Emma serializes them: ``"@D:YYYY-MM-DDTHH:MM:SS"``, always UTC."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

EMMA_DATE_PATTERN = r"^@D:\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$"


def utc_now() -> datetime:
    """The current time in UTC, truncated to whole seconds (Emma's resolution)."""
    return datetime.now(UTC).replace(microsecond=0)


def _iso_utc(value: datetime) -> str:
    """``YYYY-MM-DDTHH:MM:SS`` in UTC, the year always four digits (``strftime("%Y")`` writes year 999 as
    ``999``, which would sort after ``2026``)."""
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="seconds")


def to_emma(value: datetime) -> str:
    """Format an aware datetime as Emma does: ``@D:2026-11-26T12:00:00`` in UTC."""
    return f"@D:{_iso_utc(value)}"


def to_storage(value: datetime) -> str:
    """The stored form: ISO 8601 in UTC with a ``Z`` suffix, so strings sort as times."""
    return f"{_iso_utc(value)}Z"


def from_storage(value: str) -> datetime:
    """Parse the stored form written by :func:`to_storage`."""
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


#: How far in the future an ``event_timestamp`` may be (clock skew and scheduled events, not typos).
MAX_FUTURE = timedelta(days=365)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def parse_time(value: object) -> datetime:
    """Emma's ``@D:YYYY-MM-DDTHH:MM:SS`` or ISO 8601 with or without an offset (none means UTC), in UTC.

    Truncated to whole seconds, Emma's resolution.
    """
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        text = value.strip()
        if text.startswith("@D:"):
            text = text[3:]
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            raise ValueError("must be ISO 8601 (e.g. 2026-11-26T12:00:00Z) or @D:YYYY-MM-DDTHH:MM:SS") from None
    else:
        raise ValueError("must be a string: ISO 8601 or @D:YYYY-MM-DDTHH:MM:SS")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC).replace(microsecond=0)
    except OverflowError:  # 0001-01-01T00:00:00+01:00 is before the first representable instant in UTC
        raise ValueError("must be between 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z") from None


def parse_timestamp(value: object) -> datetime:
    """An ``event_timestamp`` (formats of :func:`parse_time`), from 1970 to a year from now."""
    parsed = parse_time(value)
    if parsed < EPOCH:
        raise ValueError("must not be before 1970-01-01T00:00:00Z")
    if parsed > utc_now() + MAX_FUTURE:
        raise ValueError("must not be more than a year in the future")
    return parsed


# ---- windows of UTC days (searches' terms) ----------------------------------------------------------------------


@dataclass(frozen=True)
class Window:
    """UTC days, both ends included: the last ``amount`` ``unit``s up to today, or ``first`` to ``last``."""

    unit: str | None = None
    amount: int = 0
    first: date | None = None
    last: date | None = None

    def days(self, today: date) -> tuple[date, date]:
        if self.unit is None:
            return self.first or date.min, self.last or date.max
        return start_of_last(self.unit, self.amount, today), today


def start_of_last(unit: str, amount: int, today: date) -> date:
    """The first day of the last ``amount`` ``unit``s up to ``today``: the day after the same day that long ago
    (a month before March 31 is the last day of February)."""
    if unit in ("day", "week"):
        return today - timedelta(days=amount * (7 if unit == "week" else 1) - 1)
    year, month = divmod(today.year * 12 + today.month - 1 - amount * (12 if unit == "year" else 1), 12)
    back = date(year, month + 1, min(today.day, calendar.monthrange(year, month + 1)[1]))
    return back + timedelta(days=1)


def span(unit: str, amount: int) -> int:
    """The most days the last ``amount`` ``unit``s hold."""
    return amount * {"day": 1, "week": 7, "month": 31, "year": 366}[unit]

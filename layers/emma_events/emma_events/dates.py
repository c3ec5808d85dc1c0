"""Dates as Emma serializes them: ``"@D:YYYY-MM-DDTHH:MM:SS"``, always UTC."""

from __future__ import annotations

from datetime import UTC, datetime

EMMA_DATE_FORMAT = "@D:%Y-%m-%dT%H:%M:%S"
EMMA_DATE_PATTERN = r"^@D:\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$"


def utc_now() -> datetime:
    """The current time in UTC, truncated to whole seconds (Emma's resolution)."""
    return datetime.now(UTC).replace(microsecond=0)


def to_emma(value: datetime) -> str:
    """Format an aware datetime as Emma does: ``@D:2026-11-26T12:00:00`` in UTC."""
    return value.astimezone(UTC).strftime(EMMA_DATE_FORMAT)


def to_storage(value: datetime) -> str:
    """The stored form: ISO 8601 in UTC with a ``Z`` suffix, so strings sort as times."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def from_storage(value: str) -> datetime:
    """Parse the stored form written by :func:`to_storage`."""
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)

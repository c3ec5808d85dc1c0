"""What API Gateway sends a function: an event's headers, by their names in lower case (HTTP names are
case-insensitive, and API Gateway passes them as the client wrote them)."""

from __future__ import annotations

from typing import Any


def headers(event: dict[str, Any]) -> dict[str, Any]:
    """The event's headers, keyed by lower-case name (of two spellings of one name, the later one)."""
    return {str(name).lower(): value for name, value in (event.get("headers") or {}).items()}


def header(event: dict[str, Any], name: str) -> Any:
    """One header's value (``name`` in lower case), or None."""
    return headers(event).get(name)

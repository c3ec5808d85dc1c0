"""Paging, the same for every list endpoint: its query parameters, their rules and the ``Link`` to the next page.

Two ways to page, never mixed in one call:

- Emma's ``start``/``end``: records [start, end), at most ``MAX_PAGE`` per call (``end`` defaults to
  ``start + 500``); ``count=true`` answers the number of records instead.
- A cursor: the answer's ``Link: <…?cursor=…&limit=…>; rel="next"`` header continues after the last record
  returned, at the cost of one page whatever its depth; ``limit`` (at most ``MAX_PAGE``) goes with it. The cursor
  is bound to the account, the member and the filters it was made with (a fingerprint of them, checked first),
  and the position it carries is checked against the query's own bounds before it reaches DynamoDB (the store's
  part): a cursor this API did not issue is a 400 (docs/decisions.md, "Cursors").

A synchronous Lambda answer is at most 6 MB: a page stops before its answer would pass ``MAX_ANSWER_BYTES`` and
links to the rest.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Callable
from typing import Annotated, Any, NamedTuple
from urllib.parse import urlencode

from pydantic import Field

from emma_events.domain import EventPage, MemberEvent
from emma_events.endpoint import InQuery
from emma_events.errors import ValidationFailed, field_error, invalid_cursor, reject
from emma_events.keys import MAX_ID

MAX_PAGE = 500
#: The deepest ``start`` of a listing that grows without bound (a member's events): a page there reads every
#: record before it, so deeper is a 400 that points to the cursor, whose pages cost the same at any depth.
MAX_START = 500
Start = Annotated[int, InQuery, Field(ge=0, le=MAX_ID, description="Index of the first record to return.")]
End = Annotated[
    int | None, InQuery, Field(gt=0, le=MAX_ID, description="Index after the last record (default start+500).")
]
Count = Annotated[bool, InQuery, Field(description="`true` returns the number of records as a bare integer.")]
Limit = Annotated[int | None, InQuery, Field(gt=0, le=MAX_ID, description="Page size with `cursor` (at most 500).")]
Cursor = Annotated[str | None, InQuery, Field(max_length=1024, description='From a `Link: <…>; rel="next"` header.')]

#: The whole proxy response (whose body is a JSON string in it) stays below Lambda's 6 MB.
MAX_ANSWER_BYTES = 5_500_000


class Window(NamedTuple):
    """What one call asks for: skip ``offset`` records (after ``after``, a cursor's sort key), return ``size``."""

    offset: int
    size: int
    after: str | None = None


def page_bounds(start: int, end: int | None) -> Window:
    """Emma's ``start``/``end`` pair, validated."""
    if end is None:
        return Window(start, MAX_PAGE)
    if end <= start:
        raise ValidationFailed(
            "`end` must be greater than `start`.",
            errors=[field_error(("query", "end"), "must be greater than start", "greater_than_start")],
        )
    if end - start > MAX_PAGE:
        raise ValidationFailed(
            f"At most {MAX_PAGE} records per call.",
            errors=[field_error(("query", "end"), f"end - start must be at most {MAX_PAGE}", "page_too_large")],
        )
    return Window(start, end - start)


def window(
    start: int,
    end: int | None,
    cursor: str | None,
    limit: int | None,
    binding: tuple[Any, ...] = (),
    max_start: int | None = None,
) -> Window:
    """The page a call asks for, by ``start``/``end`` or by ``cursor``/``limit`` (400 when they are mixed).
    ``binding``: what the cursor must have been made for (account, member, filters); ``max_start``: the deepest
    ``start`` allowed (``MAX_START`` for a listing that grows without bound)."""
    if cursor is None:
        if limit is not None:
            reject("query.limit", "limit goes with cursor; use start/end for the first page", "limit_without_cursor")
        if max_start is not None and start > max_start:
            reject(
                "query.start",
                f"must be at most {max_start}: deeper, continue with the cursor of the Link header of a page, "
                "which costs the same at any depth",
                "start_too_deep",
            )
        return page_bounds(start, end)
    if start or end is not None:
        reject("query.cursor", "cursor and start/end cannot be combined", "cursor_with_offset")
    return Window(0, page_bounds(0, limit).size, decode_cursor(cursor, binding))


def _fingerprint(binding: tuple[Any, ...]) -> str:
    return hashlib.sha256(repr(binding).encode()).hexdigest()[:16]


def encode_cursor(after: str, binding: tuple[Any, ...] = ()) -> str:
    raw = json.dumps({"a": after, "f": _fingerprint(binding)}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, binding: tuple[Any, ...] = ()) -> str:
    """The position a cursor continues after; 400 when it is not one of ours or was made for another listing."""
    try:
        decoded = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        after, fingerprint = decoded["a"], decoded["f"]
        valid = isinstance(after, str) and after.isascii() and isinstance(fingerprint, str)
    except (ValueError, KeyError, TypeError, binascii.Error, RecursionError):
        valid = False
    if not valid:
        raise invalid_cursor()
    if fingerprint != _fingerprint(binding):
        raise ValidationFailed(
            "The cursor was made for another listing; keep the member, event_type_id, since, until and order.",
            errors=[field_error(("query", "cursor"), "made for another listing", "cursor_mismatch")],
        )
    return str(after)


def next_link(event: dict[str, Any], cursor: str, limit: int, extra: dict[str, Any]) -> str:
    """``<path?cursor=…>; rel="next"``, relative to the URL the client called (stage prefix included)."""
    # requestContext.path is the path the client called (with the stage or a custom domain's base path); SAM's
    # local emulation puts the resource template there instead, so fall back to the route's own path.
    called = (event.get("requestContext") or {}).get("path")
    path = called if called and "{" not in called else event.get("path")
    query = {"cursor": cursor, "limit": limit, **{k: v for k, v in extra.items() if v is not None}}
    return f'<{path}?{urlencode(query)}>; rel="next"'


def fit_page(page: EventPage, render: Callable[[MemberEvent], Any]) -> tuple[list[Any], EventPage]:
    """The page's events as response models (``render``), as many as fit in one answer, and the page cut to
    them: what does not fit comes with the next page."""
    answer = [render(event) for event in page.events]
    fitting = fit_answer(answer)
    return answer[:fitting], page.cut(fitting)


def fit_answer(items: list[Any], budget: int = MAX_ANSWER_BYTES) -> int:
    """How many of ``items`` (response models) fit in one answer: their JSON inside the body inside the proxy
    response (escaped twice: the body is a JSON string in the proxy response's JSON) stays within ``budget``
    bytes. At least one, as one item is always far below it."""
    used = 0
    for index, item in enumerate(items):
        body_json = json.dumps(item.model_dump(mode="json"), separators=(",", ":"))
        used += len(json.dumps(body_json)) + 1  # escaped once more inside the proxy response, plus the comma
        if used > budget and index > 0:
            return index
    return len(items)

"""GET /{account_id}/members: the account's members by id, with Emma paging and a cursor."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from emma_events.api import Request, Response, lambda_handler_for, route
from emma_events.arguments import AccountId
from emma_events.endpoint import InQuery
from emma_events.errors import invalid_cursor
from emma_events.keys import MAX_ID
from emma_events.member_models import MemberResponse
from emma_events.paging import MAX_START, Count, Cursor, End, Limit, Start, encode_cursor, fit_answer, next_link, window
from emma_events.stores import members

Deleted = Annotated[bool, InQuery, Field(description="Emma's flag to include deleted members: none are kept.")]


@route("GET", "/{account_id}/members", "List members", list[MemberResponse] | int)
def list_members(
    account_id: AccountId,
    request: Request,
    start: Start = 0,
    end: End = None,
    count: Count = False,
    deleted: Deleted = False,
    cursor: Cursor = None,
    limit: Limit = None,
) -> Response:
    store = members()
    if count:
        return Response(store.count_members(account_id))
    asked = window(start, end, cursor, limit, (account_id,), MAX_START)
    after = None if asked.after is None else _member_id(asked.after)
    page, next_after = store.list_members(account_id, offset=asked.offset, limit=asked.size, after=after)
    answer = [MemberResponse.of(member) for member in page]
    fitting = fit_answer(answer)  # Lambda answers at most 6 MB: the rest comes next
    if fitting < len(answer):
        answer, next_after = answer[:fitting], page[fitting - 1].member_id
    headers = {}
    if next_after is not None:
        headers["Link"] = next_link(request.event, encode_cursor(str(next_after), (account_id,)), asked.size, {})
    return Response(answer, headers)


def _member_id(after: str) -> int:
    """The member a cursor continues after: an id, or the cursor is not one of ours."""
    plain = after.isascii() and after.isdigit() and len(after) <= len(str(MAX_ID))
    if not plain or str(int(after)) != after or not 0 < int(after) <= MAX_ID:
        raise invalid_cursor()  # ours hold an id as str() writes it
    return int(after)


lambda_handler = lambda_handler_for(list_members)

"""GET /{account_id}/events/members/{member_id}: a member's events, with Emma paging and a cursor."""

from __future__ import annotations

from emma_events.api import Request, Response, lambda_handler_for, route
from emma_events.arguments import AccountId, EventTypeFilter, MemberId, Order, TimeQuery
from emma_events.dates import to_emma
from emma_events.domain import EventFilter
from emma_events.errors import reject
from emma_events.event_models import MemberEventResponse
from emma_events.paging import (
    MAX_START,
    Count,
    Cursor,
    End,
    Limit,
    Start,
    encode_cursor,
    fit_page,
    next_link,
    window,
)
from emma_events.stores import member_events


@route("GET", "/{account_id}/events/members/{member_id}", "List a member's events", list[MemberEventResponse] | int)
def list_member_events(
    account_id: AccountId,
    member_id: MemberId,
    request: Request,
    start: Start = 0,
    end: End = None,
    count: Count = False,
    event_type_id: EventTypeFilter = None,
    since: TimeQuery = None,
    until: TimeQuery = None,
    order: Order = "asc",
    cursor: Cursor = None,
    limit: Limit = None,
) -> Response:
    if since and until and since > until:
        reject("query.until", "must not be before since", "until_before_since")
    filters = EventFilter(event_type_id, since, until, order == "desc")
    store = member_events()
    if count:
        return Response(store.count_member_events(account_id, member_id, filters))
    listing = (account_id, member_id, filters)
    asked = window(start, end, cursor, limit, listing, MAX_START)
    page = store.member_events_page(
        account_id, member_id, filters, offset=asked.offset, limit=asked.size, after=asked.after
    )
    answer, page = fit_page(page, MemberEventResponse.of)  # Lambda answers at most 6 MB: the rest comes next
    headers = {}
    if page.next_after is not None:
        extra = {
            "event_type_id": event_type_id,
            "since": to_emma(since) if since else None,
            "until": to_emma(until) if until else None,
            "order": "desc" if filters.descending else None,
        }
        headers["Link"] = next_link(request.event, encode_cursor(page.next_after, listing), asked.size, extra)
    return Response(answer, headers)


lambda_handler = lambda_handler_for(list_member_events)

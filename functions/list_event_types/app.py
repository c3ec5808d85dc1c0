"""GET /{account_id}/events: the account's event types, ordered by id, with Emma paging."""

from __future__ import annotations

from emma_events.api import lambda_handler_for, route
from emma_events.arguments import AccountId
from emma_events.models import EventTypeResponse
from emma_events.paging import Count, End, Start, page_bounds
from emma_events.stores import event_types


@route("GET", "/{account_id}/events", "List event types")
def list_event_types(
    account_id: AccountId, start: Start = 0, end: End = None, count: Count = False
) -> list[EventTypeResponse] | int:
    store = event_types()
    if count:
        return store.count_event_types(account_id)
    page = page_bounds(start, end)
    return [EventTypeResponse.of(t) for t in store.list_event_types(account_id, offset=page.offset, limit=page.size)]


lambda_handler = lambda_handler_for(list_event_types)

"""GET /{account_id}/events/{event_type_id}: one event type."""

from __future__ import annotations

from emma_events.api import lambda_handler_for, route
from emma_events.arguments import AccountId, EventTypeId
from emma_events.models import EventTypeResponse
from emma_events.stores import event_types


@route("GET", "/{account_id}/events/{event_type_id}", "Get an event type")
def get_event_type(account_id: AccountId, event_type_id: EventTypeId) -> EventTypeResponse:
    return EventTypeResponse.of(event_types().get_event_type(account_id, event_type_id))


lambda_handler = lambda_handler_for(get_event_type)

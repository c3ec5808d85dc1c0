"""POST /{account_id}/events: create an event type."""

from __future__ import annotations

from emma_events.api import count, lambda_handler_for, route
from emma_events.arguments import AccountId
from emma_events.models import EventTypeRequest, EventTypeResponse
from emma_events.stores import event_types


@route("POST", "/{account_id}/events", "Create an event type")
def create_event_type(account_id: AccountId, body: EventTypeRequest) -> EventTypeResponse:
    created = event_types().create_event_type(account_id, body.event_type, body.display_name, body.attributes_schema)
    count("EventTypesCreated")
    return EventTypeResponse.of(created)


lambda_handler = lambda_handler_for(create_event_type)

"""PUT /{account_id}/events/{event_type_id}: rename an event type."""

from __future__ import annotations

from emma_events.api import AccountId, EventTypeId, lambda_handler_for, route
from emma_events.models import EventTypeRequest, EventTypeResponse
from emma_events.stores import event_types


@route("PUT", "/{account_id}/events/{event_type_id}", "Rename an event type")
def update_event_type(account_id: AccountId, event_type_id: EventTypeId, body: EventTypeRequest) -> EventTypeResponse:
    renamed = event_types().rename_event_type(account_id, event_type_id, body.event_type, body.display_name)
    return EventTypeResponse.of(renamed)


lambda_handler = lambda_handler_for(update_event_type)

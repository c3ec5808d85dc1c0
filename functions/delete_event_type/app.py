"""DELETE /{account_id}/events/{event_type_id}: delete an event type (its events follow via the stream)."""

from __future__ import annotations

from emma_events.api import count, lambda_handler_for, route
from emma_events.arguments import AccountId, EventTypeId
from emma_events.stores import event_types


@route("DELETE", "/{account_id}/events/{event_type_id}", "Delete an event type")
def delete_event_type(account_id: AccountId, event_type_id: EventTypeId) -> bool:
    event_types().delete_event_type(account_id, event_type_id)
    count("EventTypesDeleted")
    return True


lambda_handler = lambda_handler_for(delete_event_type)

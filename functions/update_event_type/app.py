"""PUT /{account_id}/events/{event_type_id}: rename an event type, and set or remove its attributes schema."""

from __future__ import annotations

from emma_events.api import lambda_handler_for, route
from emma_events.arguments import AccountId, EventTypeId
from emma_events.event_type_store import KEEP
from emma_events.models import EventTypeRequest, EventTypeResponse
from emma_events.stores import event_types


@route("PUT", "/{account_id}/events/{event_type_id}", "Rename an event type")
def update_event_type(account_id: AccountId, event_type_id: EventTypeId, body: EventTypeRequest) -> EventTypeResponse:
    schema = body.attributes_schema if "attributes_schema" in body.model_fields_set else KEEP  # null: remove it
    updated = event_types().update_event_type(account_id, event_type_id, body.event_type, body.display_name, schema)
    return EventTypeResponse.of(updated)


lambda_handler = lambda_handler_for(update_event_type)

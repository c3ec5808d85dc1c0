"""POST /{account_id}/events: create an event type."""

from __future__ import annotations

from emma_events.api import AccountId, count, lambda_handler_for, make_resolver
from emma_events.models import EventTypeRequest, EventTypeResponse
from emma_events.repository import get_repository

app = make_resolver()


@app.post("/<account_id>/events", summary="Create an event type")
def create_event_type(account_id: AccountId, body: EventTypeRequest) -> EventTypeResponse:
    created = get_repository().create_event_type(account_id, body.event_type, body.display_name)
    count("EventTypesCreated")
    return EventTypeResponse.of(created)


lambda_handler = lambda_handler_for(app)

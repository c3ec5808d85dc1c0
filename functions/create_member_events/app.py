"""POST /{account_id}/events/members: record up to 10 member events, all or none."""

from __future__ import annotations

from emma_events.api import AccountId, IdempotencyKey, count, idempotency, lambda_handler_for, make_resolver
from emma_events.models import CreateMemberEventsRequest, MemberEventResponse
from emma_events.repository import get_repository

app = make_resolver()


@app.post("/<account_id>/events/members", summary="Create member events")
def create_member_events(
    account_id: AccountId, body: CreateMemberEventsRequest, idempotency_key: IdempotencyKey = None
) -> list[MemberEventResponse]:
    created, recorded_now = get_repository().create_member_events(
        account_id,
        [event.to_domain() for event in body.events],
        idempotency(idempotency_key, app.current_event.json_body),
    )
    if recorded_now:  # not a retry answered from its Idempotency-Key
        count("EventsRecorded", len(created))
    return [MemberEventResponse.of(event) for event in created]


lambda_handler = lambda_handler_for(app)

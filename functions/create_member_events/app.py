"""POST /{account_id}/events/members: record up to 10 member events, all or none."""

from __future__ import annotations

from emma_events.api import Request, count, lambda_handler_for, route
from emma_events.arguments import AccountId, IdempotencyKey, idempotency
from emma_events.event_models import CreateMemberEventsRequest, MemberEventResponse
from emma_events.stores import member_events


@route("POST", "/{account_id}/events/members", "Create member events")
def create_member_events(
    account_id: AccountId, body: CreateMemberEventsRequest, request: Request, idempotency_key: IdempotencyKey = None
) -> list[MemberEventResponse]:
    created, recorded_now = member_events().create_member_events(
        account_id,
        [event.to_domain() for event in body.events],
        idempotency(idempotency_key, request),
    )
    if recorded_now:  # not a retry answered from its Idempotency-Key
        count("EventsRecorded", len(created))
    return [MemberEventResponse.of(event) for event in created]


lambda_handler = lambda_handler_for(create_member_events)

"""GET /{account_id}/events/members/{member_id}/stats: a member's events per type (count, value, first, last)."""

from __future__ import annotations

from emma_events.api import lambda_handler_for, route
from emma_events.arguments import AccountId, MemberId
from emma_events.event_models import MemberTypeStatsResponse
from emma_events.stores import member_events


@route("GET", "/{account_id}/events/members/{member_id}/stats", "A member's stats per event type")
def get_member_event_stats(account_id: AccountId, member_id: MemberId) -> list[MemberTypeStatsResponse]:
    return [MemberTypeStatsResponse.of(stats) for stats in member_events().member_stats(account_id, member_id)]


lambda_handler = lambda_handler_for(get_member_event_stats)

"""GET /{account_id}/members/{member_id}: one member."""

from __future__ import annotations

from emma_events.api import lambda_handler_for, route
from emma_events.arguments import AccountId, MemberId
from emma_events.member_models import MemberResponse
from emma_events.stores import members


@route("GET", "/{account_id}/members/{member_id}", "Get a member")
def get_member(account_id: AccountId, member_id: MemberId) -> MemberResponse:
    return MemberResponse.of(members().get_member(account_id, member_id))


lambda_handler = lambda_handler_for(get_member)

"""POST /{account_id}/members/add: add a member, or return the one with that email."""

from __future__ import annotations

from emma_events.api import count, lambda_handler_for, route
from emma_events.arguments import AccountId
from emma_events.member_models import MemberAddRequest, MemberAddResponse
from emma_events.stores import members


@route("POST", "/{account_id}/members/add", "Add a member")
def add_member(account_id: AccountId, body: MemberAddRequest) -> MemberAddResponse:
    member, added = members().add_member(account_id, body.email, body.fields)
    if added:
        count("MembersAdded")
    return MemberAddResponse(member_id=member.member_id, added=added, status=member.status)


lambda_handler = lambda_handler_for(add_member)

"""DELETE /{account_id}/members/{member_id}: delete a member (its events follow via the stream)."""

from __future__ import annotations

from emma_events.api import lambda_handler_for, route
from emma_events.arguments import AccountId, MemberId
from emma_events.stores import members


@route("DELETE", "/{account_id}/members/{member_id}", "Delete a member")
def delete_member(account_id: AccountId, member_id: MemberId) -> bool:
    members().delete_member(account_id, member_id)
    return True


lambda_handler = lambda_handler_for(delete_member)

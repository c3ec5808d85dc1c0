"""GET /{account_id}/members/email/{email}: the member with this email (compared case-insensitively)."""

from __future__ import annotations

from emma_events.api import lambda_handler_for, route
from emma_events.arguments import AccountId, EmailPath, email_from_path, lookup_email, refuse_invalid_email
from emma_events.errors import NotFound
from emma_events.member_models import MemberResponse
from emma_events.stores import members


@route("GET", "/{account_id}/members/email/{email}", "Get a member by email")
def get_member_by_email(account_id: AccountId, email: EmailPath) -> MemberResponse:
    address = lookup_email(email_from_path(email), "path.email")
    try:
        return MemberResponse.of(members().get_member_by_email(account_id, address))
    except NotFound:
        refuse_invalid_email(address, "path.email")  # not an address at all: a 400, as the field says
        raise


lambda_handler = lambda_handler_for(get_member_by_email)

"""DELETE /{account_id}/searches/{search_id}: delete a saved search (its members are not touched)."""

from __future__ import annotations

from emma_events.api import lambda_handler_for, route
from emma_events.arguments import AccountId, SearchId
from emma_events.stores import searches


@route("DELETE", "/{account_id}/searches/{search_id}", "Delete a search")
def delete_search(account_id: AccountId, search_id: SearchId) -> bool:
    searches().delete_search(account_id, search_id)
    return True


lambda_handler = lambda_handler_for(delete_search)

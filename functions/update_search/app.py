"""PUT /{account_id}/searches/{search_id}: rename a saved search, or change its criteria."""

from __future__ import annotations

from emma_events import criteria
from emma_events.api import lambda_handler_for, route
from emma_events.arguments import AccountId, SearchId
from emma_events.search_models import SearchUpdateRequest
from emma_events.stores import searches


@route("PUT", "/{account_id}/searches/{search_id}", "Update a search")
def update_search(account_id: AccountId, search_id: SearchId, body: SearchUpdateRequest) -> bool:
    changed = None if body.criteria is None else criteria.read(body.criteria)
    searches().update_search(account_id, search_id, body.name, changed)
    return True


lambda_handler = lambda_handler_for(update_search)

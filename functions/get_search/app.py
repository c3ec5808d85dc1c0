"""GET /{account_id}/searches/{search_id}: one saved search, with what its last run counted."""

from __future__ import annotations

from emma_events.api import lambda_handler_for, route
from emma_events.arguments import AccountId, SearchId
from emma_events.search_models import SearchResponse
from emma_events.stores import searches


@route("GET", "/{account_id}/searches/{search_id}", "Get a search")
def get_search(account_id: AccountId, search_id: SearchId) -> SearchResponse:
    return SearchResponse.of(searches().get_search(account_id, search_id))


lambda_handler = lambda_handler_for(get_search)

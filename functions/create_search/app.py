"""POST /{account_id}/searches: save a search (Emma's criteria, with event terms); answers its id."""

from __future__ import annotations

from emma_events import criteria
from emma_events.api import lambda_handler_for, route
from emma_events.arguments import AccountId
from emma_events.search_models import SearchRequest
from emma_events.stores import searches


@route("POST", "/{account_id}/searches", "Create a search")
def create_search(account_id: AccountId, body: SearchRequest) -> int:
    return searches().create_search(account_id, body.name, criteria.read(body.criteria))


lambda_handler = lambda_handler_for(create_search)

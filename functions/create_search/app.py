"""POST /{account_id}/searches: save a search (Emma's criteria, with event terms); answers its id. A retry with
its ``Idempotency-Key`` answers the same id, once."""

from __future__ import annotations

from emma_events import criteria
from emma_events.api import Request, lambda_handler_for, route
from emma_events.arguments import AccountId, IdempotencyKey, idempotency
from emma_events.search_models import SearchRequest
from emma_events.stores import searches


@route("POST", "/{account_id}/searches", "Create a search")
def create_search(
    account_id: AccountId, body: SearchRequest, request: Request, idempotency_key: IdempotencyKey = None
) -> int:
    wanted = criteria.read(body.criteria)
    return searches().create_search(account_id, body.name, wanted, idempotency(idempotency_key, request))


lambda_handler = lambda_handler_for(create_search)

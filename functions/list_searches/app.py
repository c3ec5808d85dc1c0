"""GET /{account_id}/searches: the account's saved searches, ordered by id, with Emma paging."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from emma_events.api import lambda_handler_for, route
from emma_events.arguments import AccountId
from emma_events.endpoint import InQuery
from emma_events.paging import Count, End, Start, page_bounds
from emma_events.search_models import SearchResponse
from emma_events.stores import searches

Deleted = Annotated[bool, InQuery, Field(description="Emma's flag to include deleted searches: none are kept.")]


@route("GET", "/{account_id}/searches", "List searches")
def list_searches(
    account_id: AccountId, start: Start = 0, end: End = None, count: Count = False, deleted: Deleted = False
) -> list[SearchResponse] | int:
    store = searches()
    if count:
        return store.count_searches(account_id)
    page = page_bounds(start, end)
    return [SearchResponse.of(s) for s in store.list_searches(account_id, offset=page.offset, limit=page.size)]


lambda_handler = lambda_handler_for(list_searches)

"""GET /{account_id}/searches/{search_id}/members: the members a saved search matches now, by id, with Emma
paging; the run is recorded on the search (``active_count``, ``last_run_at``). A large search's members come
from its last run outside the request (503 ``search-running`` while it is on its way)."""

from __future__ import annotations

from emma_events import criteria
from emma_events.api import lambda_handler_for, route
from emma_events.arguments import AccountId, SearchId
from emma_events.member_models import MemberResponse
from emma_events.paging import Count, End, Start, fit_answer, page_bounds
from emma_events.stores import searches


@route("GET", "/{account_id}/searches/{search_id}/members", "List a search's members")
def list_search_members(
    account_id: AccountId, search_id: SearchId, start: Start = 0, end: End = None, count: Count = False
) -> list[MemberResponse] | int:
    page = page_bounds(start, end)
    store = searches()
    saved = store.get_search(account_id, search_id)
    shown_slice = slice(0, 0) if count else slice(page.offset, page.offset + page.size)  # a count reads no page
    total, shown = store.run_search(
        account_id, search_id, criteria.read(saved.criteria), shown_slice, outside=saved.runs_outside
    )
    if count:
        return total
    answer = [MemberResponse.of(m) for m in shown]
    return answer[: fit_answer(answer)]  # Lambda answers at most 6 MB: the rest with a larger start


lambda_handler = lambda_handler_for(list_search_members)

"""GET /{account_id}/fields: the account's member fields (Emma's defaults first), with Emma paging."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from emma_events.api import lambda_handler_for, route
from emma_events.arguments import AccountId
from emma_events.endpoint import InQuery
from emma_events.field_models import FieldResponse
from emma_events.paging import Count, End, Start, page_bounds
from emma_events.stores import fields

Deleted = Annotated[bool, InQuery, Field(description="Emma's flag to include deleted fields: none are kept.")]


@route("GET", "/{account_id}/fields", "List member fields")
def list_fields(
    account_id: AccountId, start: Start = 0, end: End = None, count: Count = False, deleted: Deleted = False
) -> list[FieldResponse] | int:
    store = fields()
    if count:
        return store.count_fields(account_id)
    page = page_bounds(start, end)
    return [FieldResponse.of(field) for field in store.list_fields(account_id, offset=page.offset, limit=page.size)]


lambda_handler = lambda_handler_for(list_fields)

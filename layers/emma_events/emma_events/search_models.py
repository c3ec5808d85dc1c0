"""Saved searches' models: ``POST``/``PUT /{account_id}/searches`` and the search answered."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from emma_events.models import DisplayName, EmmaDate, RequestModel, ResponseModel

#: Criteria as sent: Emma's nested arrays, or that array as JSON text (criteria.py reads them).
CRITERIA_DESCRIPTION = 'Emma\'s criteria: nested arrays, or that array as JSON text (docs/api.md, "Searches").'
CRITERIA_EXAMPLE = ["and", ["event:purchase", "in last", {"day": 30}], ["member_field:vip", "eq", True]]


class SearchRequest(RequestModel):
    """Body of ``POST /{account_id}/searches``."""

    name: DisplayName
    criteria: list[Any] | str = Field(description=CRITERIA_DESCRIPTION, examples=[CRITERIA_EXAMPLE])


class SearchUpdateRequest(RequestModel):
    """Body of ``PUT /{account_id}/searches/{search_id}``: what changes."""

    name: DisplayName | None = None
    criteria: list[Any] | str | None = Field(None, description=CRITERIA_DESCRIPTION, examples=[CRITERIA_EXAMPLE])


class SearchResponse(ResponseModel):
    search_id: int
    account_id: int
    name: str
    criteria: str
    active_count: int
    last_run_at: EmmaDate | None
    deleted_at: EmmaDate | None
    optout_count: int
    error_count: int

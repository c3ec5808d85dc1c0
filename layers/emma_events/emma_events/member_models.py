"""Members' models: ``POST /{account_id}/members/add`` and the member answers."""

from __future__ import annotations

from typing import Any

from emma_events.models import Email, EmmaDate, MemberFields, RequestModel, ResponseModel


class MemberAddRequest(RequestModel):
    """Body of ``POST /{account_id}/members/add``."""

    email: Email
    fields: MemberFields | None = None


class MemberAddResponse(ResponseModel):
    member_id: int
    added: bool
    status: str


class MemberResponse(ResponseModel):
    member_id: int
    account_id: int
    email: str
    fields: dict[str, Any]
    status: str
    member_since: EmmaDate

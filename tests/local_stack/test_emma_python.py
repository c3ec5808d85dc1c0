"""Emma's own Python client (github.com/myemma/EmmaPython, ee74f3c) against the local stack: its member flows keep
every field and list every member. It is Python 2 and not on PyPI, so its requests are replayed here as it makes
them, with ``requests`` as it does: the adapter's ``get``/``post``/``paginated_get`` and ``process_response``
(emma/adapter), ``Member.extract``/``save`` (emma/model/member.py) and ``fields.export_shortcuts``
(emma/model/account.py)."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests

from devtools.testing.stack_process import TEST_KEYS, RunningStack, dynamodb_client

pytestmark = pytest.mark.stores  # on moto, then again on DynamoDB Local

ACCOUNT = 1098
MAX_PAGE_SIZE = 500  # AbstractAdapter.MAX_PAGE_SIZE


class ApiRequestFailed(Exception):
    """EmmaPython raises ``ApiRequest400`` on a 400 and ``ApiRequestFailed`` on any other status above 200."""


class EmmaAdapter:
    """emma.adapter.requests_adapter.RequestsAdapter, with its base URL at the local stack."""

    def __init__(self, base_url: str, account_id: int) -> None:
        self.url = f"{base_url}/{account_id}"
        self.auth = requests.auth.HTTPBasicAuth(*TEST_KEYS[account_id])
        self.start, self.end, self.count_only = 0, MAX_PAGE_SIZE, False
        self.calls: list[tuple[str, str, dict[str, Any]]] = []

    def _process(self, response: requests.Response) -> Any:
        if response.status_code == 404:
            return None  # "no such thing": why a route not served must never answer 404
        if response.status_code > 200:
            raise ApiRequestFailed(response.status_code, response.text)
        return response.json()

    def _add_ons(self) -> dict[str, Any]:
        if self.count_only:
            return {"count": True}
        if self.start != 0 or self.end != MAX_PAGE_SIZE:
            return {"start": self.start, "end": self.end}
        return {}

    def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        params = {**(params or {}), **self._add_ons()}
        self.calls.append(("GET", path, params))
        return self._process(requests.get(self.url + path, params=params, auth=self.auth, timeout=60))

    def post(self, path: str, data: Any = None) -> Any:
        self.calls.append(("POST", path, {}))
        # a JSON text as the body, and no Content-Type: requests sends none for a str body
        return self._process(requests.post(self.url + path, data=json.dumps(data), auth=self.auth, timeout=60))

    def paginated_get(self, path: str, params: dict[str, Any] | None = None) -> list[Any]:
        def get_next() -> Any:
            items = self.get(path, params)
            self.start = self.end
            self.end = self.start + MAX_PAGE_SIZE
            return items

        items: list[Any] = []
        the_next = get_next()
        while the_next:
            items += the_next
            the_next = get_next() if len(items) == self.start else None
        self.start, self.end = 0, MAX_PAGE_SIZE
        return items


def export_shortcuts(adapter: EmmaAdapter) -> list[str]:
    """AccountFieldCollection.fetch_all + export_shortcuts."""
    return [field["shortcut_name"] for field in adapter.paginated_get("/fields", {})]


def save_member(adapter: EmmaAdapter, member: dict[str, Any]) -> dict[str, Any]:
    """Member.save of a new member: extract (member_id, email, and the fields the account lists), then _add."""
    extracted = {k: v for k, v in member.items() if k in ("member_id", "email")}
    shortcuts = export_shortcuts(adapter)
    fields = {k: v for k, v in member.items() if k in shortcuts}
    if fields:
        extracted["fields"] = fields
    outcome = adapter.post("/members/add", extracted)
    return {**member, "member_status_id": outcome["status"], "member_id": outcome["member_id"]}


def fetch_all_members(adapter: EmmaAdapter) -> dict[int, dict[str, Any]]:
    """AccountMemberCollection.fetch_all (a member's fields are flattened into it, as Member._parse_raw does)."""
    return {raw["member_id"]: {**raw, **raw["fields"]} for raw in adapter.paginated_get("/members", {})}


def test_member_save_keeps_every_field_the_account_lists(api_stack: RunningStack) -> None:
    emma = EmmaAdapter(api_stack.base_url, ACCOUNT)
    ada = save_member(emma, {"email": "ada@example.com", "first_name": "Ada", "last_name": "Lovelace"})
    assert emma.calls == [("GET", "/fields", {}), ("POST", "/members/add", {})]
    stored = emma.get(f"/members/{ada['member_id']}")
    assert stored["fields"] == {"first_name": "Ada", "last_name": "Lovelace"}

    assert emma.post("/fields", {"shortcut_name": "favorite_food", "display_name": "Favorite Food"}) == 3
    bob = save_member(emma, {"email": "bob@example.com", "first_name": "Bob", "favorite_food": "pie"})
    assert emma.get(f"/members/{bob['member_id']}")["fields"] == {"first_name": "Bob", "favorite_food": "pie"}
    assert emma.get("/members/email/bob@example.com")["member_id"] == bob["member_id"]


@pytest.mark.reference_only  # 521 members: moto's index Query reads its whole table, 16 times a page
def test_fetch_all_lists_every_member_over_emma_pages(api_stack: RunningStack) -> None:
    from devtools.testing.seeding import seed_members
    from emma_events.stores import Stores

    account = ACCOUNT - 1
    seeded = seed_members(
        Stores("EventsTable", dynamodb_client(api_stack.store_endpoint())), MAX_PAGE_SIZE + 20, account_id=account
    )
    emma = EmmaAdapter(api_stack.base_url, account)
    members = fetch_all_members(emma)
    assert sorted(members) == seeded
    assert members[seeded[7]]["n"] == seeded[7]  # its fields, flattened as EmmaPython does
    assert emma.calls == [("GET", "/members", {}), ("GET", "/members", {"start": 500, "end": 1000})]
    emma.count_only = True
    assert emma.get("/members") == len(seeded)

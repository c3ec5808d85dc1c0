"""Authentication and tenant isolation through the local stack: HTTP -> SAM's authorizer support -> our
authorizer -> the function. Every endpoint x {no credentials, malformed header, wrong private key, revoked key,
another account's valid key}."""

from __future__ import annotations

import re
from typing import Any

import pytest

from devtools.local_stack.template import api_functions
from devtools.testing.stack_process import TEST_KEYS, RunningStack, dynamodb_client

pytestmark = pytest.mark.stores  # on moto, then again on DynamoDB Local

VICTIM, ATTACKER, REVOKED_ACCOUNT = 1090, 1091, 1092
SECRETS = ("victim-secret-type", "victim-secret@example.com", "victim-secret-attribute")


@pytest.fixture(scope="module")
def stack(api_stack: RunningStack, run_once: Any) -> RunningStack:
    """The shared stack (tests/conftest.py), with the victim's data, which no other credentials may see, and a
    key of its own account, revoked straight in the stack's table (once for the run). This module's accounts are
    its own."""

    def setup() -> None:
        from emma_events.api_key_store import ApiKeyStore

        api_stack.request("POST", f"/{VICTIM}/events", {"event_type": SECRETS[0], "display_name": "Secret"})
        member = api_stack.request("POST", f"/{VICTIM}/members/add", {"email": SECRETS[1]}).json["member_id"]
        events = [{"member_id": member, "event_type": SECRETS[0], "attributes": {"note": SECRETS[2]}}]
        assert api_stack.request("POST", f"/{VICTIM}/events/members", {"events": events}).status == 200
        search = {"name": "Secret", "criteria": [f"event:{SECRETS[0]}"]}
        assert api_stack.request("POST", f"/{VICTIM}/searches", search).status == 200
        ApiKeyStore("EventsTable", dynamodb_client(api_stack.store_endpoint())).revoke_api_key(
            REVOKED_ACCOUNT, TEST_KEYS[REVOKED_ACCOUNT][0]
        )

    run_once("security-victim", setup)
    return api_stack


def concrete(path: str, account: int) -> str:
    values = {
        "account_id": str(account),
        "event_type_id": "1",
        "member_id": "1",
        "search_id": "1",
        "email": "victim-secret%40example.com",
    }
    return re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], path)


ROUTES = sorted((f["method"], f["path"]) for f in api_functions().values())
BODIES = {"POST": {"event_type": "x", "display_name": "x", "email": "a@example.com", "events": []}, "PUT": {"x": 1}}
CASES = {
    "no credentials": (None, 401),
    "malformed header": ("Basic %%%not-base64", 401),
    "wrong private key": ((TEST_KEYS[VICTIM][0], "not-the-private-key"), 401),
    "revoked key": (TEST_KEYS[REVOKED_ACCOUNT], 401),
    "another account's valid key": (TEST_KEYS[ATTACKER], 403),
}


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_every_endpoint_refuses_what_is_not_the_accounts_own_key(
    stack: RunningStack, method: str, path: str, case: str
) -> None:
    credentials, status = CASES[case]
    target = concrete(path, VICTIM if case != "revoked key" else REVOKED_ACCOUNT)
    if isinstance(credentials, str):
        reply = stack.request(method, target, BODIES.get(method), auth=None, headers={"Authorization": credentials})
    else:
        reply = stack.request(method, target, BODIES.get(method), auth=credentials)
    assert reply.status == status, (method, target, reply.text)
    assert not any(secret in reply.text for secret in SECRETS)
    assert reply.content_type == "application/problem+json"
    assert reply.json["type"] == f"urn:emma-events:problem:{'unauthorized' if status == 401 else 'forbidden'}"
    assert reply.json["status"] == status


def test_the_accounts_own_key_reads_its_data(stack: RunningStack) -> None:
    listed = stack.request("GET", f"/{VICTIM}/events")
    assert listed.status == 200
    assert [t["event_type"] for t in listed.json] == [SECRETS[0]]


def test_the_401_and_403_bodies_do_not_reveal_whether_an_account_or_key_exists(stack: RunningStack) -> None:
    unknown_key = stack.request("GET", f"/{VICTIM}/events", auth=("no-such-public-key", "x"))
    wrong_private = stack.request("GET", f"/{VICTIM}/events", auth=(TEST_KEYS[VICTIM][0], "x"))
    assert unknown_key.status == wrong_private.status == 401
    assert unknown_key.text == wrong_private.text
    no_such_account = stack.request("GET", "/987654/events", auth=TEST_KEYS[ATTACKER])
    other_account = stack.request("GET", f"/{VICTIM}/events", auth=TEST_KEYS[ATTACKER])
    assert no_such_account.status == other_account.status == 403
    assert no_such_account.text == other_account.text


# --- colliding ids: accounts 1, 2 and 10, each with event types and members 1 and 2 -----------------------------

COLLIDING = (1, 2, 10)
#: Bodies that would change the victim's data if they got through.
WRITES = {
    "POST /{account_id}/events": {"event_type": "planted", "display_name": "Planted"},
    "PUT /{account_id}/events/{event_type_id}": {"event_type": "renamed", "display_name": "Renamed"},
    "POST /{account_id}/members/add": {"email": "planted@example.com"},
    "POST /{account_id}/searches": {"name": "planted", "criteria": ["event:purchase"]},
    "PUT /{account_id}/searches/{search_id}": {"name": "renamed", "criteria": ["not", ["event:purchase"]]},
    "POST /{account_id}/events/members": {
        "events": [{"member_id": 1, "event_type_id": 1}, {"email": "ada@example.com", "event_type": "planted"}]
    },
}


def snapshot(stack: RunningStack, account: int) -> dict[str, Any]:
    """Everything of an account, read with its own key."""
    seen: dict[str, Any] = {"types": stack.request("GET", f"/{account}/events").json}
    for member in (1, 2):
        seen[f"member {member}"] = stack.request("GET", f"/{account}/members/{member}").json
        seen[f"events of {member}"] = stack.request("GET", f"/{account}/events/members/{member}").json
    seen["by email"] = stack.request("GET", f"/{account}/members/email/ada%40example.com").json
    seen["searches"] = stack.request("GET", f"/{account}/searches").json
    return seen


@pytest.fixture(scope="module")
def colliding(stack: RunningStack, run_once: Any) -> dict[int, dict[str, Any]]:
    before = run_once("security-colliding", lambda: [[a, s] for a, s in seed_colliding(stack).items()])
    return {account: seen for account, seen in before}


def seed_colliding(stack: RunningStack) -> dict[int, dict[str, Any]]:
    for account in COLLIDING:
        for name in ("purchase", "signup"):
            assert stack.request("POST", f"/{account}/events", {"event_type": name, "display_name": name}).status == 200
        for email in ("ada@example.com", "bob@example.com"):
            assert stack.request("POST", f"/{account}/members/add", {"email": email}).status == 200
        events = [
            {"member_id": m, "event_type_id": t, "attributes": {"owner": account}} for m in (1, 2) for t in (1, 2)
        ]
        assert stack.request("POST", f"/{account}/events/members", {"events": events}).status == 200
        for name in ("purchase", "signup"):
            assert stack.request("POST", f"/{account}/searches", {"name": name, "criteria": [f"event:{name}"]}).json
    before = {account: snapshot(stack, account) for account in COLLIDING}
    assert before[1]["member 1"]["member_id"] == before[2]["member 1"]["member_id"] == 1  # the ids do collide
    return before


PAIRS = [(1, 2), (2, 1), (1, 10), (10, 1)]


def attack(stack: RunningStack, method: str, path: str, record: int, attacker: int, victim: int) -> Any:
    """Account ``attacker``'s key on account ``victim``'s path, with record ids equal to either account's id."""
    values = {
        "account_id": str(victim),
        "event_type_id": str(record),
        "member_id": str(record),
        "search_id": str(record),
    }
    values["email"] = "ada%40example.com"
    target = re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], path)
    return stack.request(method, target, WRITES.get(f"{method} {path}"), auth=TEST_KEYS[attacker])


@pytest.mark.parametrize(("attacker", "victim"), PAIRS)
@pytest.mark.parametrize("record", [1, 2])
@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_no_route_reaches_another_account_whose_ids_collide(
    stack: RunningStack,
    colliding: dict[int, dict[str, Any]],
    method: str,
    path: str,
    record: int,
    attacker: int,
    victim: int,
) -> None:
    reply = attack(stack, method, path, record, attacker, victim)
    assert reply.status == 403, (method, path, record, attacker, victim, reply.text)
    assert reply.json["type"] == "urn:emma-events:problem:forbidden"
    assert "ada@example.com" not in reply.text


def test_no_attack_changes_anything_of_any_account(stack: RunningStack, colliding: dict[int, dict[str, Any]]) -> None:
    """Every write route, every colliding id, every pair; then each account reads back exactly what it had."""
    for method, path in ROUTES:
        if method != "GET":
            for attacker, victim in PAIRS:
                for record in (1, 2):
                    attack(stack, method, path, record, attacker, victim)
    for account in COLLIDING:
        assert snapshot(stack, account) == colliding[account], account

"""Authentication and tenant isolation through the local stack: HTTP -> SAM's authorizer support -> our
authorizer -> the function. Every endpoint x {no credentials, malformed header, wrong private key, revoked key,
another account's valid key}."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from devtools.stack import TEST_KEYS, RunningStack, dynamodb_client, running_stack
from devtools.template import api_functions

VICTIM, ATTACKER, REVOKED_ACCOUNT = 1090, 1091, 1092
SECRETS = ("victim-secret-type", "victim-secret@example.com", "victim-secret-attribute")


@pytest.fixture(scope="module")
def stack() -> Iterator[RunningStack]:
    with running_stack() as running:
        # The victim's data, which no other credentials may see.
        running.request("POST", f"/{VICTIM}/events", {"event_type": SECRETS[0], "display_name": "Secret"})
        member = running.request("POST", f"/{VICTIM}/members/add", {"email": SECRETS[1]}).json["member_id"]
        events = [{"member_id": member, "event_type": SECRETS[0], "attributes": {"note": SECRETS[2]}}]
        assert running.request("POST", f"/{VICTIM}/events/members", {"events": events}).status == 200
        # A key of its own account, then revoked, straight in the stack's table.
        import sys

        from devtools.stack import ROOT

        sys.path.insert(0, str(ROOT / "layers" / "emma_events"))
        from emma_events.repository import Repository

        endpoint = re.search(r"\(moto\) at (http://[0-9.]+:[0-9]+)", running.log())
        assert endpoint
        Repository("EventsTable", dynamodb_client(endpoint.group(1))).revoke_api_key(
            REVOKED_ACCOUNT, TEST_KEYS[REVOKED_ACCOUNT][0]
        )
        yield running


def concrete(path: str, account: int) -> str:
    values = {
        "account_id": str(account),
        "event_type_id": "1",
        "member_id": "1",
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

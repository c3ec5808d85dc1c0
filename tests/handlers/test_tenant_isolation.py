"""Tenant isolation below HTTP, with ids that collide on purpose.

1. The authorizer's policy, evaluated with the matching rules API Gateway and IAM use for ``execute-api``
   resources, against every route of template.yaml: an account's policy allows its own paths and no other
   account's, whatever the record ids (equal to the account id, prefixes of it, at the 2^53-1 limit).
2. The functions' own check: every API function answers 403 to a path of another account than the one the
   authorizer vouched for, before it reads or writes anything.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from devtools.local_stack.template import api_functions, resources
from devtools.testing.events import api_event
from devtools.testing.in_process import invoke
from emma_events.auth import API_METHODS, allow_policy

API = api_functions()
ROUTES = sorted((f["method"], f["path"]) for f in API.values())
ARN_PREFIX = "arn:aws:execute-api:us-east-1:123456789012:abcdef1234"
STAGE = "v1"
MAX_ID = 2**53 - 1


# --- the matching rules -------------------------------------------------------------------------------------------


def iam_matches(pattern: str, value: str) -> bool:
    """An IAM resource pattern as API Gateway evaluates an authorizer's policy: ``*`` is any run of characters,
    ``/`` included; ``?`` is exactly one character; everything else is literal and case-sensitive."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, flags=re.DOTALL) is not None


def allows(policy: dict[str, Any], method_arn: str) -> bool:
    """IAM's decision for ``execute-api:Invoke`` on ``method_arn``: an explicit Deny wins, else any Allow."""
    decisions = set()
    for statement in policy["policyDocument"]["Statement"]:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        if not any(iam_matches(action, "execute-api:Invoke") for action in actions):
            continue
        patterns = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        if any(iam_matches(pattern, method_arn) for pattern in patterns):
            decisions.add(statement["Effect"])
    return "Deny" not in decisions and "Allow" in decisions


def test_the_matcher_follows_iams_rules() -> None:
    """The rules the old ``…/*/<account>`` policy fell to: ``*`` crosses ``/``."""
    assert iam_matches("a/v1/*/1", "a/v1/GET/2/members/1")
    assert iam_matches("a/v1/GET/1/*", "a/v1/GET/1/members/2")
    assert not iam_matches("a/v1/GET/1/*", "a/v1/GET/10/members")
    assert iam_matches("a/v1/GET/?", "a/v1/GET/1")
    assert not iam_matches("a/v1/GET/?", "a/v1/GET/10")
    assert not iam_matches("a/v1/get/1", "a/v1/GET/1")
    assert not iam_matches("a.v1", "aXv1")


# --- the policy -------------------------------------------------------------------------------------------------


def method_arn(method: str, route: str, account: int, ids: dict[str, str]) -> str:
    values = {"account_id": str(account), **ids}
    path = re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], route)
    return f"{ARN_PREFIX}/{STAGE}/{method}{path}"


def policy_of(account: int, produced_by: str = "GET/7/events") -> dict[str, Any]:
    """The authorizer's policy for ``account``'s key, produced by any request (the cache reuses it for all)."""
    return allow_policy(f"{ARN_PREFIX}/{STAGE}/{produced_by}", account, "public-key", None)


def segment_values(attacker: int, victim: int) -> list[str]:
    """Record ids and emails that collide with both accounts: equal, prefixes, extensions, the limit."""
    numbers = {attacker, victim, 1, 2, 10, 100, MAX_ID}
    for n in (attacker, victim):
        text = str(n)
        numbers |= {int(text[:-1]) if len(text) > 1 else n, int(text + "0") if n < MAX_ID // 10 else n}
    values = [str(n) for n in sorted(numbers)]
    return [*values, f"{attacker}%40example.com", f"{victim}@example.com"]


def test_the_policy_names_every_method_the_api_has() -> None:
    assert {method for method, _ in ROUTES} <= set(API_METHODS)


def test_no_wildcard_stands_before_the_account_segment() -> None:
    for statement in policy_of(100)["policyDocument"]["Statement"]:
        for resource in statement["Resource"]:
            assert resource.startswith(f"{ARN_PREFIX}/")
            stage, method, account, *rest = resource[len(ARN_PREFIX) + 1 :].split("/")
            assert (stage, account) == (STAGE, "100"), resource
            assert method in API_METHODS, resource
            assert rest in ([], ["*"]), resource


@pytest.mark.parametrize(("method", "route"), ROUTES)
def test_an_account_reaches_every_route_of_its_own(method: str, route: str) -> None:
    for account in (1, 10, 100, MAX_ID):
        for value in segment_values(account, account):
            ids = {"event_type_id": value, "member_id": value, "search_id": value, "email": value}
            assert allows(policy_of(account), method_arn(method, route, account, ids)), (account, route, value)


COLLIDING_PAIRS = [
    (1, 2),
    (2, 1),
    (1, 10),
    (10, 1),
    (1, 100),
    (100, 1),
    (10, 100),
    (100, 10),
    (1, 11),
    (MAX_ID, MAX_ID // 10),
    (MAX_ID // 10, MAX_ID),
    (MAX_ID - 1, MAX_ID),
]


@pytest.mark.parametrize(("attacker", "victim"), COLLIDING_PAIRS)
@pytest.mark.parametrize(("method", "route"), ROUTES)
def test_no_account_reaches_another_accounts_route(attacker: int, victim: int, method: str, route: str) -> None:
    policy = policy_of(attacker, produced_by=f"{method}/{attacker}/events")
    for value in segment_values(attacker, victim):
        ids = {"event_type_id": value, "member_id": value, "search_id": value, "email": value}
        assert not allows(policy, method_arn(method, route, victim, ids)), (attacker, victim, route, value)


ids = st.one_of(
    st.sampled_from([1, 2, 10, 11, 100, 101, 1000, 2**31 - 1, 2**31, MAX_ID // 10, MAX_ID - 1, MAX_ID]),
    st.integers(min_value=1, max_value=MAX_ID),
)


@st.composite
def attacks(draw: Any) -> tuple[int, int, str, str, dict[str, str], str]:
    """An attacker and a victim account (often a prefix or an extension of each other), a route, record ids drawn
    from both accounts' ids, and the request that produced the cached policy."""
    attacker = draw(ids)
    victim = draw(
        st.one_of(
            ids,
            st.just(int(str(attacker) + str(draw(st.integers(0, 999))))).filter(lambda v: v <= MAX_ID),
            st.just(int(str(attacker)[:-1] or "1")),
        ).filter(lambda v: v != attacker)
    )
    method, route = draw(st.sampled_from(ROUTES))
    record = st.one_of(st.sampled_from(segment_values(attacker, victim)), ids.map(str))
    chosen = {
        "event_type_id": draw(record),
        "member_id": draw(record),
        "search_id": draw(record),
        "email": draw(record),
    }
    produced_by = draw(st.sampled_from([f"{m}/{a}{r}" for m, r in ROUTES for a in (attacker, victim)]))
    return attacker, victim, method, route, chosen, re.sub(r"\{\w+\}", "1", produced_by)


@settings(max_examples=400, deadline=None)
@given(attacks())
@example(
    (
        1,
        2,
        "GET",
        "/{account_id}/members/{member_id}",
        {"event_type_id": "1", "member_id": "1", "search_id": "1", "email": "1"},
        "GET/1/events",
    )
)
@example(
    (
        2,
        1,
        "DELETE",
        "/{account_id}/events/{event_type_id}",
        {"event_type_id": "2", "member_id": "2", "search_id": "2", "email": "2"},
        "GET/2/events",
    )
)
def test_a_policy_allows_exactly_its_own_accounts_paths(attack: tuple[int, int, str, str, dict[str, str], str]) -> None:
    attacker, victim, method, route, chosen, produced_by = attack
    policy = policy_of(attacker, produced_by)
    assert not allows(policy, method_arn(method, route, victim, chosen))
    assert allows(policy, method_arn(method, route, attacker, chosen))


# --- the functions' own check -----------------------------------------------------------------------------------

VICTIM, ATTACKER = 2, 1


def _access_denied() -> dict[str, Any]:
    (api,) = resources("AWS::Serverless::Api").values()
    return dict(
        json.loads(api["Properties"]["GatewayResponses"]["ACCESS_DENIED"]["ResponseTemplates"]["application/json"])
    )


def _event_for(name: str, authorized_account: Any) -> dict[str, Any]:
    folder = Path(API[name]["code_uri"]).name
    ids = {key: 1 for key in ("event_type_id", "member_id", "search_id") if "{" + key + "}" in API[name]["path"]}
    return api_event(folder, path={"account_id": VICTIM, **ids}, authorized_account=authorized_account)


@pytest.fixture
def two_accounts(dynamodb: Any) -> None:
    """Accounts 1 and 2, each with event type 1 "purchase" and member 1 ada@example.com: every id collides."""
    from emma_events.stores import Stores

    stores = Stores.of_this_container()
    for account in (ATTACKER, VICTIM):
        stores.event_types.create_event_type(account, "purchase", "Purchase")
        stores.members.add_member(account, "ada@example.com", {"first_name": "Ada"})


@pytest.mark.moto_only  # refused before any DynamoDB call: the store cannot change the outcome
@pytest.mark.parametrize("authorized", [ATTACKER, 20, None], ids=["another account", "a longer id", "no context"])
@pytest.mark.parametrize("name", sorted(API))
def test_every_api_function_refuses_a_path_of_another_account(
    two_accounts: None, table_items: Any, name: str, authorized: int | None
) -> None:
    """Every function of template.yaml, so a function added without the shared entry point fails here."""
    before = table_items()
    result = invoke(Path(API[name]["code_uri"]).name, _event_for(name, authorized))
    assert result.status == 403, result.body
    assert result.content_type == "application/problem+json"
    assert result.body == _access_denied()
    assert table_items() == before


@pytest.mark.stores
@pytest.mark.parametrize("name", sorted(API))
def test_the_same_call_with_the_accounts_own_context_is_served(two_accounts: None, name: str) -> None:
    """The control: what makes the 403 above is the context, nothing else in the event."""
    result = invoke(Path(API[name]["code_uri"]).name, _event_for(name, VICTIM))
    assert result.status != 403, result.body
    assert result.status < 500, result.body

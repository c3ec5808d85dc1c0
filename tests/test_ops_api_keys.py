"""ops.api_keys against a table and a stubbed API Gateway: revocation in seconds, one rate limit per account."""

from __future__ import annotations

import io
import json
import os
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from ops.api_keys import main

pytestmark = pytest.mark.stores  # on moto, then again on DynamoDB Local

PLAN, API, STAGE = "plan-1", "api-1", "v1"


class Clients:
    """boto3.client with API Gateway replaced by a stub whose expected calls the test lists."""

    def __init__(self) -> None:
        self.apigateway = boto3.client("apigateway", region_name="us-east-1")
        self.stub = Stubber(self.apigateway)

    def __call__(self, service: str, **kwargs: Any) -> Any:
        return self.apigateway if service == "apigateway" else boto3.client(service, **kwargs)

    def keys_named(self, account: int, *keys: tuple[str, str, bool]) -> None:
        """get_api_keys answers these (id, value, enabled), plus account 10's, which the prefix query also finds."""
        items = [
            {
                "id": i,
                "value": v,
                "name": f"emma-events-account-{account}",
                "enabled": e,
                "createdDate": datetime(2026, 1, n + 1, tzinfo=UTC),
            }
            for n, (i, v, e) in enumerate(keys)
        ]
        items.append({"id": "k-10", "value": "v-10", "name": f"emma-events-account-{account}0", "enabled": True})
        self.stub.add_response("get_api_keys", {"items": items}, self.query(account))

    @staticmethod
    def query(account: int, position: str | None = None) -> dict[str, Any]:
        return {"nameQuery": f"emma-events-account-{account}", "includeValues": True, "limit": 500} | (
            {"position": position} if position else {}
        )


def run(clients: Clients, *argv: str) -> tuple[int, list[str]]:
    out = io.StringIO()
    code = main([*argv, "--table", os.environ["TABLE_NAME"]], out, client=clients)
    return code, out.getvalue().splitlines()


def revoke(clients: Clients, public_key: str, account: int = 100) -> tuple[int, list[str]]:
    """``revoke`` with the stack's outputs (the authorizer cache is flushed)."""
    return run(
        clients, "revoke", "--account", str(account), "--public-key", public_key, "--rest-api-id", API, "--stage", STAGE
    )


def create(clients: Clients, account: int = 100) -> dict[str, Any]:
    code, lines = run(clients, "create", "--account", str(account), "--usage-plan-id", PLAN)
    assert code == 0
    return dict(json.loads(lines[0]))


def test_every_key_of_an_account_presents_the_same_usage_identifier(dynamodb: Any) -> None:
    from emma_events.api_key_store import ApiKeyStore

    clients = Clients()
    clients.keys_named(100)  # the account's first key: none yet, so one is created and put in the plan
    clients.stub.add_response(
        "create_api_key",
        {"id": "k-1", "value": "v-1"},
        {"name": "emma-events-account-100", "enabled": True, "generateDistinctId": True},
    )
    clients.stub.add_response("create_usage_plan_key", {}, {"usagePlanId": PLAN, "keyId": "k-1", "keyType": "API_KEY"})
    clients.keys_named(100, ("k-1", "v-1", True))  # the second key finds it
    with clients.stub:
        first, second = create(clients), create(clients)
    clients.stub.assert_no_pending_responses()
    store = ApiKeyStore(os.environ["TABLE_NAME"])
    assert store.find_api_key(first["public_key"]).usage_key == "v-1"
    assert store.find_api_key(second["public_key"]).usage_key == "v-1"


def test_the_accounts_key_is_found_past_the_first_page_of_keys(dynamodb: Any) -> None:
    """More than 500 keys begin with account 1's name (10's, 100's, 1000's...): its own is on the second page, so
    no second usage-plan key is created (which would double the account's rate)."""
    clients = Clients()
    others = [{"id": f"k-{n}", "value": f"v-{n}", "name": f"emma-events-account-1{n}"} for n in range(500)]
    own = {"id": "k-1", "value": "v-1", "name": "emma-events-account-1", "createdDate": datetime.now(UTC)}
    clients.stub.add_response("get_api_keys", {"items": others, "position": "page-2"}, clients.query(1))
    clients.stub.add_response("get_api_keys", {"items": [own]}, clients.query(1, "page-2"))
    with clients.stub:  # create_api_key is not expected: the stub would refuse it
        created = create(clients, account=1)
    clients.stub.assert_no_pending_responses()
    from emma_events.api_key_store import ApiKeyStore

    assert ApiKeyStore(os.environ["TABLE_NAME"]).find_api_key(created["public_key"]).usage_key == "v-1"


def test_revoking_flushes_the_authorizer_cache_and_keeps_a_shared_usage_key(dynamodb: Any) -> None:
    clients = Clients()
    clients.keys_named(100, ("k-1", "v-1", True))
    clients.keys_named(100, ("k-1", "v-1", True))
    clients.keys_named(100, ("k-1", "v-1", True))
    clients.stub.add_response("flush_stage_authorizers_cache", {}, {"restApiId": API, "stageName": STAGE})
    with clients.stub:
        first, _ = create(clients), create(clients)
        code, lines = revoke(clients, first["public_key"])
    assert code == 0
    clients.stub.assert_no_pending_responses()  # the flush was made, and nothing disabled the shared key
    assert any("flushed the authorizer cache of stage v1 of API api-1" in line for line in lines)
    assert any("left usage-plan key k-1 enabled" in line for line in lines)


def test_revoking_the_last_key_disables_the_usage_key_too(dynamodb: Any) -> None:
    clients = Clients()
    clients.keys_named(100, ("k-1", "v-1", True))
    clients.keys_named(100, ("k-1", "v-1", True))
    clients.stub.add_response(
        "update_api_key",
        {},
        {"apiKey": "k-1", "patchOperations": [{"op": "replace", "path": "/enabled", "value": "false"}]},
    )
    clients.stub.add_response("flush_stage_authorizers_cache", {}, {"restApiId": API, "stageName": STAGE})
    with clients.stub:
        only = create(clients)
        code, lines = revoke(clients, only["public_key"])
    assert code == 0
    clients.stub.assert_no_pending_responses()
    assert any("disabled usage-plan key k-1" in line for line in lines)


def test_another_accounts_key_is_not_revoked_and_nothing_is_flushed(dynamodb: Any) -> None:
    clients = Clients()
    clients.keys_named(100, ("k-1", "v-1", True))
    with clients.stub:  # no flush, no update expected: the stub would refuse them
        key = create(clients)
        code, _ = revoke(clients, key["public_key"], account=200)
    assert code == 1


def test_unify_moves_an_account_to_one_usage_key(dynamodb: Any) -> None:
    """Keys made when each got its own usage-plan key: after unify, all present the oldest; the others are gone."""
    from emma_events.api_key_store import ApiKeyStore

    store = ApiKeyStore(os.environ["TABLE_NAME"])
    old = [store.create_api_key(100, usage_key=value).public_key for value in ("v-1", "v-2")]
    clients = Clients()
    clients.keys_named(100, ("k-1", "v-1", True), ("k-2", "v-2", True))
    clients.keys_named(100, ("k-1", "v-1", True), ("k-2", "v-2", True))
    clients.stub.add_response("delete_usage_plan_key", {}, {"usagePlanId": PLAN, "keyId": "k-2"})
    clients.stub.add_response(
        "update_api_key",
        {},
        {"apiKey": "k-2", "patchOperations": [{"op": "replace", "path": "/enabled", "value": "false"}]},
    )
    with clients.stub:
        code, _ = run(clients, "unify", "--account", "100", "--usage-plan-id", PLAN)
    assert code == 0
    clients.stub.assert_no_pending_responses()
    assert [store.find_api_key(k).usage_key for k in old] == ["v-1", "v-1"]


@pytest.mark.parametrize(
    "argv", [["revoke", "--account", "1", "--public-key", "p", "--rest-api-id", API], ["unify", "--account", "1"]]
)
def test_incomplete_arguments_are_refused(dynamodb: Any, argv: list[str]) -> None:
    with pytest.raises(SystemExit):
        main([*argv, "--table", "t"], io.StringIO(), client=Clients())

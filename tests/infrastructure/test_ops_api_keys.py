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

    def in_plan(
        self, account: int, *keys: tuple[str, str, bool], legacy: tuple[tuple[str, str, bool], ...] = ()
    ) -> None:
        """The plan's keys of the account answer these (id, value, enabled) under the name that names the plan, and
        ``legacy`` under the older name; the prefix query also finds account 10's, which must be left out."""
        for name, found in ((scoped(account), keys), (f"emma-events-account-{account}", legacy)):
            items = [{"id": i, "value": v, "name": name, "type": "API_KEY"} for i, v, _ in found]
            items.append({"id": "k-10", "value": "v-10", "name": f"{name}0", "type": "API_KEY"})
            self.stub.add_response("get_usage_plan_keys", {"items": items}, self.query(name))
        for n, (i, v, e) in enumerate((*keys, *legacy)):
            name = scoped(account) if n < len(keys) else f"emma-events-account-{account}"
            created = datetime(2026, 1, n + 1, tzinfo=UTC)
            answer = {"id": i, "value": v, "name": name, "enabled": e, "createdDate": created}
            self.stub.add_response("get_api_key", answer, {"apiKey": i, "includeValue": True})

    def create_then_revoke_the_last_key(self) -> None:
        """create finds account 100's key k-1 in the plan; revoke finds it again and, no other key presenting it,
        disables it; then the stage's authorizer cache is flushed."""
        self.in_plan(100, ("k-1", "v-1", True))
        self.in_plan(100, ("k-1", "v-1", True))
        disable = [{"op": "replace", "path": "/enabled", "value": "false"}]
        self.stub.add_response("update_api_key", {}, {"apiKey": "k-1", "patchOperations": disable})
        self.stub.add_response("flush_stage_authorizers_cache", {}, {"restApiId": API, "stageName": STAGE})

    @staticmethod
    def query(name: str, position: str | None = None) -> dict[str, Any]:
        return {"usagePlanId": PLAN, "nameQuery": name, "limit": 500} | ({"position": position} if position else {})


def scoped(account: int) -> str:
    return f"emma-events-{PLAN}-account-{account}"


def run(clients: Clients, *argv: str) -> tuple[int, list[str]]:
    out = io.StringIO()
    code = main([*argv, "--table", os.environ["TABLE_NAME"]], out, client=clients)
    return code, out.getvalue().splitlines()


def revoke(clients: Clients, public_key: str, account: int = 100) -> tuple[int, list[str]]:
    """``revoke`` with the stack's outputs (the usage-plan key may be disabled, the authorizer cache is flushed)."""
    outputs = ["--usage-plan-id", PLAN, "--rest-api-id", API, "--stage", STAGE]
    return run(clients, "revoke", "--account", str(account), "--public-key", public_key, *outputs)


def create(clients: Clients, account: int = 100) -> dict[str, Any]:
    code, lines = run(clients, "create", "--account", str(account), "--usage-plan-id", PLAN)
    assert code == 0
    return dict(json.loads(lines[0]))


def test_every_key_of_an_account_presents_the_same_usage_identifier(dynamodb: Any) -> None:
    from emma_events.api_key_store import ApiKeyStore

    clients = Clients()
    clients.in_plan(100)  # the account's first key: none yet, so one is created and put in the plan
    clients.stub.add_response(
        "create_api_key",
        {"id": "k-1", "value": "v-1"},
        {"name": scoped(100), "enabled": True, "generateDistinctId": True},
    )
    clients.stub.add_response("create_usage_plan_key", {}, {"usagePlanId": PLAN, "keyId": "k-1", "keyType": "API_KEY"})
    clients.in_plan(100, ("k-1", "v-1", True))  # the second key finds it
    with clients.stub:
        first, second = create(clients), create(clients)
    clients.stub.assert_no_pending_responses()
    store = ApiKeyStore(os.environ["TABLE_NAME"])
    assert store.find_api_key(first["public_key"]).usage_key == "v-1"
    assert store.find_api_key(second["public_key"]).usage_key == "v-1"


def test_the_accounts_key_is_found_past_the_first_page_of_keys(dynamodb: Any) -> None:
    """More than 500 of the plan's keys begin with account 1's name (10's, 100's, 1000's...): its own is on the
    second page, so no second usage-plan key is created (which would double the account's rate)."""
    clients = Clients()
    others = [{"id": f"k-{n}", "value": f"v-{n}", "name": f"{scoped(1)}{n}"} for n in range(500)]
    own = {"id": "k-1", "value": "v-1", "name": scoped(1)}
    clients.stub.add_response("get_usage_plan_keys", {"items": others, "position": "page-2"}, clients.query(scoped(1)))
    clients.stub.add_response("get_usage_plan_keys", {"items": [own]}, clients.query(scoped(1), "page-2"))
    clients.stub.add_response("get_usage_plan_keys", {"items": []}, clients.query("emma-events-account-1"))
    clients.stub.add_response(
        "get_api_key",
        own | {"enabled": True, "createdDate": datetime.now(UTC)},
        {"apiKey": "k-1", "includeValue": True},
    )
    with clients.stub:  # create_api_key is not expected: the stub would refuse it
        created = create(clients, account=1)
    clients.stub.assert_no_pending_responses()
    from emma_events.api_key_store import ApiKeyStore

    assert ApiKeyStore(os.environ["TABLE_NAME"]).find_api_key(created["public_key"]).usage_key == "v-1"


def test_revoking_flushes_the_authorizer_cache_and_keeps_a_shared_usage_key(dynamodb: Any) -> None:
    clients = Clients()
    clients.in_plan(100, ("k-1", "v-1", True))
    clients.in_plan(100, ("k-1", "v-1", True))
    clients.in_plan(100, ("k-1", "v-1", True))
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
    clients.create_then_revoke_the_last_key()
    with clients.stub:
        only = create(clients)
        code, lines = revoke(clients, only["public_key"])
    assert code == 0
    clients.stub.assert_no_pending_responses()
    assert any("disabled usage-plan key k-1" in line for line in lines)


def test_another_accounts_key_is_not_revoked_and_nothing_is_flushed(dynamodb: Any) -> None:
    clients = Clients()
    clients.in_plan(100, ("k-1", "v-1", True))
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
    clients.in_plan(100, ("k-1", "v-1", True), ("k-2", "v-2", True))
    clients.in_plan(100, ("k-1", "v-1", True), ("k-2", "v-2", True))
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


def test_two_stacks_in_one_region_give_an_account_two_keys_and_adopt_the_old_one(dynamodb: Any) -> None:
    """API keys are region-wide. An account's key made before names named the plan (emma-events-account-100, in
    dev's plan) is adopted by dev and never handed to prod, whose answers would otherwise be 403: prod gets its
    own key, in its own plan."""
    from emma_events.api_key_store import ApiKeyStore

    apigateway = boto3.client("apigateway")
    dev, prod = (apigateway.create_usage_plan(name=n)["id"] for n in ("dev", "prod"))
    old = apigateway.create_api_key(name="emma-events-account-100", enabled=True)
    apigateway.create_usage_plan_key(usagePlanId=dev, keyId=old["id"], keyType="API_KEY")
    table = os.environ["TABLE_NAME"]

    def create_in(plan: str) -> str:
        out = io.StringIO()
        assert main(["create", "--table", table, "--account", "100", "--usage-plan-id", plan], out) == 0
        public_key = json.loads(out.getvalue().splitlines()[-1])["public_key"]
        return str(ApiKeyStore(table).find_api_key(public_key).usage_key)

    assert create_in(prod) != old["value"]
    assert create_in(dev) == old["value"]
    assert create_in(prod) == create_in(prod)  # one key per account and plan
    (in_prod,) = apigateway.get_usage_plan_keys(usagePlanId=prod)["items"]
    assert in_prod["name"] == f"emma-events-{prod}-account-100"
    (in_dev,) = apigateway.get_usage_plan_keys(usagePlanId=dev)["items"]
    assert apigateway.get_api_key(apiKey=in_dev["id"])["name"] == f"emma-events-{dev}-account-100"  # adopted


def test_the_stacks_outputs_give_the_table_plan_api_and_stage(dynamodb: Any) -> None:
    """--stack reads what make keys needs from the deployed stack: no id is pasted by hand."""
    cloudformation = boto3.client("cloudformation", region_name="us-east-1")
    outputs = {"TableName": os.environ["TABLE_NAME"], "UsagePlanId": PLAN, "RestApiId": API, "StageName": STAGE}
    stack = {
        "StackName": "emma-events-dev",
        "CreationTime": datetime.now(UTC),
        "StackStatus": "UPDATE_COMPLETE",
        "Outputs": [{"OutputKey": k, "OutputValue": v} for k, v in outputs.items()],
    }
    clients = Clients()
    described = Stubber(cloudformation)
    described.add_response("describe_stacks", {"Stacks": [stack]}, {"StackName": "emma-events-dev"})
    clients.create_then_revoke_the_last_key()
    with clients.stub, described:
        _code, lines = run(clients, "create", "--account", "100", "--usage-plan-id", PLAN)
        created = json.loads(lines[0])
        out = io.StringIO()
        pick = lambda service, **kw: cloudformation if service == "cloudformation" else clients(service, **kw)  # noqa: E731
        argv = ["revoke", "--stack", "emma-events-dev", "--account", "100", "--public-key", created["public_key"]]
        assert main(argv, out, client=pick) == 0
    clients.stub.assert_no_pending_responses()
    described.assert_no_pending_responses()
    assert "flushed the authorizer cache of stage v1 of API api-1" in out.getvalue()

"""Create, list and revoke an account's API keys, in the deployed table or the local stack's.

    python -m ops.api_keys create --stack <stack name> --account 100
    python -m ops.api_keys list   --stack <stack name> --account 100
    python -m ops.api_keys revoke --stack <stack name> --account 100 --public-key <public key>
    python -m ops.api_keys unify  --stack <stack name> --account 100

``--stack`` (or ``--env``, a samconfig.toml environment, as ``make keys ENV=dev`` gives) reads the deployed stack's
outputs (TableName, UsagePlanId, RestApiId, StageName); each can also be given alone (``--table``,
``--usage-plan-id``, ``--rest-api-id``, ``--stage``).

``create`` prints the public and private key once; only a salted digest of the private key is stored. With the
usage plan, the key presents the account's one API Gateway API key in the plan (created with the account's first
key), so every key of an account shares one rate limit. API keys are region-wide: the account's is named after
the plan and looked up among the plan's keys, so two stacks in one region (dev, prod) never share one.

``revoke`` marks the key revoked; with the stack's outputs it also flushes the stage's authorizer cache (a revoked
key stops working within seconds, not the cache's TTL) and disables the account's usage-plan key once no active
key of the account presents it. ``unify`` moves an account whose keys each got their own usage-plan key (before
keys shared one) to a single one. Credentials and region come from the usual AWS environment; ``--endpoint-url
http://127.0.0.1:8000`` targets the local stack's embedded DynamoDB (its table is ``EventsTable``).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any

from emma_events.api_key_store import ApiKeyStore
from emma_events.errors import NotFound
from ops import add_target, one_line_errors, resolve_target


def usage_key_name(usage_plan_id: str, account_id: int) -> str:
    """The name of the account's API Gateway key in this usage plan: API keys are region-wide, so the plan's id
    (one per stack) keeps two stacks' keys for one account apart."""
    return f"emma-events-{usage_plan_id}-account-{account_id}"


def legacy_usage_key_name(account_id: int) -> str:
    """The name keys had before it named the plan: such a key is the account's only if it is in this plan."""
    return f"emma-events-account-{account_id}"


def account_usage_keys(apigateway: Any, usage_plan_id: str, account_id: int) -> list[dict[str, Any]]:
    """The account's API Gateway keys in this usage plan, oldest first: every page of the plan's keys whose name
    begins with the account's (``nameQuery`` is a prefix: account 1's finds 10's), then only those of exactly its
    name, under the name that names the plan or the one before it. A key of the same account in another stack's
    plan is never one of them."""
    names = (usage_key_name(usage_plan_id, account_id), legacy_usage_key_name(account_id))
    paginator = apigateway.get_paginator("get_usage_plan_keys")
    found = [
        key
        for name in names
        for page in paginator.paginate(usagePlanId=usage_plan_id, nameQuery=name, limit=500)
        for key in page["items"]
        if key["name"] == name
    ]
    details = [apigateway.get_api_key(apiKey=key["id"], includeValue=True) for key in found]
    return sorted(details, key=lambda k: str(k["createdDate"]))


def account_usage_key(apigateway: Any, usage_plan_id: str, account_id: int, out: Any) -> str:
    """The value of the account's one API key in the usage plan, created with the account's first key. A key of
    the old name found in the plan is adopted: renamed to name the plan."""
    existing = account_usage_keys(apigateway, usage_plan_id, account_id)
    name = usage_key_name(usage_plan_id, account_id)
    if existing:
        oldest = existing[0]
        if oldest["name"] != name:
            apigateway.update_api_key(apiKey=oldest["id"], patchOperations=[_replace("/name", name)])
            print(f"renamed usage-plan key {oldest['id']} to {name}", file=out)
        return str(oldest["value"])
    created = apigateway.create_api_key(name=name, enabled=True, generateDistinctId=True)
    apigateway.create_usage_plan_key(usagePlanId=usage_plan_id, keyId=created["id"], keyType="API_KEY")
    return str(created["value"])


def revoke(store: ApiKeyStore, apigateway: Any, args: argparse.Namespace, out: Any) -> None:
    """Revoke in the table; then, given the stack's outputs, the gateway's part: the account's usage-plan key
    disabled when no active key presents it any more (``--usage-plan-id``), and the stage's authorizer cache
    flushed (``--rest-api-id``, ``--stage``)."""
    revoked = store.find_api_key(args.public_key)
    store.revoke_api_key(args.account, args.public_key)
    print(f"revoked {args.public_key} in {args.table}", file=out)
    if args.usage_plan_id:
        _disable_if_unpresented(store, apigateway, args, revoked.usage_key if revoked else None, out)
    if not args.rest_api_id and not args.local:  # the local stack caches no authorizer answers
        print("the authorizer cache still allows it for its TTL: give --rest-api-id and --stage to flush it", file=out)
        return
    apigateway.flush_stage_authorizers_cache(restApiId=args.rest_api_id, stageName=args.stage)
    print(f"flushed the authorizer cache of stage {args.stage} of API {args.rest_api_id}", file=out)


def _disable_if_unpresented(
    store: ApiKeyStore, apigateway: Any, args: argparse.Namespace, usage: str | None, out: Any
) -> None:
    still_presented = usage is not None and any(
        (other := store.find_api_key(key["public_key"])) is not None and other.usage_key == usage
        for key in store.list_api_keys(args.account)
        if not key["revoked"]
    )
    for key in account_usage_keys(apigateway, args.usage_plan_id, args.account):
        if key["value"] == usage and not still_presented:
            apigateway.update_api_key(apiKey=key["id"], patchOperations=[_replace("/enabled", "false")])
            print(
                f"disabled usage-plan key {key['id']} (no active key of account {args.account} presents it)", file=out
            )
        elif key["value"] == usage:
            print(f"left usage-plan key {key['id']} enabled: other active keys of the account present it", file=out)


def unify(store: ApiKeyStore, apigateway: Any, args: argparse.Namespace, out: Any) -> None:
    """Every key of the account presents the account's oldest usage-plan key in this plan; the others are
    removed from the plan and disabled. Safe to run again."""
    keep = account_usage_key(apigateway, args.usage_plan_id, args.account, out)
    for key in store.list_api_keys(args.account):
        store.set_usage_key(key["public_key"], keep)
    for key in account_usage_keys(apigateway, args.usage_plan_id, args.account):
        if key["value"] != keep and key["enabled"]:
            apigateway.delete_usage_plan_key(usagePlanId=args.usage_plan_id, keyId=key["id"])
            apigateway.update_api_key(apiKey=key["id"], patchOperations=[_replace("/enabled", "false")])
            print(f"disabled usage-plan key {key['id']}", file=out)
    print(f"account {args.account}: every key presents one usage-plan key", file=out)


def _replace(path: str, value: str) -> dict[str, str]:
    return {"op": "replace", "path": path, "value": value}


#: The stack's outputs and the options they give.
OUTPUTS = {"TableName": "table", "UsagePlanId": "usage_plan_id", "RestApiId": "rest_api_id", "StageName": "stage"}


def _from_outputs(args: argparse.Namespace, cloudformation: Any) -> None:
    """Fill each option not given from the stack's outputs."""
    (stack,) = cloudformation.describe_stacks(StackName=args.stack)["Stacks"]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    for output, option in OUTPUTS.items():
        if getattr(args, option) is None and output in outputs:
            setattr(args, option, outputs[output])


def main(argv: list[str] | None = None, out: Any = None, client: Callable[..., Any] | None = None) -> int:
    """``client``: boto3.client by default (tests give stubbed clients)."""
    out = out or sys.stdout
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["create", "list", "revoke", "unify"])
    parser.add_argument("--stack", help="a deployed stack: its outputs give the table, plan, API and stage")
    parser.add_argument("--env", help="the stack of this samconfig.toml environment (dev, prod), as --stack")
    add_target(parser, required=False)
    parser.add_argument("--account", type=int, required=True)
    parser.add_argument("--public-key")
    parser.add_argument("--usage-plan-id")
    parser.add_argument("--rest-api-id", help="the stack's RestApiId output (revoke: flush the authorizer cache)")
    parser.add_argument("--stage", help="the stack's StageName output")
    args = parser.parse_args(argv)
    resolve_target(args)
    if client is None:
        import boto3

        client = boto3.client
    if args.env and not args.stack:
        from ops.deploy import Environment

        args.stack = Environment.of(args.env).stack
    if args.stack:
        _from_outputs(args, client("cloudformation"))
    if not args.table:
        parser.error("give --env, --stack, --table, or --local")
    if args.command == "revoke" and not args.public_key:
        parser.error("revoke needs --public-key")
    if args.command == "unify" and not args.usage_plan_id:
        parser.error("unify needs --usage-plan-id")
    if bool(args.rest_api_id) != bool(args.stage):
        parser.error("--rest-api-id and --stage go together")

    store = ApiKeyStore(args.table, client("dynamodb", endpoint_url=args.endpoint_url))
    apigateway = client("apigateway") if args.usage_plan_id or args.rest_api_id else None
    if args.command == "create":
        usage = account_usage_key(apigateway, args.usage_plan_id, args.account, out) if args.usage_plan_id else None
        credentials = store.create_api_key(args.account, usage_key=usage)
        shown = {"account_id": args.account, "public_key": credentials.public_key}
        print(json.dumps(shown | {"private_key": credentials.private_key}), file=out)
        print("Keep the private key now: it cannot be shown again.", file=sys.stderr)
    elif args.command == "list":
        for key in store.list_api_keys(args.account):
            print(json.dumps(key), file=out)
    elif args.command == "unify":
        unify(store, apigateway, args, out)
    else:
        try:
            revoke(store, apigateway, args, out)
        except NotFound as error:
            print(error.detail, file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(one_line_errors(main, "keys"))

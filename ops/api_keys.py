"""Create, list and revoke an account's API keys, in the deployed table or the local stack's.

    python -m ops.api_keys create --table <TableName> --account 100 [--usage-plan-id <id>]
    python -m ops.api_keys list   --table <TableName> --account 100
    python -m ops.api_keys revoke --table <TableName> --account 100 --public-key <public key>

``create`` prints the public and private key once; only a salted digest of the private key is stored. With
``--usage-plan-id`` (the stack's UsagePlanId output) it also creates the account's API Gateway API key in the usage
plan, which API Gateway uses to throttle the account. A revocation takes effect within the authorizer cache TTL.
Credentials and region come from the usual AWS environment; ``--endpoint-url http://127.0.0.1:8000`` targets the
local stack's embedded DynamoDB (its table is ``EventsTable``).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from emma_events.errors import NotFound
from emma_events.repository import Repository


def usage_plan_key(apigateway: Any, usage_plan_id: str, account_id: int) -> str:
    """An API Gateway API key for the account, added to the usage plan; returns its value."""
    created = apigateway.create_api_key(name=f"emma-events-account-{account_id}", enabled=True, generateDistinctId=True)
    apigateway.create_usage_plan_key(usagePlanId=usage_plan_id, keyId=created["id"], keyType="API_KEY")
    return str(created["value"])


def main(argv: list[str] | None = None, out: Any = None) -> int:
    out = out or sys.stdout
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["create", "list", "revoke"])
    parser.add_argument("--table", required=True)
    parser.add_argument("--account", type=int, required=True)
    parser.add_argument("--public-key")
    parser.add_argument("--usage-plan-id")
    parser.add_argument("--endpoint-url")
    args = parser.parse_args(argv)

    import boto3

    repository = Repository(args.table, boto3.client("dynamodb", endpoint_url=args.endpoint_url))
    if args.command == "create":
        usage = None
        if args.usage_plan_id:
            usage = usage_plan_key(boto3.client("apigateway"), args.usage_plan_id, args.account)
        credentials = repository.create_api_key(args.account, usage_key=usage)
        print(
            json.dumps(
                {
                    "account_id": args.account,
                    "public_key": credentials.public_key,
                    "private_key": credentials.private_key,
                }
            ),
            file=out,
        )
        print("Keep the private key now: it cannot be shown again.", file=sys.stderr)
    elif args.command == "list":
        for key in repository.list_api_keys(args.account):
            print(json.dumps(key), file=out)
    else:
        if not args.public_key:
            parser.error("revoke needs --public-key")
        try:
            repository.revoke_api_key(args.account, args.public_key)
        except NotFound as error:
            print(error.detail, file=sys.stderr)
            return 1
        print(f"revoked {args.public_key} (in effect within the authorizer cache TTL)", file=out)
    return 0


if __name__ == "__main__":
    sys.exit(main())

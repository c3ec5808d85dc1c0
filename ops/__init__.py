"""Operations tools: run against a deployed stack's table (or the local stack's), by the team that runs it.

- ``api_keys.py`` (`make keys ARGS="create --table ... --account 100"`): create, list and revoke an account's API
  keys (HTTP Basic credentials), and add the usage-plan key.
- ``replay_cascades.py`` (`make replay-cascades ARGS="--table ... --queue-url ..."`): replay cascade deletes that
  failed into the dead-letter queue, or restart one.
- ``rekey_emails.py``, ``count_events.py``, ``index_members.py``: run once after deploying the release that needs them
  (docs/operations.md, "Upgrading").

Development tools (the local stack, benchmarks, the test harness) live in ``devtools/``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any


def add_target(parser: argparse.ArgumentParser, *, required: bool = True) -> None:
    """The table a tool works on: ``--table`` (with ``--endpoint-url``), or ``--local``: the running `make run`'s."""
    where = parser.add_mutually_exclusive_group(required=required)
    where.add_argument("--table", help="the stack's TableName output")
    where.add_argument("--local", action="store_true", help="the running local stack's table (make run)")
    parser.add_argument("--endpoint-url", help="a DynamoDB endpoint other than AWS's (--local finds its own)")


def resolve_target(args: argparse.Namespace) -> None:
    """With ``--local``: the running local stack's table and DynamoDB endpoint, and its dummy credentials."""
    if args.local:
        from devtools.local_stack.state import local_target

        args.endpoint_url, args.table = local_target()


def aws_client(args: argparse.Namespace, service: Any = "dynamodb") -> Any:
    """boto3's client of ``service`` at the target's ``--endpoint-url`` (the local stack's with ``--local``)."""
    import boto3

    return boto3.client(service, endpoint_url=args.endpoint_url)


def table_tool(doc: str, argv: list[str] | None, client: Any, dry_run: str) -> tuple[Any, Any]:
    """The arguments of a tool that changes a table (``add_target``, ``--dry-run``: ``dry_run`` says what it prints
    instead) and its DynamoDB client: ``client`` (tests give theirs), else boto3's."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_target(parser)
    parser.add_argument("--dry-run", action="store_true", help=f"{dry_run}; change nothing")
    args = parser.parse_args(argv)
    resolve_target(args)
    return args, client if client is not None else aws_client(args)


def one_line_errors(main: Callable[[], int], tool: str, *, local: bool = True) -> int:
    """Run a tool's ``main``; what an operator can fix (no region, no credentials, no endpoint, no table, no local
    stack) is one line on stderr saying what to do, and exit status 2, instead of a traceback. ``local``: the tool
    takes ``--local``, and says so."""
    from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError, NoRegionError

    from devtools.local_stack.state import NoLocalStack

    or_local = ", or use --local for the local stack" if local else ""
    try:
        return main()
    except NoRegionError:
        problem = f"no AWS region: set AWS_REGION (or AWS_PROFILE){or_local}"
    except NoCredentialsError:
        problem = f"no AWS credentials: set AWS_PROFILE (or AWS_ACCESS_KEY_ID...){or_local}"
    except EndpointConnectionError as error:
        problem = f"nothing answers at {error.kwargs.get('endpoint_url')}: is the stack running?"
    except NoLocalStack as error:
        problem = str(error)
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if code != "ResourceNotFoundException":
            raise
        problem = f"{error.response['Error'].get('Message', code)}: check --table (the stack's TableName output)"
    print(f"{tool}: {problem}", file=sys.stderr)
    return 2


def lacking(entity: str, attribute: str) -> Callable[[Any, str], Any]:
    """What an upgrade changes: every item of ``entity`` without ``attribute`` (one filtered Scan, paginated,
    strongly consistent)."""

    def found(client: Any, table: str) -> Any:
        pages = client.get_paginator("scan").paginate(
            TableName=table,
            FilterExpression="entity = :entity AND attribute_not_exists(#attribute)",
            ExpressionAttributeNames={"#attribute": attribute},
            ExpressionAttributeValues={":entity": {"S": entity}},
            ConsistentRead=True,
        )
        for page in pages:
            yield from page["Items"]

    return found


def upgrade(
    doc: str,
    argv: list[str] | None,
    out: Any,
    client: Any,
    *,
    found: Callable[[Any, str], Any],
    parts: Callable[[str, dict[str, Any]], list[dict[str, Any]]],
    name: Callable[[dict[str, Any]], str],
    what: str,
) -> int:
    """An upgrade tool's run: each item ``found`` (client, table) is changed by one transaction of its ``parts``
    (table, item), each of which holds on a condition that makes a second run change nothing. A refused one is
    printed by its ``name`` and left; the tally ends the output, ``what`` being e.g. ("event(s)", "count").
    Exit 1 when any was refused."""
    from botocore.exceptions import ClientError

    out = out or sys.stdout
    noun, verb = what.split(" ")
    past = verb[:-1] + "ied" if verb.endswith("y") else verb + "ed"
    args, client = table_tool(doc, argv, client, f"print how many {noun} to {verb}")
    done = refused = 0
    for item in found(client, args.table):
        if not args.dry_run:
            try:
                client.transact_write_items(TransactItems=parts(args.table, item))
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") != "TransactionCanceledException":
                    raise
                refused += 1
                print(f"{name(item)}: refused ({past} or deleted meanwhile?)", file=out)
                continue
        done += 1
    print(f"{done} {noun} {'to ' + verb if args.dry_run else past}, {refused} refused", file=out)
    return 1 if refused else 0

"""Operations tools: run against a deployed stack's table (or the local stack's), by the team that runs it.

- ``api_keys.py`` (`make keys ARGS="create --table ... --account 100"`): create, list and revoke an account's API
  keys (HTTP Basic credentials), and add the usage-plan key.
- ``replay_cascades.py`` (`make replay-cascades ARGS="--table ... --queue-url ..."`): replay cascade deletes that
  failed into the dead-letter queue, or restart one.
- ``rekey_emails.py``, ``count_events.py``: run once after deploying the release that needs them
  (docs/operations.md, "Upgrading").

Development tools (the local stack, benchmarks, the test harness) live in ``devtools/``.
"""

from __future__ import annotations

from typing import Any


def table_tool(doc: str, argv: list[str] | None, client: Any, dry_run: str) -> tuple[Any, Any]:
    """The arguments of a tool that changes a table (``--table``, ``--endpoint-url``, ``--dry-run``: ``dry_run``
    says what it prints instead) and its DynamoDB client: ``client`` (tests give theirs), else boto3's."""
    import argparse

    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--table", required=True, help="the stack's TableName output")
    parser.add_argument("--endpoint-url", help="e.g. http://127.0.0.1:8000 for the local stack")
    parser.add_argument("--dry-run", action="store_true", help=f"{dry_run}; change nothing")
    args = parser.parse_args(argv)
    if client is None:
        import boto3

        client = boto3.client("dynamodb", endpoint_url=args.endpoint_url)
    return args, client

"""Move members' email guards to the key the API now finds them by; run once after deploying the release that
changed it.

An email's guard item (its uniqueness, and how a member is found by email) was keyed by the address in Unicode
lower case (``str.lower``): "ÉMILE@example.com" and "émile@example.com" were one member. Keys now fold ASCII
letters only (``keys.email_pk``, docs/api.md "Members"). An address in ASCII has the same key either way; a member
whose address has a non-ASCII letter that has a lower case is found by its address again once its guard is moved.

    python -m ops.rekey_emails --table <TableName> [--dry-run] [--endpoint-url http://127.0.0.1:8000]

It reads every member item (one filtered Scan, paginated) and, for each whose two keys differ, writes in one
transaction the new guard (if nobody holds it) and deletes the old one (if it is still this member's). A new key
already held by another member (added between the deploy and this run) is reported and left alone. Safe to run
again: moved members are skipped. Credentials and region come from the usual AWS environment.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

from emma_events import keys
from ops import one_line_errors, table_tool


def members(client: Any, table: str) -> Iterator[tuple[int, int, str]]:
    """(account, member id, email) of every member item."""
    pages = client.get_paginator("scan").paginate(
        TableName=table,
        FilterExpression="entity = :member",
        ProjectionExpression="account_id, member_id, email",
        ExpressionAttributeValues={":member": {"S": "member"}},
        ConsistentRead=True,
    )
    for page in pages:
        for item in page["Items"]:
            yield int(item["account_id"]["N"]), int(item["member_id"]["N"]), item["email"]["S"]


def rekey(client: Any, table: str, account: int, member: int, email: str, dry_run: bool = False) -> str:
    """Move one member's guard: ``moved`` (or would be), ``done`` (already in place) or ``held`` (by another member)."""
    new = {keys.PK: {"S": keys.email_pk(account, email)}, keys.SK: {"S": keys.EMAIL_SK}}
    old = {keys.PK: {"S": keys.legacy_email_pk(account, email)}, keys.SK: {"S": keys.EMAIL_SK}}
    holder = client.get_item(TableName=table, Key=new, ConsistentRead=True).get("Item")
    if holder is not None:
        return "done" if int(holder["member_id"]["N"]) == member else "held"
    if dry_run:
        return "moved"
    mine = {":id": {"N": str(member)}}
    client.transact_write_items(
        TransactItems=[
            {
                "Put": {
                    "TableName": table,
                    "Item": new | {"member_id": {"N": str(member)}},
                    "ConditionExpression": "attribute_not_exists(PK)",
                }
            },
            {
                "Delete": {
                    "TableName": table,
                    "Key": old,
                    "ConditionExpression": "attribute_not_exists(PK) OR member_id = :id",
                    "ExpressionAttributeValues": mine,
                }
            },
        ]
    )
    return "moved"


def main(argv: list[str] | None = None, out: Any = None, client: Any = None) -> int:
    """``client``: a DynamoDB client (tests give theirs); else boto3's, at ``--endpoint-url``."""
    out = out or sys.stdout
    args, client = table_tool(__doc__, argv, client, "print the members to move")
    counts = {"moved": 0, "done": 0, "held": 0}
    for account, member, email in members(client, args.table):
        if keys.email_pk(account, email) == keys.legacy_email_pk(account, email):
            continue
        outcome = rekey(client, args.table, account, member, email, args.dry_run)
        counts[outcome] += 1
        if outcome == "held":
            print(f"account {account} member {member}: {email!r} is another member's now; left alone", file=out)
    verb = "to move" if args.dry_run else "moved"
    print(f"{counts['moved']} guard(s) {verb}, {counts['done']} already in place, {counts['held']} held", file=out)
    return 0


if __name__ == "__main__":
    sys.exit(one_line_errors(main, "rekey-emails"))

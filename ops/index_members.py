"""Index and count the members added before the ``Members`` index; run once after deploying the release that has it.

Each member is now written with its key of the ``Members`` index (``GET /{account_id}/members``) and counted in
one of its account's count items, in one transaction. A member added before has neither: until this runs, it is
missing from the listing and from ``count=true`` (docs/operations.md, "Upgrading: the members listing").

    python -m ops.index_members --table <TableName> [--dry-run] [--endpoint-url http://127.0.0.1:8000]

It reads every member item without the index key (one filtered Scan, paginated) and, for each, in one
transaction, sets the key (on condition that it is still unset and the member still exists) and adds 1 to one
of the account's count items. So each member is counted exactly once, however often this runs or whatever runs
beside it; a member whose transaction is refused (deleted or indexed meanwhile) is reported and left.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

from botocore.exceptions import ClientError

from emma_events import keys, layout
from ops import one_line_errors, table_tool


def unindexed(client: Any, table: str) -> Iterator[dict[str, Any]]:
    """Every member item without its ``Members`` key (added before the index)."""
    pages = client.get_paginator("scan").paginate(
        TableName=table,
        FilterExpression="entity = :member AND attribute_not_exists(#index)",
        ExpressionAttributeNames={"#index": keys.MEMBER_INDEX_PK},
        ExpressionAttributeValues={":member": {"S": "member"}},
        ConsistentRead=True,
    )
    for page in pages:
        yield from page["Items"]


def index(client: Any, table: str, item: dict[str, Any]) -> bool:
    """Index and count one member: whether it was (False: refused, as it was indexed or deleted meanwhile)."""
    member = layout.member_of(item)
    index_keys = layout.member_index_keys(member.account_id, member.member_id)
    parts: list[dict[str, Any]] = [
        {
            "Update": {
                "TableName": table,
                "Key": {keys.PK: item[keys.PK], keys.SK: item[keys.SK]},
                "UpdateExpression": "SET #pk = :pk, #sk = :sk",
                "ConditionExpression": "attribute_exists(PK) AND attribute_not_exists(#pk)",
                "ExpressionAttributeNames": {"#pk": keys.MEMBER_INDEX_PK, "#sk": keys.MEMBER_INDEX_SK},
                "ExpressionAttributeValues": {
                    ":pk": index_keys[keys.MEMBER_INDEX_PK],
                    ":sk": index_keys[keys.MEMBER_INDEX_SK],
                },
            }
        },
        {"Update": layout.member_count_change(table, member.account_id, 1)},
    ]
    try:
        client.transact_write_items(TransactItems=parts)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "TransactionCanceledException":
            raise
        return False
    return True


def main(argv: list[str] | None = None, out: Any = None, client: Any = None) -> int:
    """``client``: a DynamoDB client (tests give theirs); else boto3's, at ``--endpoint-url``."""
    out = out or sys.stdout
    args, client = table_tool(__doc__, argv, client, "print how many members to index")
    done = refused = 0
    for item in unindexed(client, args.table):
        if args.dry_run or index(client, args.table, item):
            done += 1
        else:
            refused += 1
            print(f"{item[keys.PK]['S']}: refused (indexed or deleted meanwhile?)", file=out)
    verb = "to index" if args.dry_run else "indexed"
    print(f"{done} member(s) {verb}, {refused} refused", file=out)
    return 1 if refused else 0


if __name__ == "__main__":
    sys.exit(one_line_errors(main, "index-members"))

"""Index the count items made before the ``MembersByType`` index; run once after deploying the release that has it.

A POST now sets, on each member's day item and totals item of a type, its key of the index that searches' event
terms read (the members who did a type on a day, or ever). Items made before have none: until this runs, those
events are missing from searches (docs/operations.md, "Upgrading: searches").

    python -m ops.index_searches --table <TableName> [--dry-run] [--endpoint-url http://127.0.0.1:8000]

It reads every count item without the key (one filtered Scan, paginated) and sets the key on each on condition
that it still exists: the key follows from the item's own, so a POST that set it meanwhile set the same, and a
second run finds nothing; an item deleted meanwhile (its type's or member's cascade) is reported and left.
"""

from __future__ import annotations

import sys
from typing import Any

from emma_events import keys
from ops import one_line_errors, upgrade


def unindexed(client: Any, table: str) -> Any:
    """The day and totals items of a type without their index key (one filtered Scan, paginated)."""
    pages = client.get_paginator("scan").paginate(
        TableName=table,
        FilterExpression="(begins_with(SK, :day) OR begins_with(SK, :totals)) AND attribute_not_exists(#pk)",
        ExpressionAttributeNames={"#pk": keys.MEMBERS_BY_TYPE_PK},
        ExpressionAttributeValues={":day": {"S": keys.COUNT_PREFIX}, ":totals": {"S": keys.TOTALS_PREFIX}},
        ConsistentRead=True,
    )
    for page in pages:
        yield from (i for i in page["Items"] if keys.members_by_type_keys(i[keys.PK]["S"], i[keys.SK]["S"]))


def parts(table: str, item: dict[str, Any]) -> list[dict[str, Any]]:
    index_pk, index_sk = keys.members_by_type_keys(item[keys.PK]["S"], item[keys.SK]["S"]) or ("", "")
    return [
        {
            "Update": {
                "TableName": table,
                "Key": {keys.PK: item[keys.PK], keys.SK: item[keys.SK]},
                "UpdateExpression": "SET #pk = :pk, #sk = :sk",
                "ConditionExpression": "attribute_exists(PK)",  # a POST that set it since set the same
                "ExpressionAttributeNames": {"#pk": keys.MEMBERS_BY_TYPE_PK, "#sk": keys.MEMBERS_BY_TYPE_SK},
                "ExpressionAttributeValues": {":pk": {"S": index_pk}, ":sk": {"S": index_sk}},
            }
        }
    ]


def main(argv: list[str] | None = None, out: Any = None, client: Any = None) -> int:
    """``client``: a DynamoDB client (tests give theirs); else boto3's, at ``--endpoint-url``."""
    return upgrade(
        __doc__ or "",
        argv,
        out,
        client,
        found=unindexed,
        parts=parts,
        name=lambda item: f"{item[keys.PK]['S']} {item[keys.SK]['S']}",
        what="item(s) index",
    )


if __name__ == "__main__":
    sys.exit(one_line_errors(main, "index-searches"))

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
from typing import Any

from emma_events import keys, layout
from ops import lacking, one_line_errors, upgrade


def parts(table: str, item: dict[str, Any]) -> list[dict[str, Any]]:
    """The transaction that indexes and counts one member; refused when it was indexed or deleted meanwhile."""
    member = layout.member_of(item)
    index_keys = layout.member_index_keys(member.account_id, member.member_id)
    return [
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


def main(argv: list[str] | None = None, out: Any = None, client: Any = None) -> int:
    """``client``: a DynamoDB client (tests give theirs); else boto3's, at ``--endpoint-url``."""
    return upgrade(
        __doc__ or "",
        argv,
        out,
        client,
        found=lacking("member", keys.MEMBER_INDEX_PK),
        parts=parts,
        name=lambda item: item[keys.PK]["S"],
        what="member(s) index",
    )


if __name__ == "__main__":
    sys.exit(one_line_errors(main, "index-members"))

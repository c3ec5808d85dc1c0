"""Add the values and type totals of the events counted before members' stats; run once after deploying the
release that keeps them (after ``ops.count_events``, for a stack older than the counts).

Each event is now written with its value in its member's day and month entries (exact sums, emma_events/sums.py)
and in its member's totals of its type (``GET /{account_id}/events/members/{member_id}/stats``), and marked
``tallied``, in one transaction; the stream's consumer adds it to its type's stats
(``GET /{account_id}/events/{event_type_id}/stats``). An event counted before has its counts but none of these:
until this runs, it is missing from both stats and from sums (docs/operations.md, "Upgrading: stats").

    python -m ops.tally_events --table <TableName> [--dry-run] [--endpoint-url http://127.0.0.1:8000]

It reads every event item not marked (one filtered Scan, paginated) and, for each, in one transaction: marks it
(on condition that it is still unmarked, exists and is counted, i.e. has its ``ByMemberType`` key), adds its value
and totals and adds it to its type's stats (with its marker, as the stream's consumer does), and checks that its
member and type still exist. The consumer counts only marked events, so a member's deletion takes off exactly
these. So each event is tallied exactly once, however
often this runs or whatever runs beside it; an event whose transaction is refused is reported and left (not
counted yet: run ``ops.count_events`` first; or a conflict with the consumer on a stats item: run again).
"""

from __future__ import annotations

import sys
from typing import Any

from emma_events import keys
from ops import lacking, one_line_errors, upgrade
from ops.count_events import event_parts


def parts(table: str, item: dict[str, Any]) -> list[dict[str, Any]]:
    """The transaction that tallies one event; refused when it was tallied, uncounted or deleted meanwhile, or its
    member or type is gone."""
    mark = {
        "Update": {
            "TableName": table,
            "Key": {keys.PK: item[keys.PK], keys.SK: item[keys.SK]},
            "UpdateExpression": "SET #tallied = :tallied",
            "ConditionExpression": "attribute_exists(#index) AND attribute_not_exists(#tallied)",
            "ExpressionAttributeNames": {"#index": keys.MEMBER_TYPE_INDEX_PK, "#tallied": keys.TALLIED},
            "ExpressionAttributeValues": {":tallied": {"BOOL": True}},
        }
    }
    return event_parts(table, item, mark, counted=False)


def main(argv: list[str] | None = None, out: Any = None, client: Any = None) -> int:
    """``client``: a DynamoDB client (tests give theirs); else boto3's, at ``--endpoint-url``."""
    return upgrade(
        __doc__ or "",
        argv,
        out,
        client,
        found=lacking("member_event", keys.TALLIED),
        parts=parts,
        name=lambda item: f"{item[keys.PK]['S']} {item[keys.SK]['S']}",
        what="event(s) tally",
    )


if __name__ == "__main__":
    sys.exit(one_line_errors(main, "tally-events"))

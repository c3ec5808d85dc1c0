"""Count the events recorded before members' counts were kept; run once after deploying the release that keeps them.

Each event is now written with its member's counts (hour, day and month, of its type and of all types) and its
key of the ``ByMemberType`` index, in one transaction. An event recorded before has neither: until this runs, it
is missing from ``count=true`` and from listings filtered by type (docs/operations.md, "Upgrading: counts").

    python -m ops.count_events --table <TableName> [--dry-run] [--endpoint-url http://127.0.0.1:8000]

It reads every event item without the index key (one filtered Scan, paginated) and, for each, in one transaction:
sets the key (on condition it is still unset and the event still exists), adds the event to its member's counts
(its value, its member's totals of its type and its type's stats too, and marks it tallied: ``ops.tally_events``
then leaves it),
and checks that its member and type still exist (a deleted one's cascade removes its events, and a type's cascade
takes its counts off). So each event is counted exactly once, however often this runs or whatever runs beside it;
an event whose transaction is refused is reported and left (run again to retry it). Credentials and region come
from the usual AWS environment.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from emma_events import counts, keys, layout
from emma_events.type_rollups import recorded_parts
from ops import lacking, one_line_errors, upgrade


def event_parts(table: str, item: dict[str, Any], mark: dict[str, Any], *, counted: bool) -> list[dict[str, Any]]:
    """One event's upgrade transaction (this tool's and ``ops.tally_events``'): ``mark``, the Update of the event
    whose condition makes a second run change nothing; checks that its member and type still exist; its counts
    (``counted`` False: only its value and totals, ``counts.increments``); and its type's stats with their marker."""
    event = layout.event_of(item)
    checks = [
        layout.member_key(event.account_id, event.member_id),
        layout.type_key(event.account_id, event.event_type_id),
    ]
    added = counts.increments([event], counted=counted)
    return [
        mark,
        *(
            {"ConditionCheck": {"TableName": table, "Key": key, "ConditionExpression": "attribute_exists(PK)"}}
            for key in checks
        ),
        *({"Update": counts.update(table, at, values)} for at, values in added.items()),
        *recorded_parts(table, event, time.time()),
    ]


def parts(table: str, item: dict[str, Any]) -> list[dict[str, Any]]:
    """The transaction that counts one event; refused when it was counted or deleted meanwhile, or its member or
    type is gone."""
    event = layout.event_of(item)
    mark = {
        "Update": {
            "TableName": table,
            "Key": {keys.PK: item[keys.PK], keys.SK: item[keys.SK]},
            "UpdateExpression": "SET #index = :pk, #tallied = :tallied",
            "ConditionExpression": "attribute_exists(PK) AND attribute_not_exists(#index)",
            "ExpressionAttributeNames": {"#index": keys.MEMBER_TYPE_INDEX_PK, "#tallied": keys.TALLIED},
            "ExpressionAttributeValues": {
                ":pk": {"S": keys.member_type_pk(event.account_id, event.member_id, event.event_type_id)},
                ":tallied": {"BOOL": True},
            },
        }
    }
    return event_parts(table, item, mark, counted=True)


def main(argv: list[str] | None = None, out: Any = None, client: Any = None) -> int:
    """``client``: a DynamoDB client (tests give theirs); else boto3's, at ``--endpoint-url``."""
    return upgrade(
        __doc__ or "",
        argv,
        out,
        client,
        found=lacking("member_event", keys.MEMBER_TYPE_INDEX_PK),
        parts=parts,
        name=lambda item: f"{item[keys.PK]['S']} {item[keys.SK]['S']}",
        what="event(s) count",
    )


if __name__ == "__main__":
    sys.exit(one_line_errors(main, "count-events"))

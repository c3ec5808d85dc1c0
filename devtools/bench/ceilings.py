"""The sustained ceilings of ``make bench``'s ``scale`` section: how many events a second one member, one type and
one account can take before a single key reaches AWS's per-key limit (1,000 write units a second, 3,000 read
units), and the key that sets each.

POSTs by ids go through the handler on moto, two per member of ``MEMBERS`` (one per ``ByType`` shard), with
``TableFaults`` keeping the units each key takes, for two shapes: batches of 10 events of one member and hour, and
single events. Units per event of a key's own events give its ceiling, ``limit / units per event``: a member's
partition and ``ByMemberType`` keys; a type's ``ByType`` keys, times the 16 of them its members spread over. What
is not paid per event is modelled from the code's constants and stated as such: the account's id counter (one
write per block of 1,000 ids) and the reads of a type and of its name (once a second per container). The type's
and the account's ceilings must reach ``TARGET``.
"""

from __future__ import annotations

import math
import re
from typing import Any

TARGET = 10_000
MEMBERS = 16
POSTS_PER_MEMBER = 2


def _kind(key: tuple[str, str, str]) -> str | None:
    """What a key is (its scope first), from its attribute and value; None: not paid per event."""
    use, attribute, value = key
    if attribute == "GSI1PK":
        return f"type: a ByType key, {use}s"
    if attribute == "GSI2PK":
        return f"member: its ByMemberType key, {use}s"
    if re.fullmatch(r"\d+#M#\d+", value):
        return f"member: its partition, {use}s"
    return None  # the account's partition: id blocks, types and names (per block or per second, below)


def _shape(batch: int) -> dict[str, Any]:
    import os

    import boto3

    from devtools.bench.request_cost import call
    from devtools.local_stack.template import create_table_kwargs
    from devtools.testing.faults import READ_LIMIT, WRITE_LIMIT, OfferedLoad, TableFaults
    from emma_events import keys, stores
    from emma_events.config import settings

    os.environ["TABLE_NAME"] = table = f"ceilings-{batch}"
    client = boto3.client("dynamodb", region_name="us-east-1")
    client.create_table(**create_table_kwargs(table))
    settings.cache_clear()
    stores.reset()
    created = call("create_event_type", body={"event_type": "page_view", "display_name": "Page view"})
    type_id = created.body["event_type_id"]
    members = [call("add_member", body={"email": f"m{n}@example.com"}).body["member_id"] for n in range(MEMBERS)]
    assert len({m % keys.TYPE_INDEX_SHARDS for m in members}) == MEMBERS  # one member per shard
    faults = TableFaults(stores.client(), OfferedLoad(1e9), latency_s=0)
    for member in members * POSTS_PER_MEMBER:
        call("create_member_events", body={"events": [{"member_id": member, "event_type_id": type_id}] * batch})
    per_key_events = POSTS_PER_MEMBER * batch  # each key above holds the events of one member
    rows: dict[str, Any] = {}
    for key, units in faults.spent.items():
        kind = _kind(key)
        if kind is None:
            continue
        per_event = units / per_key_events
        spread = keys.TYPE_INDEX_SHARDS if kind.startswith("type") else 1
        limit = READ_LIMIT if key[0] == "read" else WRITE_LIMIT
        if kind not in rows or per_event > rows[kind]["units_per_event"]:
            rows[kind] = {
                "units_per_event": round(per_event, 2),
                "events_per_s": round(limit * spread / per_event),
                "key": re.sub(r"\d+", "N", key[2]),
            }
    client.delete_table(TableName=table)
    return dict(sorted(rows.items()))


def ceilings() -> dict[str, Any]:
    from moto import mock_aws

    from devtools.testing.faults import READ_LIMIT, WRITE_LIMIT
    from emma_events import event_batch, ids, keys, stores
    from emma_events.config import settings

    with mock_aws():
        shapes = {"batches of 10": _shape(10), "single events": _shape(1)}
    settings.cache_clear()
    stores.reset()
    block = ids.BLOCKS[keys.EVENT_SEQUENCE]
    type_reads = round(READ_LIMIT / 4 * event_batch.FRESH_FOR_S)
    modelled = {
        "account: the id counter, one write per block of event ids": {
            "figure": f"{WRITE_LIMIT * block:,.0f} events/s",
            "key": "N / SEQ",
        },
        "account: a type's item, read once a second per container (16 KB schema: 4 units)": {
            "figure": f"{type_reads:,} containers posting the type",
            "key": "N / ET#N",
        },
        "type: its name's guard, read by each POST by name (1 unit)": {
            "figure": f"{READ_LIMIT:,.0f} POSTs/s by that name (x10 events in full batches)",
            "key": "N / ETNAME#name",
        },
        "type: its MembersByType key of a day, one index write per member new to the type that day": {
            "figure": f"{WRITE_LIMIT:,.0f} new members/s per type and day (their further events: none)",
            "key": "N#TD#N#YYYY-MM-DD",
        },
        "account: its removals item, one strongly consistent read per listing or count": {
            "figure": f"{READ_LIMIT:,.0f} listings and counts/s (reads, not events)",
            "key": "N / REMOVING",
        },
    }
    measured = [
        (row["events_per_s"], f"{shape}: {kind}", row["key"])
        for shape, rows in shapes.items()
        for kind, row in rows.items()
    ]
    scopes: dict[str, Any] = {}
    for scope in ("member", "type"):
        per_s, what, key = min(m for m in measured if m[1].split(": ")[1].startswith(scope))
        scopes[scope] = {"events_per_s": per_s, "set_by": what, "key": key}
    scopes["account"] = {
        "events_per_s": WRITE_LIMIT * block,
        "set_by": "the id counter (SEQ): one write per 1,000 event ids",
        "key": "N / SEQ",
    }
    return {
        "shapes": shapes,
        "modelled": modelled,
        "ceilings": scopes,
        "publisher": publisher_sizing(shapes),
        "target_events_per_s": TARGET,
    }


#: EventBridge's PutEvents quota, transactions a second per AWS account and Region (adjustable): 10,000 in
#: us-east-1, 2,400 in us-east-2, less in smaller Regions (EventBridge user guide, "Amazon EventBridge quotas").
PUT_EVENTS_PER_S = {"us-east-1": 10_000, "us-east-2": 2_400}
#: The model's latencies on AWS: a PutEvents call, an invocation's own overhead (rounded up), and the types' stats
#: a batch keeps first (type_rollups.py): a BatchGetItem of its types and its transactions, one after another (a
#: batch of 100 events of as many types in 4 of them, type_rollups.groups; DynamoDB's transactions take about twice
#: a single write's ~10 ms).
PUT_EVENTS_S = 0.05
INVOCATION_S = 0.02
STATS_S = 0.010 + 4 * 0.020


def publisher_sizing(shapes: dict[str, Any]) -> dict[str, Any]:
    """Whether one lane of the publisher's mapping keeps up with the busiest shard of the table's stream: a shard
    follows a table partition, which takes at most as many events a second as a member's partition does (its 1,000
    write units, at the fewest units an event costs there); a lane keeps a batch of ``BatchSize`` records' stats,
    then publishes them in PutEvents calls of 10 side by side. And what the account's PutEvents quota lets through."""
    from devtools.local_stack.template import stream_subscriptions
    from emma_events.publisher import CALLS_IN_FLIGHT, MAX_ENTRIES_PER_CALL

    (mapping,) = [p for name, p, _ in stream_subscriptions() if name == "PublishEventsFunction"]
    batch = int(mapping["BatchSize"])
    shard = max(
        row["events_per_s"]
        for rows in shapes.values()
        for kind, row in rows.items()
        if kind.startswith("member: its partition, write")
    )
    rounds = math.ceil(math.ceil(batch / MAX_ENTRIES_PER_CALL) / CALLS_IN_FLIGHT)  # calls in flight, one after another
    lane = round(batch / (INVOCATION_S + STATS_S + rounds * PUT_EVENTS_S))
    return {
        "batch_size": batch,
        "parallelization_factor": int(mapping.get("ParallelizationFactor", 1)),
        "busiest_shard_events_per_s": shard,
        "lane_events_per_s": lane,
        "headroom": round(lane / shard, 1),
        "account_events_per_s": {region: tps * MAX_ENTRIES_PER_CALL for region, tps in PUT_EVENTS_PER_S.items()},
    }


def below_target(result: dict[str, Any]) -> list[str]:
    """The scopes whose ceiling is under the target (a type's and an account's must reach it), and a publisher
    that would not keep up with a shard twice over."""
    failed = [
        f"{scope} ceiling {result['ceilings'][scope]['events_per_s']:,} events/s < {TARGET:,}"
        for scope in ("type", "account")
        if result["ceilings"][scope]["events_per_s"] < TARGET
    ]
    if result["publisher"]["headroom"] < 2:
        failed.append(f"publisher headroom {result['publisher']['headroom']} < 2")
    return failed


def print_ceilings(result: dict[str, Any]) -> None:
    print("\n7. Sustained ceilings: events a second before one key reaches AWS's per-key limit (moto; units modelled)")
    for shape, rows in result["shapes"].items():
        for kind, row in rows.items():
            print(f"  {shape:<14} {kind:<40} {row['units_per_event']:>6} units/event  {row['events_per_s']:>8,}/s")
    for what, row in result["modelled"].items():
        print(f"  modelled       {what}: {row['figure']} ({row['key']})")
    for scope, row in result["ceilings"].items():
        print(f"  ceiling per {scope:<8} {row['events_per_s']:>10,.0f} events/s  set by {row['set_by']} ({row['key']})")
    print(f"  target per type and per account: {result['target_events_per_s']:,} events/s")
    pub = result["publisher"]
    quota = ", ".join(f"{region} {n:,}/s" for region, n in pub["account_events_per_s"].items())
    print(
        f"  publisher: a lane takes {pub['batch_size']} records, keeps their types' stats, then PutEvents calls "
        f"side by side, ~{pub['lane_events_per_s']:,} events/s; "
        f"the busiest shard carries <= {pub['busiest_shard_events_per_s']:,}/s "
        f"(headroom {pub['headroom']}x, goal >= 2; ParallelizationFactor {pub['parallelization_factor']}); "
        f"the AWS account's PutEvents quota lets through {quota} (x10 entries a call)"
    )

"""Phase 4 of ``make bench``: the cascade delete of 10,000 events against a plain loop of deletes, over HTTP to
the embedded DynamoDB.

Wall time on a shared machine, so both are given the same treatment: cascade and plain loop alternate ``repeats``
times and the fastest of each is compared (the usual estimator of a cost under noise: noise only ever adds
time). The first run also pays DynamoDB Local's warm-up (its JVM compiles its hot paths during the first
thousands of requests): one run of each, cascade first, made the ratio swing from 1.15 to 1.34 between runs.
"""

from __future__ import annotations

import math
from typing import Any

from devtools.bench.request_cost import seed_bench_events


def cascade_benchmark(count: int = 10_000, store: str = "dynamodb-local", repeats: int = 2) -> dict[str, Any]:
    """A cascade of ``count`` events against the embedded DynamoDB (``store``: DynamoDB Local or moto's server,
    over HTTP), step after step as the stream would chain them, against a plain loop of BatchWriteItem deletes of
    as many keys; the fastest of ``repeats`` of each."""
    import logging
    import time

    from devtools.bench.capacity import CapacityMeter
    from devtools.local_stack.store import EmbeddedDynamoDB
    from devtools.local_stack.template import create_table_kwargs
    from devtools.testing.cascades import run_to_end
    from emma_events import keys
    from emma_events.cascade import Cascade
    from emma_events.domain import Parent
    from emma_events.stores import Stores

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # the embedded DynamoDB's request log
    embedded = EmbeddedDynamoDB(port=0, store=store)
    embedded.start()
    try:
        client = embedded.client()
        client.create_table(**create_table_kwargs("cascade-bench"))
        stores = Stores("cascade-bench", client)
        reader = embedded.client()  # the benchmark's own reads, not metered
        meter = CapacityMeter(client)
        left = 0

        def plain_loop(type_id: int) -> float:
            items = seed_bench_events(stores, 1, type_id, count)
            event_keys = [{keys.PK: item[keys.PK], keys.SK: item[keys.SK]} for item in items]
            started = time.perf_counter()
            for start in range(0, len(event_keys), 25):
                batch = [{"DeleteRequest": {"Key": key}} for key in event_keys[start : start + 25]]
                client.batch_write_item(RequestItems={"cascade-bench": batch})
            return time.perf_counter() - started

        def cascade_of(parent: Parent) -> float:
            seed_bench_events(stores, 1, parent.parent_id, count)
            meter.reset()  # the cascade's own calls only
            # No wait for the index's lag: that is latency, not work (and no index lags here).
            cascade = Cascade(stores.cascades, time_margin_ms=60_000, page_size=1000, index_lag_s=0)
            started = time.perf_counter()
            run_to_end(cascade, parent, reader=reader)
            return time.perf_counter() - started

        cascade_times, plain_times = [], []
        for repeat in range(repeats):
            parent = Parent("event_type", 100, 7 + repeat)  # each cascade a type of its own
            seconds = cascade_of(parent)
            cascade_times.append(seconds)
            if not repeat:  # the counts of one cascade (every repeat makes the same calls)
                cascade_calls = {name: n for name, n in sorted(meter.calls.items()) if n}
                cascade_units = {
                    "read_units": meter.reads,
                    "write_units": meter.writes,
                    "lower_bound": meter.lower_bound,
                }
            left += sum(
                reader.query(
                    TableName="cascade-bench",
                    IndexName=keys.TYPE_INDEX,
                    KeyConditionExpression="GSI1PK = :pk",
                    ExpressionAttributeValues={":pk": {"S": keys.type_index_pk(100, parent.parent_id, shard)}},
                    Select="COUNT",
                )["Count"]
                for shard in [*range(keys.TYPE_INDEX_SHARDS), None]
            )
            plain_times.append(plain_loop(1))
        cascade_seconds, plain_seconds = min(cascade_times), min(plain_times)
    finally:
        embedded.stop()
    return {
        "store": store,
        "events": count,
        "left_after_cascade": left,
        "cascade_seconds": round(cascade_seconds, 2),
        "cascade_runs_seconds": [round(t, 2) for t in cascade_times],
        "plain_loop_runs_seconds": [round(t, 2) for t in plain_times],
        "cascade_calls": cascade_calls,
        "cascade_units": cascade_units,
        "per_1000_events": {
            "round_trips": round(sum(cascade_calls.values()) * 1000 / count, 1),
            "read_units": round(cascade_units["read_units"] * 1000 / count, 1),
            "write_units": round(cascade_units["write_units"] * 1000 / count, 1),
        },
        "plain_loop_seconds": round(plain_seconds, 2),
        "plain_loop_calls": {"BatchWriteItem": (count + 24) // 25},
        "ratio": round(cascade_seconds / plain_seconds, 3),
        "request_ratio": round(sum(cascade_calls.values()) / ((count + 24) // 25), 3),
        "ratio_goal": 1.2,
    }


def parallel_speedup(members: int = 500, per_member: int = 10) -> dict[str, Any]:
    """A type's cascade over ``members`` members of ``per_member`` events each (so over every ``ByType`` key), on
    DynamoDB Local: as the one chain of steps of releases before ran it (one range after another, a page's calls
    one after another) against as it runs (its ranges side by side, a page's calls side by side); wall time, this
    process's CPU time and the calls, per 1,000 events; each way twice, the fastest of each."""
    import logging
    import threading
    import time
    from collections import Counter
    from concurrent.futures import ThreadPoolExecutor

    from devtools.local_stack.store import EmbeddedDynamoDB
    from devtools.local_stack.template import create_table_kwargs
    from devtools.testing.cascades import run_to_end
    from emma_events.cascade import Cascade
    from emma_events.domain import Parent
    from emma_events.stores import Stores

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    embedded = EmbeddedDynamoDB(port=0, store="dynamodb-local")
    embedded.start()
    runs: dict[str, Any] = {}
    try:
        embedded.client().create_table(**create_table_kwargs("cascade-spread"))
        client = functions_client(embedded.endpoint)  # configured as the cascade function's own: its CPU per call
        calls: Counter[str] = Counter()  # calls only: a capacity meter's sizing would count in the CPU measured
        lock = threading.Lock()

        def count(model: Any, **_: Any) -> None:
            with lock:  # the ranges' threads
                calls[model.name] += 1

        client.meta.events.register("before-call.dynamodb.*", count)
        reader = embedded.client()  # the cursors, which the stream's records carry on AWS: not metered
        # each way twice, alternating; the fastest of each (noise only adds time, CPU time included)
        for type_id, parallel in ((21, False), (22, True), (23, False), (24, True)):
            stores = Stores("cascade-spread", client)
            if not parallel:
                stores.cascades._workers = ThreadPoolExecutor(max_workers=1)
            for member in range(1, members + 1):
                seed_bench_events(stores, member, type_id, per_member)
            calls.clear()
            parent = Parent("event_type", 100, type_id)
            cascade = Cascade(stores.cascades, time_margin_ms=60_000, page_size=1000)
            wall, cpu = time.perf_counter(), time.process_time()
            result = run_to_end(cascade, parent, side_by_side=parallel, reader=reader)
            events = members * per_member
            run = {
                "seconds": round(time.perf_counter() - wall, 2),
                "cpu_ms_per_1000_events": round((time.process_time() - cpu) * 1000 / events * 1000, 1),
                "calls_per_1000_events": {n: round(c * 1000 / events, 1) for n, c in sorted(calls.items())},
                "deleted": result.total,
            }
            name = "side by side" if parallel else "one chain"
            if name in runs:
                run["seconds"] = min(run["seconds"], runs[name]["seconds"])
                run["cpu_ms_per_1000_events"] = min(run["cpu_ms_per_1000_events"], runs[name]["cpu_ms_per_1000_events"])
            runs[name] = run
    finally:
        embedded.stop()
    one, side = runs["one chain"], runs["side by side"]
    speedup = round(one["seconds"] / side["seconds"], 2)
    return {"members": members, "events": members * per_member, "runs": runs, "speedup": speedup, **on_paper(side)}


def functions_client(endpoint: str) -> Any:
    """A DynamoDB client made as the functions make theirs (``deadline.new_client``: parameter validation off, the
    deadline's hooks), on a local store's endpoint with the local stack's dummy credentials."""
    import os
    from unittest import mock

    from devtools.local_stack.store import LOCAL_CREDENTIALS
    from emma_events.deadline import new_client

    with mock.patch.dict(os.environ, {**LOCAL_CREDENTIALS, "AWS_ENDPOINT_URL_DYNAMODB": endpoint}):
        return new_client()


#: The model's assumptions for AWS: a DynamoDB call's mean latency from Lambda (single-digit milliseconds for
#: reads, about twice for transactions; 10 ms is the round figure); a table partition takes at most 1,000 writes a
#: second, so a table that deletes 10M events in the target time has at least that rate / 1,000 partitions, and
#: its stream a shard per partition (each with ``ParallelizationFactor`` lanes).
AWS_CALL_S = 0.010
PARTITION_WRITES_PER_S = 1000
TEN_MILLION = 10_000_000
TARGET_MINUTES = 15
#: The fewest events a run must delete for its figures per 1,000 events to be judged (``make bench``: 5,000).
JUDGED_FROM = 5_000


def busiest_lane(ranges: int, lanes: int, quantile: float = 0.99, trials: int = 20_000) -> int:
    """How many of ``ranges`` partition keys the busiest of ``lanes`` lanes carries, in ``quantile`` of the ways
    they can hash over them (Lambda sends the records of one partition key to one lane, chosen by its hash)."""
    import random
    from collections import Counter

    draw = random.Random(0)  # noqa: S311 - a model's draws, not a secret
    maxima = sorted(max(Counter(draw.randrange(lanes) for _ in range(ranges)).values()) for _ in range(trials))
    return maxima[int(quantile * trials)]


def on_paper(run: dict[str, Any]) -> dict[str, Any]:
    """10M events over 1M members on AWS, from a run's calls and CPU per 1,000 events and the template's settings:
    each ``ByType`` range holds a 16th of the events, and its cursor's records go to one of the stream shard's
    lanes (``ParallelizationFactor``); the busiest lane's ranges are stepped side by side in one invocation. The
    bound of each resource: a range's deletes paced to its index key's writes a second; the busiest lane's calls,
    ``WORKERS`` at a time; its CPU, one process."""
    from devtools.local_stack.template import resources, stream_subscriptions
    from emma_events import keys
    from emma_events.cascade_store import WORKERS

    (mapping,) = [p for name, p, _ in stream_subscriptions() if name == "CascadeDeleteFunction"]
    function = resources("AWS::Serverless::Function")["CascadeDeleteFunction"]["Properties"]
    paced = float(function["Environment"]["Variables"]["CASCADE_KEY_WRITES_PER_SECOND"])
    per_range = TEN_MILLION / keys.TYPE_INDEX_SHARDS
    partitions = math.ceil(TEN_MILLION / (TARGET_MINUTES * 60) / PARTITION_WRITES_PER_S)
    lanes = partitions * int(mapping.get("ParallelizationFactor", 1))
    together = min(busiest_lane(keys.TYPE_INDEX_SHARDS + 1, lanes), int(mapping["BatchSize"]))
    calls = sum(run["calls_per_1000_events"].values()) / 1000
    bounds = {
        "table_s": round(TEN_MILLION / (partitions * PARTITION_WRITES_PER_S)),  # the assumed table's own writes
        "per_key_s": round(per_range / paced),
        "latency_s": round(together * per_range * calls * AWS_CALL_S / WORKERS),
        "cpu_s": round(together * per_range * run["cpu_ms_per_1000_events"] / 1e6),
    }
    minutes = round(max(bounds.values()) / 60, 1)
    return {
        "ten_million_on_paper": bounds
        | {
            "partitions": partitions,
            "ranges_in_busiest_lane": together,
            "lanes": lanes,
            "minutes": minutes,
            "target_minutes": TARGET_MINUTES,
        }
    }


def print_ranges(spread: dict[str, Any]) -> list[str]:
    """Print phase 4b; what failed."""
    print(f"\n4b. A type's cascade over {spread['members']:,} members, {spread['events']:,} events (DynamoDB Local):")
    for name, run in spread["runs"].items():
        calls = sum(run["calls_per_1000_events"].values())
        cpu = run["cpu_ms_per_1000_events"]
        print(f"  {name:<14} {run['seconds']:>6.2f} s; per 1,000 events {cpu:>6.1f} ms CPU, {calls:.0f} calls")
    paper = spread["ten_million_on_paper"]
    print(f"  speed-up {spread['speedup']}x")
    print(
        f"  10M events over 1M members on AWS, on paper: {paper['minutes']} min, target <= {TARGET_MINUTES} "
        f"(bounds: the table's {paper['partitions']} partitions {paper['table_s']} s, ByType keys "
        f"{paper['per_key_s']} s, calls {paper['latency_s']} s, CPU {paper['cpu_s']} s; "
        f"{paper['ranges_in_busiest_lane']} ranges in the busiest of {paper['lanes']} stream lanes, 99th percentile; "
        f"the fewest partitions that take 10M deletes in the target time: fewer cannot, whatever the design)"
    )
    if spread["events"] < JUDGED_FROM:  # a short run's fixed costs (17 ranges, their cursors) swamp its events
        print(f"  (a run under {JUDGED_FROM:,} events is not judged)")
        return []
    failed = ["10M cascade on paper"] if paper["minutes"] > TARGET_MINUTES else []
    if spread["speedup"] <= 1:
        failed.append("cascade speed-up")
    return failed

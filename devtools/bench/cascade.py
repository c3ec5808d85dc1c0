"""Phase 4 of ``make bench``: the cascade delete of 10,000 events against a plain loop of deletes, over HTTP to
the embedded DynamoDB.

Wall time on a shared machine, so both are given the same treatment: cascade and plain loop alternate ``repeats``
times and the fastest of each is compared (the usual estimator of a cost under noise: noise only ever adds
time). The first run also pays DynamoDB Local's warm-up (its JVM compiles its hot paths during the first
thousands of requests): one run of each, cascade first, made the ratio swing from 1.15 to 1.34 between runs.
"""

from __future__ import annotations

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
    from devtools.local_stack.worker import LambdaContext
    from emma_events import keys
    from emma_events.cascade import Cascade
    from emma_events.cascade_store import CascadeStore
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

        def cascade_of(parent: Parent) -> tuple[float, int]:
            seed_bench_events(stores, 1, parent.parent_id, count)
            meter.reset()  # the cascade's own calls only
            # No wait for the index's lag: that is latency, not work (and no index lags here).
            cascade = Cascade(stores.cascades, time_margin_ms=60_000, page_size=1000, index_lag_s=0)
            started = time.perf_counter()
            result = cascade.start(parent, LambdaContext(deadline=time.time() + 900))
            steps = 1
            while not result.done:  # the next step, as the cursor item's stream record would start it
                item = reader.get_item(TableName="cascade-bench", Key=stores.cascades._cascade_key(parent))["Item"]
                result = cascade.step(CascadeStore.cascade_of(item), LambdaContext(deadline=time.time() + 900))
                steps += 1
            return time.perf_counter() - started, steps

        cascade_times, plain_times = [], []
        for repeat in range(repeats):
            parent = Parent("event_type", 100, 7 + repeat)  # each cascade a type of its own
            seconds, steps = cascade_of(parent)
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
        "steps": steps,
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
    DynamoDB Local: its ranges one after another (the single chain of releases before) against side by side; wall
    time, this process's CPU time and the calls, per 1,000 events."""
    import logging
    import time

    from devtools.bench.capacity import CapacityMeter
    from devtools.local_stack.store import EmbeddedDynamoDB
    from devtools.local_stack.template import create_table_kwargs
    from devtools.local_stack.worker import LambdaContext
    from emma_events.cascade import Cascade
    from emma_events.cascade_store import CascadeStore
    from emma_events.domain import Parent
    from emma_events.stores import Stores

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    embedded = EmbeddedDynamoDB(port=0, store="dynamodb-local")
    embedded.start()
    runs: dict[str, Any] = {}
    try:
        client = embedded.client()
        client.create_table(**create_table_kwargs("cascade-spread"))
        stores = Stores("cascade-spread", client)
        meter = CapacityMeter(client)
        reader = embedded.client()
        for type_id, parallel in ((21, False), (22, True)):
            for member in range(1, members + 1):
                seed_bench_events(stores, member, type_id, per_member)
            meter.reset()
            parent = Parent("event_type", 100, type_id)
            cascade = Cascade(stores.cascades, time_margin_ms=60_000, page_size=1000, parallel=parallel)
            wall, cpu = time.perf_counter(), time.process_time()
            result = cascade.start(parent, LambdaContext(deadline=time.time() + 900))
            while not result.done:
                item = reader.get_item(TableName="cascade-spread", Key=stores.cascades._cascade_key(parent))["Item"]
                result = cascade.step(CascadeStore.cascade_of(item), LambdaContext(deadline=time.time() + 900))
            events = members * per_member
            runs["parallel" if parallel else "one range at a time"] = {
                "seconds": round(time.perf_counter() - wall, 2),
                "cpu_ms_per_1000_events": round((time.process_time() - cpu) * 1000 / events * 1000, 1),
                "calls_per_1000_events": {n: round(c * 1000 / events, 1) for n, c in sorted(meter.calls.items())},
                "deleted": result.total,
            }
    finally:
        embedded.stop()
    one, side = runs["one range at a time"], runs["parallel"]
    speedup = round(one["seconds"] / side["seconds"], 2)
    return {"members": members, "events": members * per_member, "runs": runs, "speedup": speedup, **on_paper(side)}


#: The model's assumptions for AWS: a DynamoDB call's mean latency from Lambda (single-digit milliseconds for
#: reads, about twice for transactions; 10 ms is the round figure) and one vCPU for the cascade's function.
AWS_CALL_S = 0.010
TEN_MILLION = 10_000_000


def on_paper(run: dict[str, Any]) -> dict[str, Any]:
    """10M events over 1M members on AWS, from a run's calls and CPU per 1,000 events: the bound of each resource
    (the ByType keys' 1,000 deletes a second each; each range's calls one after another; one process's CPU)."""
    from emma_events import keys

    thousands = TEN_MILLION / 1000
    calls = sum(run["calls_per_1000_events"].values())
    bounds = {
        "per_key_s": round(TEN_MILLION / keys.TYPE_INDEX_SHARDS / 1000),
        "latency_s": round(thousands / (keys.TYPE_INDEX_SHARDS + 1) * calls * AWS_CALL_S),
        "cpu_s": round(thousands * run["cpu_ms_per_1000_events"] / 1000),
    }
    return {"ten_million_on_paper": bounds | {"minutes": round(max(bounds.values()) / 60, 1)}}


def print_ranges(spread: dict[str, Any]) -> None:
    print(f"\n4b. A type's cascade over {spread['members']:,} members, {spread['events']:,} events (DynamoDB Local):")
    for name, run in spread["runs"].items():
        calls = sum(run["calls_per_1000_events"].values())
        cpu = run["cpu_ms_per_1000_events"]
        print(f"  {name:<20} {run['seconds']:>6.2f} s; per 1,000 events {cpu:>6.1f} ms CPU, {calls:.0f} calls")
    paper = spread["ten_million_on_paper"]
    print(f"  speed-up {spread['speedup']}x")
    print(
        f"  10M events over 1M members on AWS, on paper: {paper['minutes']} min (bounds: ByType keys "
        f"{paper['per_key_s']} s, calls {paper['latency_s']} s, CPU {paper['cpu_s']} s); not a target yet"
    )

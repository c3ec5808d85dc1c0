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
            left += reader.query(
                TableName="cascade-bench",
                IndexName=keys.TYPE_INDEX,
                KeyConditionExpression="GSI1PK = :pk",
                ExpressionAttributeValues={":pk": {"S": keys.type_index_pk(100, parent.parent_id)}},
                Select="COUNT",
            )["Count"]
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

"""Phase 3 of ``make bench``: warm latency of every endpoint in-process, p50 and p99, with DynamoDB's answers
replayed."""

from __future__ import annotations

import json
import math
import os
from contextlib import nullcontext
from typing import Any
from unittest import mock

from devtools.bench.request_cost import call, seed_bench_events


class Replay:
    """Records what DynamoDB answers to one invocation, then answers the same, instantly, to the next ones.

    A ``before-call`` handler that returns a response short-circuits botocore (as botocore's Stubber does): the
    request is still validated and serialized, only the network and the store are skipped. Warm latency is then
    the function's own work; each DynamoDB round trip adds the service's latency on top (docs/performance.md).
    """

    def __init__(self, client: Any) -> None:
        self.recorded: list[tuple[str, Any, dict[str, Any]]] = []
        self.queue: list[tuple[str, Any, dict[str, Any]]] = []
        self.recording = False
        client.meta.events.register("before-call.dynamodb.*", self._before)
        client.meta.events.register("after-call.dynamodb.*", self._after)

    def _before(self, model: Any, **_: Any) -> Any:
        if self.recording or not self.queue:
            return None
        while model.name != "BatchGetItem" and len(self.queue) > 1 and self.queue[0][0] == "BatchGetItem":
            self.queue.pop(0)  # a read the recording made and this call skips: a name known for a second
        if model.name in ("UpdateItem", "BatchGetItem") and self.queue[0][0] != model.name:
            # a block of ids leased (ids.IdBlocks: once per 100 or 1,000 ids), or the types read again (once a
            # second: event_batch.KnownSchemas): moto answers it
            return None
        operation, http, parsed = self.queue.pop(0)
        assert operation == model.name, (operation, model.name)
        return http, parsed

    def _after(self, model: Any, http_response: Any, parsed: dict[str, Any], **_: Any) -> None:
        if self.recording:
            self.recorded.append((model.name, http_response, json.loads(json.dumps(parsed, default=str))))

    def arm(self) -> None:
        """Queue fresh copies of the recorded answers for the next invocation (outside the timed part)."""
        self.queue = [(op, http, json.loads(json.dumps(parsed))) for op, http, parsed in self.recorded]


def warm_latency(calls: int = 1000) -> list[dict[str, Any]]:
    """p50/p99 of ``calls`` warm invocations of each endpoint, in-process, with DynamoDB's answers replayed
    (recorded once from moto); the round trips each one makes are in the request-cost table."""
    import time

    import boto3
    from moto import mock_aws

    from devtools.local_stack.template import create_table_kwargs
    from devtools.testing.seeding import seed_example_world
    from emma_events import event_batch, event_type_store, stores

    rows = []
    with mock_aws():
        stores.reset()
        boto3.client("dynamodb").create_table(**create_table_kwargs(os.environ["TABLE_NAME"]))
        world = stores.Stores.of_this_container()
        seed_example_world(world)
        seed_bench_events(world, 1, 1, 50)
        replay = Replay(world.client)
        by_ids = {"events": [{"member_id": 1, "event_type_id": 1, "event_monetary_value": 9.99}] * 10}
        checked = {"events": [{"member_id": 1, "event_type_id": 2, "attributes": {"order_id": "ORD-1001", "total": 9}}]}
        for body in (by_ids, checked):  # a warm container has read the types (event_batch.KnownSchemas)
            call("create_member_events", body=body)  # and leased a block of event ids (ids.IdBlocks)
        spare = call("add_member", body={"email": "warm@example.com"}).body["member_id"]  # and of member ids
        endpoints: list[tuple[str, str, dict[str, Any]]] = [
            ("authorizer", "authorizer", {}),
            ("get event type", "get_event_type", {}),
            ("list event types", "list_event_types", {}),
            ("create event type", "create_event_type", {"body": {"event_type": "signup", "display_name": "S"}}),
            ("rename event type", "update_event_type", {}),
            ("add member", "add_member", {"body": {"email": "grace@example.com"}}),
            ("get member", "get_member", {}),
            ("get member by email", "get_member_by_email", {}),
            ("count members", "list_members", {"query": {"count": "true"}}),
            ("list fields", "list_fields", {}),
            ("member events (50)", "list_member_events", {}),
            ("member stats", "get_member_event_stats", {}),
            ("POST 10 events", "create_member_events", {"body": by_ids}),
            ("POST 10, with a schema", "create_member_events", {"body": {"events": checked["events"] * 10}}),
            ("delete event type", "delete_event_type", {"path": {"event_type_id": 2}}),
            ("delete member", "delete_member", {"path": {"member_id": spare}}),
        ]
        # A warm container read its types less than FRESH_FOR_S ago: the calls below (recorded and timed) measure that
        # path, however long the phase takes (the read once a second is the request-cost row "type not read yet").
        fresh_for = event_batch.FRESH_FOR_S
        warm_types = mock.patch.object(event_batch, "FRESH_FOR_S", float("inf"))
        warm_types.start()
        for label, name, kwargs in endpoints:
            # A type's change or delete answers FRESH_FOR_S after its write, by design: its own work is timed,
            # and the wait reported beside it.
            waits = name in ("update_event_type", "delete_event_type")
            timings = []
            with mock.patch.object(event_type_store.time, "sleep", return_value=None) if waits else nullcontext():
                replay.recorded, replay.recording = [], True
                call(name, **kwargs)  # the first call: recorded against moto (and warms the function up)
                replay.recording = False
                for _ in range(calls):
                    replay.arm()
                    started = time.perf_counter()
                    call(name, **kwargs)
                    timings.append((time.perf_counter() - started) * 1000)
            rows.append(
                {
                    "endpoint": label,
                    "function": name,
                    "calls": calls,
                    "round_trips": len(replay.recorded),
                    "p50_ms": _percentile(timings, 50),
                    "p99_ms": _percentile(timings, 99),
                    "wait_s": fresh_for if waits else 0,
                }
            )
        warm_types.stop()
    return rows


def _percentile(values: list[float], q: int) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, math.ceil(q / 100 * len(ordered)) - 1)], 2)


#: The goal each function's cold start is reported against: at most 1.3x the boto3-only floor.

"""``make bench``: what each operation costs in DynamoDB round trips, against budgets; figures printed and saved.

Every operation runs through its real handler (functions/<name>/app.py) on moto's in-memory DynamoDB; a botocore
hook on the repository's client counts the API calls each one makes, by operation name. The budgets are those
of the issues; the command exits 1 when one is exceeded.

    python -m devtools.bench [--json bench-results.json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
_SEED_TIME = datetime(2026, 1, 1, tzinfo=UTC)


def _environment() -> None:
    os.environ.update(
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",  # noqa: S106 - a dummy credential for moto
        AWS_DEFAULT_REGION="us-east-1",
        AWS_REGION="us-east-1",
        TABLE_NAME="emma-events-bench",
        POWERTOOLS_LOG_LEVEL="ERROR",
    )
    for variable in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB"):
        os.environ.pop(variable, None)
    sys.path.insert(0, str(ROOT / "layers" / "emma_events"))


class CallCounter:
    """Counts the DynamoDB API calls made by the repository's client."""

    def __init__(self, client: Any) -> None:
        self.calls: Counter[str] = Counter()
        client.meta.events.register("before-call.dynamodb.*", self._count)

    def _count(self, model: Any, **_: Any) -> None:
        self.calls[model.name] += 1

    def measure(self, action: Callable[[], Any]) -> tuple[Any, Counter[str]]:
        self.calls.clear()
        result = action()
        return result, Counter(self.calls)


def _seed_events(repository: Any, member_id: int, type_id: int, count: int) -> None:
    """Write events straight through BatchWriteItem, in the repository's own item layout (setup only: moto
    copies the whole table on every transaction, which would make seeding through the API quadratic)."""
    from emma_events.domain import MemberEvent

    now = _SEED_TIME
    items = [
        repository._event_item(MemberEvent(100, 1_000_000 + n, member_id, type_id, now, now, 1.5, None, None))
        for n in range(count)
    ]
    for start in range(0, len(items), 25):
        batch = [{"PutRequest": {"Item": item}} for item in items[start : start + 25]]
        repository.client.batch_write_item(RequestItems={repository.table_name: batch})


def run() -> list[dict[str, Any]]:
    from moto import mock_aws

    from devtools.handlers import invoke
    from devtools.make_events import EVENTS_BY_FUNCTION
    from devtools.template import create_table_kwargs

    def call(
        name: str, *, path: dict[str, Any] | None = None, body: Any = None, query: Any = None, headers: Any = None
    ) -> Any:
        event = json.loads(json.dumps(EVENTS_BY_FUNCTION[name]))
        if path:
            event["pathParameters"].update({k: str(v) for k, v in path.items()})
            rendered = event["resource"]
            for key, value in event["pathParameters"].items():
                rendered = rendered.replace("{" + key + "}", value)
            event["path"] = rendered
            event["requestContext"]["path"] = "/v1" + rendered
        if body is not None:
            event["body"] = json.dumps(body)
        if query is not None:
            event["queryStringParameters"] = query
            event["multiValueQueryStringParameters"] = {k: [v] for k, v in query.items()}
        event["headers"].pop("Idempotency-Key", None)
        event["multiValueHeaders"].pop("Idempotency-Key", None)
        for key, value in (headers or {}).items():
            event["headers"][key] = value
            event["multiValueHeaders"][key] = [value]
        result = invoke(name, event)
        assert result.status == 200, (name, result.status, result.body)
        return result

    rows: list[dict[str, Any]] = []
    with mock_aws():
        import boto3

        from emma_events.repository import get_repository

        boto3.client("dynamodb").create_table(**create_table_kwargs(os.environ["TABLE_NAME"]))
        counter = CallCounter(get_repository().client)

        def row(operation: str, action: Callable[[], Any], budget: int | None = None) -> Any:
            result, calls = counter.measure(action)
            rows.append(
                {
                    "operation": operation,
                    "round_trips": sum(calls.values()),
                    "calls": dict(sorted(calls.items())),
                    "budget": budget,
                }
            )
            return result

        type_id = row("create event type", lambda: call("create_event_type")).body["event_type_id"]
        row("list event types", lambda: call("list_event_types"))
        row("count event types", lambda: call("list_event_types", query={"count": "true"}))
        row("get event type", lambda: call("get_event_type", path={"event_type_id": type_id}))
        row("rename event type (new name)", lambda: call("update_event_type", path={"event_type_id": type_id}))
        row(
            "rename event type (display name only)",
            lambda: call(
                "update_event_type",
                path={"event_type_id": type_id},
                body={"event_type": "order", "display_name": "Orders"},
            ),
        )
        spare = call("create_event_type", body={"event_type": "spare", "display_name": "Spare"}).body["event_type_id"]
        row("delete event type", lambda: call("delete_event_type", path={"event_type_id": spare}))

        member_id = row("add member (new)", lambda: call("add_member")).body["member_id"]
        row("add member (existing)", lambda: call("add_member"))
        row("get member", lambda: call("get_member", path={"member_id": member_id}))
        row("get member by email", lambda: call("get_member_by_email"))
        other = call("add_member", body={"email": "other@example.com"}).body["member_id"]
        row("delete member", lambda: call("delete_member", path={"member_id": other}))

        by_ids = [{"member_id": member_id, "event_type_id": type_id, "event_monetary_value": 9.99}] * 10
        by_names = [{"email": "ada@example.com", "event_type": "order", "attributes": {"n": 1}}] * 10
        row("POST 10 events by ids", lambda: call("create_member_events", body={"events": by_ids}), budget=2)
        row("POST 10 events by email and name", lambda: call("create_member_events", body={"events": by_names}), 3)
        key = {"Idempotency-Key": "bench-1"}
        row(
            "POST 10 events by ids + Idempotency-Key",
            lambda: call("create_member_events", body={"events": by_ids}, headers=key),
            budget=3,
        )
        row(
            "POST 10 events by ids + Idempotency-Key (replay)",
            lambda: call("create_member_events", body={"events": by_ids}, headers=key),
            budget=4,
        )
        _seed_events(get_repository(), member_id, type_id, 1000)  # 1,030 events in all
        member = {"member_id": member_id}
        first = row(
            "member events: first page (500)",
            lambda: call("list_member_events", path=member, query={"start": "0", "end": "500"}),
            budget=2,
        )
        link = first.headers["Link"]
        cursor = link[link.index("cursor=") + 7 : link.index("&")]
        row(
            "member events: cursor page (after 500)",
            lambda: call("list_member_events", path=member, query={"cursor": cursor, "limit": "500"}),
            budget=2,
        )
        page = call("list_member_events", path=member, query={"cursor": cursor, "limit": "500"})
        link = page.headers["Link"]
        deep = link[link.index("cursor=") + 7 : link.index("&")]
        row(
            "member events: cursor page (after 1,000)",
            lambda: call("list_member_events", path=member, query={"cursor": deep, "limit": "500"}),
            budget=2,
        )
        row("member events: count", lambda: call("list_member_events", path=member, query={"count": "true"}))
    return rows


def cascade_benchmark(count: int = 10_000) -> dict[str, Any]:
    """A cascade of ``count`` events against the embedded DynamoDB (moto's server, over HTTP), step after step as
    the stream would chain them, against a plain loop of BatchWriteItem deletes of the same keys."""
    import time

    from devtools.embedded_dynamodb import EmbeddedDynamoDB
    from devtools.template import create_table_kwargs
    from emma_events import keys
    from emma_events.cascade import Cascade
    from emma_events.domain import Parent
    from emma_events.repository import Repository

    class Unhurried:
        def get_remaining_time_in_millis(self) -> int:
            return 900_000

    import logging

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # the embedded DynamoDB's request log
    store = EmbeddedDynamoDB(port=0)
    store.start()
    try:
        client = store.client()
        client.create_table(**create_table_kwargs("cascade-bench"))
        repository = Repository("cascade-bench", client)
        counter = CallCounter(client)
        parent = Parent("event_type", 100, 7)

        _seed_events(repository, 1, parent.parent_id, count)
        cascade = Cascade(repository, time_margin_ms=60_000, page_size=1000)
        counter.calls.clear()
        started = time.perf_counter()
        result = cascade.start(parent, Unhurried())
        steps = 1
        while not result.done:  # the next step, as the cursor item's stream record would start it
            item = client.get_item(TableName="cascade-bench", Key=repository._cascade_key(parent))["Item"]
            counter.calls["GetItem"] -= 1  # the benchmark's own read, not the cascade's
            result = cascade.step(Repository.cascade_of(item), Unhurried())
            steps += 1
        cascade_seconds = time.perf_counter() - started
        cascade_calls = {name: n for name, n in sorted(counter.calls.items()) if n}
        left = client.query(
            TableName="cascade-bench",
            IndexName=keys.TYPE_INDEX,
            KeyConditionExpression="GSI1PK = :pk",
            ExpressionAttributeValues={":pk": {"S": keys.type_index_pk(100, parent.parent_id)}},
            Select="COUNT",
        )["Count"]

        _seed_events(repository, 1, parent.parent_id, count)
        event_keys = [
            {keys.PK: {"S": keys.member_pk(100, 1)}, keys.SK: {"S": keys.event_sk(ts, 1_000_000 + n)}}
            for n, ts in enumerate([_seed_timestamp()] * count)
        ]
        started = time.perf_counter()
        for start in range(0, len(event_keys), 25):
            batch = [{"DeleteRequest": {"Key": key}} for key in event_keys[start : start + 25]]
            client.batch_write_item(RequestItems={"cascade-bench": batch})
        plain_seconds = time.perf_counter() - started
    finally:
        store.stop()
    return {
        "events": count,
        "left_after_cascade": left,
        "steps": steps,
        "cascade_seconds": round(cascade_seconds, 2),
        "cascade_calls": cascade_calls,
        "plain_loop_seconds": round(plain_seconds, 2),
        "plain_loop_calls": {"BatchWriteItem": (count + 24) // 25},
        "ratio": round(cascade_seconds / plain_seconds, 3),
        "request_ratio": round(sum(cascade_calls.values()) / ((count + 24) // 25), 3),
        "ratio_goal": 1.2,
    }


def _seed_timestamp() -> str:
    from emma_events.dates import to_storage

    return to_storage(_SEED_TIME)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", type=Path, default=ROOT / "bench-results.json")
    parser.add_argument("--cascade-events", type=int, default=10_000, help="0 skips the cascade benchmark")
    args = parser.parse_args(argv)
    _environment()
    rows = run()
    width = max(len(r["operation"]) for r in rows)
    print(f"{'operation':<{width}}  round trips  budget  calls")
    failed = []
    for r in rows:
        budget = "" if r["budget"] is None else str(r["budget"])
        verdict = "" if r["budget"] is None or r["round_trips"] <= r["budget"] else "  OVER BUDGET"
        calls = ", ".join(f"{name} x{n}" for name, n in r["calls"].items())
        print(f"{r['operation']:<{width}}  {r['round_trips']:>11}  {budget:>6}  {calls}{verdict}")
        if verdict:
            failed.append(r["operation"])
    scans = [r["operation"] for r in rows if "Scan" in r["calls"]]
    print(f"\nScan calls: {len(scans)}")

    cascade = cascade_benchmark(args.cascade_events) if args.cascade_events else None
    if cascade:
        calls = ", ".join(f"{name} x{n}" for name, n in cascade["cascade_calls"].items())
        print(f"\nCascade delete of {cascade['events']:,} events (embedded DynamoDB over HTTP):")
        print(f"  cascade     {cascade['cascade_seconds']:>7.2f} s  {cascade['steps']} step(s)  {calls}")
        plain = cascade["plain_loop_calls"]["BatchWriteItem"]
        print(f"  plain loop  {cascade['plain_loop_seconds']:>7.2f} s  BatchWriteItem x{plain}")
        print(
            f"  ratio       {cascade['ratio']:>7.3f}    time, goal <= {cascade['ratio_goal']}; "
            f"requests {cascade['request_ratio']:.3f}; events left: {cascade['left_after_cascade']}"
        )
        if cascade["left_after_cascade"]:
            failed.append("cascade left events behind")
        if cascade["ratio"] > cascade["ratio_goal"]:
            print("  time over the goal: moto's Query costs ~0.9 ms per item it returns (README, Cascade delete)")
    args.json.write_text(json.dumps({"round_trips": rows, "cascade": cascade}, indent=2) + "\n")
    print(f"figures written to {args.json}")
    if failed or scans:
        print(f"FAILED: over budget: {failed}; scans: {scans}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

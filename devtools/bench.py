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
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


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
    from emma_events.dates import utc_now
    from emma_events.domain import MemberEvent

    now = utc_now()
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", type=Path, default=ROOT / "bench-results.json")
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
    args.json.write_text(json.dumps({"round_trips": rows}, indent=2) + "\n")
    print(f"figures written to {args.json}")
    if failed or scans:
        print(f"FAILED: over budget: {failed}; scans: {scans}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Phase 2 of ``make bench``: every operation through its real handler on moto's in-memory DynamoDB; DynamoDB
calls counted by a botocore hook, capacity units modelled from the items (capacity.py), against the budgets."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from unittest import mock

_SEED_TIME = datetime(2026, 1, 1, tzinfo=UTC)


def seed_bench_events(stores: Any, member_id: int, type_id: int, count: int) -> list[dict[str, Any]]:
    from devtools.testing.seeding import seed_events

    return seed_events(stores, member_id, type_id, count, at=_SEED_TIME, monetary_value=1.5)


def call(
    name: str, *, path: dict[str, Any] | None = None, body: Any = None, query: Any = None, headers: Any = None
) -> Any:
    """Invoke a function in-process with a variation of its events/ event; it must answer 200."""
    from devtools.testing.events import EVENTS_BY_FUNCTION, UNSET, vary
    from devtools.testing.in_process import LambdaContext, invoke, load_function

    event = vary(
        EVENTS_BY_FUNCTION[name],
        path=path,
        body=UNSET if body is None else body,
        query=UNSET if query is None else query,
        headers=headers,
    )
    if not headers:
        event = vary(event, drop_headers=("Idempotency-Key",))
    if name == "authorizer":
        answer = load_function(name).lambda_handler(event, LambdaContext(function_name=name))
        assert answer["policyDocument"]["Statement"][0]["Effect"] == "Allow", answer
        return answer
    result = invoke(name, event)
    assert result.status == 200, (name, result.status, result.body)
    return result


def run() -> list[dict[str, Any]]:
    from moto import mock_aws

    from devtools.bench.capacity import CapacityMeter
    from devtools.local_stack.template import create_table_kwargs

    rows: list[dict[str, Any]] = []
    with mock_aws():
        import boto3

        from emma_events.stores import Stores

        boto3.client("dynamodb").create_table(**create_table_kwargs(os.environ["TABLE_NAME"]))
        meter = CapacityMeter(Stores.of_this_container().client)

        def row(operation: str, action: Callable[[], Any], budget: int | None = None) -> Any:
            meter.reset()
            result = action()
            rows.append(
                {
                    "operation": operation,
                    "round_trips": sum(meter.calls.values()),
                    "calls": dict(sorted(meter.calls.items())),
                    "budget": budget,
                    "read_units": meter.reads,
                    "write_units": meter.writes,
                    "lower_bound": meter.lower_bound,
                    "reported_by_store": meter.reported,
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
        row("list members (a page)", lambda: call("list_members"), budget=18)
        row("count members", lambda: call("list_members", query={"count": "true"}), budget=1)
        row("create field", lambda: call("create_field"))
        row("list fields", lambda: call("list_fields"))

        by_ids = [{"member_id": member_id, "event_type_id": type_id, "event_monetary_value": 9.99}] * 10
        by_names = [{"email": "ada@example.com", "event_type": "order", "attributes": {"n": 1}}] * 10
        post = lambda events: lambda: call("create_member_events", body={"events": events})  # noqa: E731
        row("POST 10 events by ids, type not read yet by this container", post(by_ids), budget=3)
        row("POST 10 events by ids", warm(post(by_ids)), budget=2)
        row("POST 10 events by email and name", warm(post(by_names)), 3)
        forget_types()
        row("POST 10 events by email and name, type not read yet", post(by_names), 4)
        schema_rows(row, call, member_id)
        key = {"Idempotency-Key": "bench-1"}
        row(
            "POST 10 events by ids + Idempotency-Key",
            warm(lambda: call("create_member_events", body={"events": by_ids}, headers=key)),
            budget=3,
        )
        row(
            "POST 10 events by ids + Idempotency-Key (replay)",
            warm(lambda: call("create_member_events", body={"events": by_ids}, headers=key)),
            budget=4,
        )
        seed_bench_events(Stores.of_this_container(), member_id, type_id, 1000)  # 1,030 events in all
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
        row("member stats (2 types)", lambda: call("get_member_event_stats", path=member), budget=6)
    return rows


def warm(action: Callable[[], Any]) -> Callable[[], Any]:
    """``action`` in a container that read its types less than ``FRESH_FOR_S`` ago, however long the rows before
    took (on a loaded machine, and with the tests' short freshness, they may take longer)."""

    def within_freshness() -> Any:
        from emma_events import event_batch

        with mock.patch.object(event_batch, "FRESH_FOR_S", float("inf")):
            return action()

    return within_freshness


def forget_types() -> None:
    """This container forgets the types it has read, as a new container would not know them."""
    from emma_events.event_batch import KnownSchemas
    from emma_events.stores import member_events

    member_events().schemas = KnownSchemas()


def schema_rows(row: Callable[..., Any], call: Callable[..., Any], member_id: int) -> None:
    """POSTs for a type with an attributes schema (schemas.ORDER_SCHEMA): cold, warm, and after it changed."""
    from devtools.bench.schemas import ORDER_SCHEMA, _order

    body = {"event_type": "checkout", "display_name": "Checkout", "attributes_schema": ORDER_SCHEMA}
    type_id = call("create_event_type", body=body).body["event_type_id"]
    events = [{"member_id": member_id, "event_type_id": type_id, "attributes": _order(3)}] * 10
    post = lambda: call("create_member_events", body={"events": events})  # noqa: E731
    row("POST 10 events with a schema by ids, schema not read yet", post, budget=3)
    row("POST 10 events with a schema by ids", warm(post), budget=2)
    changed = body | {"attributes_schema": ORDER_SCHEMA | {"required": ["order_id", "lines"]}}
    call("update_event_type", path={"event_type_id": type_id}, body=changed)
    row("POST 10 events with a schema by ids, schema changed since", post, budget=4)

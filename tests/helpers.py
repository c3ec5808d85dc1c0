"""What the test modules share: calls of the functions by name (built from the events/ files), filters of the
table's items, seeding in bulk, and running calls at the same instant. No test module imports another."""

from __future__ import annotations

import json
import os
import threading
from typing import Any

import devtools.testing.seeding
from devtools.testing.events import api_event
from devtools.testing.in_process import invoke


def examples(count: int) -> int:
    """How many examples a property that runs on both stores generates: all on moto, whose tier searches, and a
    quarter on DynamoDB Local, whose tier checks that the store answers as AWS's does (the same properties, with
    fewer inputs; every example of both is a test of the reference's behaviour too)."""
    return count if os.environ.get("TEST_STORE", "moto") == "moto" else max(4, count // 4)


def entities(table_items: Any, entity: str) -> list[dict[str, Any]]:
    """The table's items of one kind (``entity``: "member_event", "event_type", "member", "cascade", ...)."""
    return [item for item in table_items() if item.get("entity", {}).get("S") == entity]


def assert_problem(result: Any, status: int, *fields: str) -> None:
    assert result.status == status, result.body
    assert result.content_type == "application/problem+json"
    assert {"type", "title", "status", "detail"} <= result.body.keys()
    assert result.body["status"] == status
    if fields:
        named = {error["field"] for error in result.body["errors"]}
        for field in fields:
            assert any(n == field or n.startswith(field + ".") for n in named), (field, named)


def snapshot(table_items: Any) -> list[str]:
    """The table's items but the id counters: ids taken by a request that fails are skipped, never reused."""
    kept = [item for item in table_items() if item["SK"]["S"] != "SEQ"]
    return sorted(json.dumps(item, sort_keys=True) for item in kept)


def survives(table_items: Any, name: str, event: dict[str, Any]) -> Any:
    """Hostile input's property: 200, or a 4xx problem document (a 400 names each field) and the table as it was."""
    before = snapshot(table_items)
    result = invoke(name, event)
    assert result.status == 200 or 400 <= result.status < 500, (result.status, result.body)
    if result.status != 200:
        assert result.content_type == "application/problem+json", result.headers
        assert result.body["status"] == result.status
        if result.status == 400:
            fields = [error["field"] for error in result.body["errors"]]
            assert fields, result.body
            assert all(f.split(".")[0] in {"body", "path", "query", "header"} for f in fields), fields
        assert snapshot(table_items) == before, result.body
    return result


def create_type(account_id: int = 100, event_type: str = "purchase") -> int:
    result = invoke(
        "create_event_type",
        api_event(
            "create_event_type", path={"account_id": account_id}, body={"event_type": event_type, "display_name": "X"}
        ),
    )
    assert result.status == 200, result.body
    return int(result.body["event_type_id"])


def delete_type(account_id: int, event_type_id: int) -> Any:
    path = {"account_id": account_id, "event_type_id": event_type_id}
    return invoke("delete_event_type", api_event("delete_event_type", path=path))


def add_member(account_id: int = 100, email: str = "ada@example.com", fields: Any = None) -> Any:
    body: dict[str, Any] = {"email": email}
    if fields is not None:
        body["fields"] = fields
    return invoke("add_member", api_event("add_member", path={"account_id": account_id}, body=body))


def new_member(account_id: int = 100, email: str = "ada@example.com") -> int:
    result = add_member(account_id, email)
    assert result.status == 200, result.body
    return int(result.body["member_id"])


def post_events(account_id: int, events: Any, headers: dict[str, str] | None = None) -> Any:
    event = api_event("create_member_events", path={"account_id": account_id}, body={"events": events})
    event["headers"].pop("Idempotency-Key", None)
    event["multiValueHeaders"].pop("Idempotency-Key", None)
    if headers:
        event["headers"].update(headers)
        event["multiValueHeaders"].update({k: [v] for k, v in headers.items()})
    return invoke("create_member_events", event)


def list_events(account_id: int, member_id: int, query: dict[str, str] | None = None) -> Any:
    path = {"account_id": account_id, "member_id": member_id}
    return invoke("list_member_events", api_event("list_member_events", path=path, query=query or {}))


def run_together(*calls: Any) -> list[Any]:
    """Start the calls on threads released at the same instant; return their results in order."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(index: int, call: Any) -> None:
        barrier.wait()
        results[index] = call()

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def seed_events(member_id: int, event_type_id: int, count: int, **options: Any) -> None:
    """Many events at once, in the stores' own item layout (through the API this would take minutes on moto)."""
    from emma_events.stores import Stores

    devtools.testing.seeding.seed_events(Stores.of_this_container(), member_id, event_type_id, count, **options)


def events_of(table_items: Any, *, event_type_id: int | None = None, member_id: int | None = None) -> list[Any]:
    return [
        item
        for item in entities(table_items, "member_event")
        if (event_type_id is None or int(item["event_type_id"]["N"]) == event_type_id)
        and (member_id is None or int(item["member_id"]["N"]) == member_id)
    ]


# ---- attribute schemas ----

#: A schema the attribute-schema tests share: a string sku of one shape, a number price, nothing else.
SKU_SCHEMA = {
    "type": "object",
    "required": ["sku"],
    "properties": {"sku": {"type": "string", "pattern": "^[A-Z]{3}-[0-9]+$"}, "price": {"type": "number"}},
    "additionalProperties": False,
}


def create_typed(account_id: int = 100, schema: Any = None, name: str = "purchase", **extra: Any) -> Any:
    body: dict[str, Any] = {"event_type": name, "display_name": "Purchase", **extra}
    if schema is not None:
        body["attributes_schema"] = schema
    return invoke("create_event_type", api_event("create_event_type", path={"account_id": account_id}, body=body))


def update_type(account_id: int, type_id: int, body: dict[str, Any]) -> Any:
    body = {"event_type": "purchase", "display_name": "Purchase"} | body
    path = {"account_id": account_id, "event_type_id": type_id}
    return invoke("update_event_type", api_event("update_event_type", path=path, body=body))


def get_type(account_id: int, type_id: int) -> Any:
    path = {"account_id": account_id, "event_type_id": type_id}
    return invoke("get_event_type", api_event("get_event_type", path=path))


def member_and_type(account_id: int = 100, schema: Any = SKU_SCHEMA) -> tuple[int, int]:
    """A member and a type with ``schema`` in the account."""
    created = create_typed(account_id, schema)
    assert created.status == 200, created.body
    return new_member(account_id), created.body["event_type_id"]


def member_event(member: int, type_id: int, **fields: Any) -> dict[str, Any]:
    return {"member_id": member, "event_type_id": type_id, **fields}

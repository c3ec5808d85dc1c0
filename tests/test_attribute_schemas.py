"""Event types' ``attributes_schema``: declared on the type, enforced on every POST of events, all or nothing,
against the schema in force when the batch's transaction commits, within the round-trip budgets."""

from __future__ import annotations

import json
import sys
from typing import Any

import pytest
from helpers import assert_problem, entities, new_member, post_events

from devtools.bench.capacity import CapacityMeter
from devtools.testing.events import api_event
from devtools.testing.in_process import invoke

pytestmark = pytest.mark.stores  # on moto, then again on DynamoDB Local

SKU = {
    "type": "object",
    "required": ["sku"],
    "properties": {"sku": {"type": "string", "pattern": "^[A-Z]{3}-[0-9]+$"}, "price": {"type": "number"}},
    "additionalProperties": False,
}
EMMA_KEYS = {"account_id", "event_type_id", "event_type", "display_name", "created_at"}


def create(account_id: int = 100, schema: Any = None, name: str = "purchase", **extra: Any) -> Any:
    body: dict[str, Any] = {"event_type": name, "display_name": "Purchase", **extra}
    if schema is not None:
        body["attributes_schema"] = schema
    return invoke("create_event_type", api_event("create_event_type", path={"account_id": account_id}, body=body))


def update(account_id: int, type_id: int, body: dict[str, Any]) -> Any:
    body = {"event_type": "purchase", "display_name": "Purchase"} | body
    path = {"account_id": account_id, "event_type_id": type_id}
    return invoke("update_event_type", api_event("update_event_type", path=path, body=body))


def get(account_id: int, type_id: int) -> Any:
    path = {"account_id": account_id, "event_type_id": type_id}
    return invoke("get_event_type", api_event("get_event_type", path=path))


def typed(account_id: int = 100, schema: Any = SKU) -> tuple[int, int]:
    """A member and a type with ``schema`` in the account."""
    created = create(account_id, schema)
    assert created.status == 200, created.body
    return new_member(account_id), created.body["event_type_id"]


def event(member: int, type_id: int, **fields: Any) -> dict[str, Any]:
    return {"member_id": member, "event_type_id": type_id, **fields}


def test_a_type_declares_its_schema_and_answers_it(dynamodb: Any) -> None:
    created = create(schema=SKU)
    assert created.status == 200, created.body
    assert created.body["attributes_schema"] == SKU
    assert created.body["attributes_schema_version"] == 1
    got = get(100, created.body["event_type_id"])
    assert got.body == created.body
    listed = invoke("list_event_types", api_event("list_event_types", path={"account_id": 100}))
    assert set(listed.body[0]) == EMMA_KEYS  # listings leave schemas out (500 of them would pass 6 MB)


def test_a_type_without_a_schema_is_answered_exactly_as_before(dynamodb: Any) -> None:
    created = create()
    assert set(created.body) == EMMA_KEYS
    assert set(get(100, created.body["event_type_id"]).body) == EMMA_KEYS
    renamed = update(100, created.body["event_type_id"], {"display_name": "Renamed"})
    assert set(renamed.body) == EMMA_KEYS
    explicit_null = create(schema=None, name="other", attributes_schema=None)
    assert set(explicit_null.body) == EMMA_KEYS


def test_put_sets_keeps_and_removes_the_schema_each_change_a_new_version(dynamodb: Any) -> None:
    type_id = create().body["event_type_id"]
    assert update(100, type_id, {"attributes_schema": SKU}).body["attributes_schema_version"] == 1
    kept = update(100, type_id, {"display_name": "Kept"})  # no attributes_schema: unchanged
    assert (kept.body["attributes_schema"], kept.body["attributes_schema_version"]) == (SKU, 1)
    stricter = SKU | {"required": ["sku", "price"]}
    assert update(100, type_id, {"attributes_schema": stricter}).body["attributes_schema_version"] == 2
    removed = update(100, type_id, {"attributes_schema": None})
    assert removed.status == 200, removed.body
    assert set(removed.body) == EMMA_KEYS
    assert set(get(100, type_id).body) == EMMA_KEYS
    again = update(100, type_id, {"attributes_schema": SKU, "event_type": "order"})  # renamed in the same call
    assert (again.body["event_type"], again.body["attributes_schema_version"]) == ("order", 4)


@pytest.mark.parametrize(
    ("schema", "says"),
    [
        ({"type": "nope"}, "is not a valid JSON Schema"),
        ({"properties": {"sku": {"type": "string", "pattern": "(?=A)"}}}, "regex"),
        ({"properties": {"a": {"$ref": "https://example.com/schema.json"}}}, "JSON pointer inside the schema"),
        ({"$id": "https://example.com/s", "properties": {"a": {"$ref": "other.json"}}}, "JSON pointer inside"),
        ({"$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"$ref": "#/$defs/a"}}, "$ref": "#/$defs/a"}, "cycles"),
        ({"$ref": "#"}, "cycles"),
        ({"$ref": "#/$defs/missing"}, "points to nothing"),
        ({"$schema": "http://json-schema.org/draft-07/schema#"}, "draft 2020-12"),
        ({"$dynamicAnchor": "node", "properties": {"a": {"$dynamicRef": "#node"}}}, "not supported"),
        ({"properties": {"a": {"properties": {"b": {"$id": "https://example.com/b"}}}}}, "only at the top"),
        ({"properties": {"a": 3}}, "object or a boolean"),
        ({"properties": {"a": {"enum": ["x" * 100] * 200}}}, "at most 16384 bytes"),
        ({"maximum": 1e400}, "finite numbers"),  # JSON's 1e400 is infinity to a parser
        ({"const": "\ud800"}, "valid Unicode"),
    ],
)
def test_an_invalid_schema_is_a_400_naming_it_and_creates_nothing(
    dynamodb: Any, table_items: Any, schema: dict[str, Any], says: str
) -> None:
    result = create(schema=schema)
    assert_problem(result, 400, "body.attributes_schema")
    assert says in json.dumps(result.body["errors"]), result.body
    assert not entities(table_items, "event_type")


def test_a_schema_that_expands_past_its_bound_is_refused(dynamodb: Any) -> None:
    # 24 definitions of a few bytes each, every one twice the one before: 16 million subschemas once expanded.
    defs: dict[str, Any] = {"d0": {"type": "integer"}}
    for level in range(1, 24):
        defs[f"d{level}"] = {"anyOf": [{"$ref": f"#/$defs/d{level - 1}"}, {"$ref": f"#/$defs/d{level - 1}"}]}
    result = create(schema={"$defs": defs, "$ref": "#/$defs/d23"})
    assert_problem(result, 400, "body.attributes_schema")
    assert "at most 500 subschemas" in json.dumps(result.body)


def test_deep_nesting_is_refused_before_the_library_sees_it(dynamodb: Any) -> None:
    schema: dict[str, Any] = {"type": "object"}
    for _ in range(13):  # 27 levels: within a request's 32, beyond a schema's 24
        schema = {"properties": {"a": schema}}
    result = create(schema=schema)
    assert_problem(result, 400, "body.attributes_schema")
    assert "nested more than 24 levels" in json.dumps(result.body)


def test_a_batch_with_one_event_that_fails_its_schema_records_nothing(dynamodb: Any, table_items: Any) -> None:
    member, type_id = typed()
    good = event(member, type_id, attributes={"sku": "ABC-1", "price": 9.5})
    batch = [good] * 3 + [event(member, type_id, attributes={"price": "9.50", "SKU": "abc"})] + [good] * 6
    result = post_events(100, batch)
    assert_problem(result, 400)
    failures = {(e["field"], e["message"]) for e in result.body["errors"]}
    assert failures == {
        ("body.events.3.attributes/sku", '"sku" is a required property'),
        ("body.events.3.attributes/price", '"9.50" is not of type "number"'),
        ("body.events.3.attributes", "Additional properties are not allowed ('SKU' was unexpected)"),
    }
    located = {e["field"]: e["loc"] for e in result.body["errors"]}
    assert located["body.events.3.attributes/sku"] == ["body", "events", 3, "attributes", "sku"]
    assert "indexes 3" in result.body["detail"]
    assert not entities(table_items, "member_event")
    assert post_events(100, [good] * 10).status == 200


def test_an_event_without_attributes_is_checked_as_an_empty_object(dynamodb: Any) -> None:
    member, type_id = typed()
    result = post_events(100, [event(member, type_id)])
    assert_problem(result, 400, "body.events.0.attributes/sku")
    lenient = create(schema={"type": "object"}, name="lenient").body["event_type_id"]
    assert post_events(100, [event(member, lenient)]).status == 200


def test_a_json_pointer_escapes_slashes_and_tildes_in_names(dynamodb: Any) -> None:
    schema = {"properties": {"a/b~c": {"type": "integer"}}}
    member, type_id = typed(schema=schema)
    result = post_events(100, [event(member, type_id, attributes={"a/b~c": "x"})])
    assert_problem(result, 400)
    (failure,) = result.body["errors"]
    assert failure["field"] == "body.events.0.attributes/a~1b~0c"
    assert failure["loc"] == ["body", "events", 0, "attributes", "a/b~c"]


def test_events_of_types_without_a_schema_are_recorded_as_before(dynamodb: Any, table_items: Any) -> None:
    member, schemaless = typed(schema=None)
    with_schema = create(schema=SKU, name="checked").body["event_type_id"]
    result = post_events(100, [event(member, schemaless, attributes={"anything": [1, {"x": None}]})])
    assert result.status == 200, result.body
    mixed = [event(member, schemaless), event(member, with_schema, attributes={"sku": 1})]
    assert_problem(post_events(100, mixed), 400, "body.events.1.attributes/sku")
    assert len(entities(table_items, "member_event")) == 1


def test_the_eventbridge_entry_of_a_checked_event_is_the_one_of_any_event(dynamodb: Any, table_items: Any) -> None:
    """The stream's record of an event of a type with a schema carries the event item alone: its entry is the
    POST's answer, as for every event (no schema, no version in it)."""
    from devtools.testing.in_process import load_function

    member, type_id = typed()
    posted = post_events(100, [event(member, type_id, attributes={"sku": "ABC-1"})])
    (stored,) = entities(table_items, "member_event")
    record = {"dynamodb": {"NewImage": stored, "SequenceNumber": "1"}}
    ((_, entry),) = load_function("publish_events").entries_of([record])
    assert entry["DetailType"] == "Member Event Recorded"
    assert json.loads(entry["Detail"]) == posted.body[0]


def test_a_schema_changed_by_another_container_is_never_validated_stale(dynamodb: Any) -> None:
    member, type_id = typed()
    assert post_events(100, [event(member, type_id, attributes={"sku": "ABC-1"})]).status == 200  # cached: v1
    # Another container (the update function's store is not the POST's) makes price required, then looser.
    stricter = SKU | {"required": ["sku", "price"]}
    assert update(100, type_id, {"attributes_schema": stricter}).status == 200
    result = post_events(100, [event(member, type_id, attributes={"sku": "ABC-2"})])
    assert_problem(result, 400, "body.events.0.attributes/price")
    looser = {"type": "object", "properties": {"sku": {"type": "integer"}}}
    assert update(100, type_id, {"attributes_schema": looser}).status == 200
    accepted = post_events(100, [event(member, type_id, attributes={"sku": 7})])  # v2 would have refused it
    assert accepted.status == 200, accepted.body


def test_a_stale_schema_that_accepts_fails_the_transaction_and_is_read_again(
    dynamodb: Any, table_items: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The POST validated against v1; the schema changes to one that refuses the events before its transaction
    commits: the ConditionCheck on the version fails, the type is read again, the batch refused."""
    from emma_events.stores import member_events

    member, type_id = typed()
    assert post_events(100, [event(member, type_id, attributes={"sku": "ABC-1"})]).status == 200
    store = member_events()
    sent = store.client.transact_write_items
    stricter = SKU | {"required": ["sku", "price"]}

    def change_first(**params: Any) -> Any:
        monkeypatch.setattr(store.client, "transact_write_items", sent)
        assert update(100, type_id, {"attributes_schema": stricter}).status == 200  # just before the commit
        return sent(**params)

    monkeypatch.setattr(store.client, "transact_write_items", change_first)
    result = post_events(100, [event(member, type_id, attributes={"sku": "ABC-2"})])
    assert_problem(result, 400, "body.events.0.attributes/price")
    assert len(entities(table_items, "member_event")) == 1


def test_a_retry_of_a_recorded_batch_is_answered_after_its_schema_changed(dynamodb: Any) -> None:
    member, type_id = typed()
    key = {"Idempotency-Key": "schema-then-retry"}
    batch = [event(member, type_id, attributes={"sku": "ABC-1"})]
    first = post_events(100, batch, headers=key)
    assert first.status == 200, first.body
    assert update(100, type_id, {"attributes_schema": SKU | {"required": ["sku", "price"]}}).status == 200
    retry = post_events(100, batch, headers=key)
    assert retry.status == 200, retry.body
    assert retry.body == first.body


def test_colliding_ids_in_two_accounts_never_share_a_schema(dynamodb: Any) -> None:
    member_a, type_a = typed(100, SKU)
    member_b, type_b = typed(200, None)
    assert (member_a, type_a) == (member_b, type_b)  # the same ids, on purpose
    assert_problem(post_events(100, [event(member_a, type_a)]), 400, "body.events.0.attributes/sku")
    assert post_events(200, [event(member_b, type_b)]).status == 200  # account 100's schema is not 200's
    assert_problem(post_events(100, [event(member_a, type_a)]), 400, "body.events.0.attributes/sku")


def test_round_trips_cold_and_warm(dynamodb: Any) -> None:
    from emma_events.stores import client

    member, type_id = typed()
    meter = CapacityMeter(client())
    batch = [event(member, type_id, attributes={"sku": f"ABC-{n}"}) for n in range(10)]
    assert post_events(100, batch).status == 200
    assert sum(meter.calls.values()) == 3  # the type is read once by this container
    meter.reset()
    assert post_events(100, batch).status == 200
    assert dict(meter.calls) == {"UpdateItem": 1, "TransactWriteItems": 1}  # warm: today's budget
    meter.reset()
    by_name = [{"member_id": member, "event_type": "purchase", "attributes": {"sku": "ABC-1"}}] * 10
    assert post_events(100, by_name).status == 200
    assert dict(meter.calls) == {"BatchGetItem": 1, "UpdateItem": 1, "TransactWriteItems": 1}


def test_failures_of_a_large_event_against_a_large_schema_are_bounded(dynamodb: Any) -> None:
    member, type_id = typed(schema={"properties": {"n": {"items": {"allOf": [{"minimum": 0}] * 200}}}})
    attributes = {"n": [-1] * 6000}  # 1.2 million failing pairs
    result = post_events(100, [event(member, type_id, attributes=attributes)])
    assert_problem(result, 400, "body.events.0.attributes/n/0")
    assert len(result.body["errors"]) == 1


def test_failures_of_large_values_against_a_large_schema_are_bounded(dynamodb: Any) -> None:
    schema = {"properties": {"n": {"items": {"enum": [f"value-{i}" for i in range(1200)]}}}}  # 14 KB
    member, type_id = typed(schema=schema)
    many = post_events(100, [event(member, type_id, attributes={"n": ["none"] * 4000})])
    assert_problem(many, 400, "body.events.0.attributes/n/0")
    assert len(many.body["errors"]) == 1
    few = post_events(100, [event(member, type_id, attributes={"n": ["none"] * 3})])
    assert len(few.body["errors"]) == 3


def test_a_failure_quoting_a_long_value_is_cut(dynamodb: Any) -> None:
    member, type_id = typed(schema={"properties": {"note": {"maxLength": 5}}})
    result = post_events(100, [event(member, type_id, attributes={"note": "x" * 20_000})])
    (failure,) = result.body["errors"]
    assert len(failure["message"]) == 500
    assert failure["message"].endswith("…")


def test_at_most_twenty_failures_of_an_event_are_listed(dynamodb: Any) -> None:
    member, type_id = typed(schema={"properties": {"tags": {"items": {"type": "string"}}}})
    result = post_events(100, [event(member, type_id, attributes={"tags": list(range(100))})] * 10)
    assert_problem(result, 400, "body.events.9.attributes/tags/19")
    assert len(result.body["errors"]) == 10 * 20
    assert {e["field"] for e in result.body["errors"] if e["loc"][2] == 0} == {
        f"body.events.0.attributes/tags/{n}" for n in range(20)
    }


def test_types_without_a_schema_never_import_the_validator(dynamodb: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """With jsonschema_rs impossible to import (as if absent), every call on types without a schema still works."""
    member, type_id = typed(schema=None)
    monkeypatch.setitem(sys.modules, "jsonschema_rs", None)  # an import now raises ImportError
    assert create(name="other").status == 200
    assert get(100, type_id).status == 200
    assert update(100, type_id, {"display_name": "Renamed"}).status == 200
    by_name = [{"member_id": member, "event_type": "purchase", "attributes": {"a": 1}}]
    assert post_events(100, [event(member, type_id, attributes={"a": 1}), *by_name]).status == 200


IMPORTS_OF_A_CONTAINER = """
import json, os, sys
from moto import mock_aws
with mock_aws():
    import boto3
    from devtools.local_stack.template import create_table_kwargs
    from devtools.testing.events import api_event
    from devtools.testing.in_process import invoke
    boto3.client("dynamodb").create_table(**create_table_kwargs(os.environ["TABLE_NAME"]))
    def call(name, body):
        event = api_event(name, path={"account_id": 100}, body=body)
        event["headers"].pop("Idempotency-Key", None)
        event["multiValueHeaders"].pop("Idempotency-Key", None)
        assert invoke(name, event).status == 200, name
    call("create_event_type", {"event_type": "purchase", "display_name": "P"})
    call("add_member", {"email": "ada@example.com"})
    call("create_member_events", {"events": [{"member_id": 1, "event_type_id": 1, "attributes": {"a": 1}}]})
    print(json.dumps(sorted(m for m in sys.modules if m.startswith(("jsonschema", "emma_events.attribute")))))
"""


def test_a_container_that_meets_no_schema_never_loads_the_validator() -> None:
    """A fresh process, as a container: types without a schema are created and posted to; nothing of the schema
    code is imported (a module-level import anywhere on the path would show here)."""
    import os
    import subprocess

    done = subprocess.run(  # noqa: S603 - this interpreter, a fixed program
        [sys.executable, "-c", IMPORTS_OF_A_CONTAINER], env=dict(os.environ), capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []

"""Attribute schemas under change, between accounts and at what cost: never validated stale, never turning a
retry into an error, never shared by colliding ids; the round trips cold and warm, bounded listings of failures,
the validator imported only where a schema is met; the EventBridge entry unchanged."""

from __future__ import annotations

import json
import sys
from typing import Any

import pytest
from helpers import (
    SKU_SCHEMA,
    assert_problem,
    create_typed,
    entities,
    get_type,
    member_and_type,
    member_event,
    post_events,
    update_type,
)

from devtools.bench.capacity import CapacityMeter

pytestmark = pytest.mark.stores  # on moto, then again on DynamoDB Local


def test_the_eventbridge_entry_of_a_checked_event_is_the_one_of_any_event(dynamodb: Any, table_items: Any) -> None:
    """The stream's record of an event of a type with a schema carries the event item alone: its entry is the
    POST's answer, as for every event (no schema, no version in it)."""
    from emma_events.member_event_stream import changes_of, entries_of

    member, type_id = member_and_type()
    posted = post_events(100, [member_event(member, type_id, attributes={"sku": "ABC-1"})])
    (stored,) = entities(table_items, "member_event")
    record = {"dynamodb": {"NewImage": stored, "SequenceNumber": "1"}}
    ((_, entry),) = entries_of(changes_of([record])[0])  # the publisher's own reading of the record
    assert entry["DetailType"] == "Member Event Recorded"
    assert json.loads(entry["Detail"]) == posted.body[0]


def test_a_schema_changed_by_another_container_is_never_validated_stale(dynamodb: Any) -> None:
    member, type_id = member_and_type()
    assert post_events(100, [member_event(member, type_id, attributes={"sku": "ABC-1"})]).status == 200  # cached: v1
    # Another container (the update function's store is not the POST's) makes price required, then looser.
    stricter = SKU_SCHEMA | {"required": ["sku", "price"]}
    assert update_type(100, type_id, {"attributes_schema": stricter}).status == 200
    result = post_events(100, [member_event(member, type_id, attributes={"sku": "ABC-2"})])
    assert_problem(result, 400, "body.events.0.attributes/price")
    looser = {"type": "object", "properties": {"sku": {"type": "integer"}}}
    assert update_type(100, type_id, {"attributes_schema": looser}).status == 200
    accepted = post_events(100, [member_event(member, type_id, attributes={"sku": 7})])  # v2 would have refused it
    assert accepted.status == 200, accepted.body


def test_a_post_checked_before_a_schema_change_is_recorded_and_the_next_one_checked_by_the_new_schema(
    dynamodb: Any, table_items: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The POST validated against v1; the schema changes to one that refuses its events before its transaction
    commits. The POST's transaction holds no item of the type (every POST of the type would share it): it came
    before the change and is recorded; the change answers only once no container trusts v1, so the next POST is
    refused."""
    from emma_events.stores import member_events

    member, type_id = member_and_type()
    assert post_events(100, [member_event(member, type_id, attributes={"sku": "ABC-1"})]).status == 200
    store = member_events()
    sent = store.client.transact_write_items
    stricter = SKU_SCHEMA | {"required": ["sku", "price"]}

    def change_first(**params: Any) -> Any:
        monkeypatch.setattr(store.client, "transact_write_items", sent)
        assert update_type(100, type_id, {"attributes_schema": stricter}).status == 200  # just before the commit
        return sent(**params)

    monkeypatch.setattr(store.client, "transact_write_items", change_first)
    assert post_events(100, [member_event(member, type_id, attributes={"sku": "ABC-2"})]).status == 200
    result = post_events(100, [member_event(member, type_id, attributes={"sku": "ABC-3"})])
    assert_problem(result, 400, "body.events.0.attributes/price")
    assert len(entities(table_items, "member_event")) == 2


def test_a_retry_of_a_recorded_batch_is_answered_after_its_schema_changed(dynamodb: Any) -> None:
    member, type_id = member_and_type()
    key = {"Idempotency-Key": "schema-then-retry"}
    batch = [member_event(member, type_id, attributes={"sku": "ABC-1"})]
    first = post_events(100, batch, headers=key)
    assert first.status == 200, first.body
    assert update_type(100, type_id, {"attributes_schema": SKU_SCHEMA | {"required": ["sku", "price"]}}).status == 200
    retry = post_events(100, batch, headers=key)
    assert retry.status == 200, retry.body
    assert retry.body == first.body


def test_colliding_ids_in_two_accounts_never_share_a_schema(dynamodb: Any) -> None:
    member_a, type_a = member_and_type(100, SKU_SCHEMA)
    member_b, type_b = member_and_type(200, None)
    assert (member_a, type_a) == (member_b, type_b)  # the same ids, on purpose
    assert_problem(post_events(100, [member_event(member_a, type_a)]), 400, "body.events.0.attributes/sku")
    assert post_events(200, [member_event(member_b, type_b)]).status == 200  # account 100's schema is not 200's
    assert_problem(post_events(100, [member_event(member_a, type_a)]), 400, "body.events.0.attributes/sku")


def test_round_trips_cold_and_warm(dynamodb: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Within the second a container trusts what it read (here: a clock that stands still, whatever the load)."""
    import types

    from emma_events import event_batch, member_event_store
    from emma_events.stores import client

    still = types.SimpleNamespace(monotonic=lambda: 1000.0)
    monkeypatch.setattr(event_batch, "time", still)
    monkeypatch.setattr(member_event_store, "time", still)
    member, type_id = member_and_type()
    meter = CapacityMeter(client())
    batch = [member_event(member, type_id, attributes={"sku": f"ABC-{n}"}) for n in range(10)]
    assert post_events(100, batch).status == 200
    assert sum(meter.calls.values()) == 3  # the type is read once by this container
    meter.reset()
    assert post_events(100, batch).status == 200
    assert dict(meter.calls) == {"TransactWriteItems": 1}  # warm: the container's block of ids lasts
    meter.reset()
    by_name = [{"member_id": member, "event_type": "purchase", "attributes": {"sku": "ABC-1"}}] * 10
    assert post_events(100, by_name).status == 200
    assert dict(meter.calls) == {"BatchGetItem": 1, "TransactWriteItems": 1}  # the name's guard, read each time


def test_failures_of_a_large_event_against_a_large_schema_are_bounded(dynamodb: Any) -> None:
    member, type_id = member_and_type(schema={"properties": {"n": {"items": {"allOf": [{"minimum": 0}] * 50}}}})
    attributes = {"n": [-1] * 6000}  # 300,000 failures, each a copy of its value
    result = post_events(100, [member_event(member, type_id, attributes=attributes)])
    assert_problem(result, 400, "body.events.0.attributes/n/0")
    assert len(result.body["errors"]) == 1


def test_failures_of_large_values_against_a_large_schema_are_bounded(dynamodb: Any) -> None:
    schema = {"properties": {"n": {"items": {"enum": [f"value-{i}" for i in range(1200)]}}}}  # 14 KB
    member, type_id = member_and_type(schema=schema)
    many = post_events(100, [member_event(member, type_id, attributes={"n": ["none"] * 4000})])
    assert_problem(many, 400, "body.events.0.attributes/n/0")
    assert len(many.body["errors"]) == 1
    few = post_events(100, [member_event(member, type_id, attributes={"n": ["none"] * 3})])
    assert len(few.body["errors"]) == 3


def test_a_failure_never_quotes_the_value_and_is_cut(dynamodb: Any) -> None:
    """A value may be 32 KB, and is the client's own: a message says "the value". What a message quotes of the
    schema (a const, a pattern) is cut."""
    schema = {"properties": {"note": {"maxLength": 5}, "code": {"const": "c" * 2000}}}
    member, type_id = member_and_type(schema=schema)
    attributes = {"note": "x" * 20_000, "code": "d"}
    result = post_events(100, [member_event(member, type_id, attributes=attributes)])
    messages = {e["field"]: e["message"] for e in result.body["errors"]}
    assert messages["body.events.0.attributes/note"] == "the value is longer than 5 characters"
    assert len(messages["body.events.0.attributes/code"]) == 500
    assert messages["body.events.0.attributes/code"].endswith("…")


def test_at_most_twenty_failures_of_an_event_are_listed(dynamodb: Any) -> None:
    member, type_id = member_and_type(schema={"properties": {"tags": {"items": {"type": "string"}}}})
    result = post_events(100, [member_event(member, type_id, attributes={"tags": list(range(100))})] * 10)
    assert_problem(result, 400, "body.events.9.attributes/tags/19")
    assert len(result.body["errors"]) == 10 * 20
    assert {e["field"] for e in result.body["errors"] if e["loc"][2] == 0} == {
        f"body.events.0.attributes/tags/{n}" for n in range(20)
    }


def test_types_without_a_schema_never_import_the_validator(dynamodb: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """With jsonschema_rs impossible to import (as if absent), every call on types without a schema still works."""
    member, type_id = member_and_type(schema=None)
    monkeypatch.setitem(sys.modules, "jsonschema_rs", None)  # an import now raises ImportError
    assert create_typed(name="other").status == 200
    assert get_type(100, type_id).status == 200
    assert update_type(100, type_id, {"display_name": "Renamed"}).status == 200
    by_name = [{"member_id": member, "event_type": "purchase", "attributes": {"a": 1}}]
    assert post_events(100, [member_event(member, type_id, attributes={"a": 1}), *by_name]).status == 200


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


def test_compiled_validators_are_kept_within_their_memory_bound() -> None:
    """Schemas of 64 patterns whose DFAs can each fill a 256 KB cache (~17 MB apiece by their estimate): a
    container keeps as many as fit in 64 MB, the most recently used, and forgets the rest."""
    from emma_events import attribute_schemas

    attribute_schemas._cache.clear()
    texts = [
        json.dumps({"properties": {f"p{i}": {"pattern": f"a[ab]{{13}}{n}x{i}"} for i in range(64)}}) for n in range(6)
    ]
    for text in texts:
        attribute_schemas.validator(text)
    kept = attribute_schemas._cache
    assert sum(c.memory_kb for c in kept.values()) <= attribute_schemas.CACHED_MB * 1024
    assert list(kept) == texts[-3:]
    attribute_schemas.validator(texts[3])  # used again: the last to be forgotten
    attribute_schemas.validator(json.dumps({"type": "object"}))
    assert texts[3] in kept


def test_failures_quoting_a_large_part_of_the_schema_are_not_all_listed(dynamodb: Any) -> None:
    """40 references to a const of 1,700 keys under additionalProperties: a failure per property and reference
    would each copy the const (~300 MB for the batch); only the first is built."""
    schema = {
        "$defs": {"c": {"const": {f"{i:x}": 0 for i in range(1700)}}},
        "additionalProperties": {"allOf": [{"$ref": "#/$defs/c"}] * 40},
    }
    member, type_id = member_and_type(schema=schema)
    result = post_events(100, [member_event(member, type_id, attributes={f"p{i}": 1 for i in range(35)})])
    assert_problem(result, 400, "body.events.0.attributes/p0")
    assert len(result.body["errors"]) == 1


@pytest.mark.parametrize(
    ("pattern", "positions", "risky"),
    [
        ("^ORD-[0-9]{8}$", 12, 0),  # one way to match: a step a character
        ("^ORD-[0-9]{4,12}$", 16, 12),  # a varying count: combinations from there on
        ("^(a|ab)c$", 4, 4),
        ("a[ab]{20}a", 22, 22),  # not anchored: all of it
        ("\\x{101}[\\x{100}-\\x{101}]{10}z", 45, 45),  # escaped characters beyond ASCII count as such
        ("^\\p{L}+$", 4, 4),
    ],
)
def test_a_pattern_is_read_as_the_regex_engine_will_run_it(pattern: str, positions: int, risky: int) -> None:
    from emma_events.schema_regex import regex

    found = regex(pattern)
    assert (found.positions, found.risky) == (positions, risky)

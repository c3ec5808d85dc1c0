"""Event types' ``attributes_schema``: declared on the type (and answered, changed, removed), refused when it is
not an acceptable schema, enforced on every POST of events, all or nothing. The schema under change, between
accounts and at what cost: test_attribute_schemas_exact.py."""

from __future__ import annotations

import json
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

from devtools.testing.events import api_event
from devtools.testing.in_process import invoke

pytestmark = pytest.mark.stores  # on moto, then again on DynamoDB Local

EMMA_KEYS = {"account_id", "event_type_id", "event_type", "display_name", "created_at"}


def test_a_type_declares_its_schema_and_answers_it(dynamodb: Any) -> None:
    created = create_typed(schema=SKU_SCHEMA)
    assert created.status == 200, created.body
    assert created.body["attributes_schema"] == SKU_SCHEMA
    assert created.body["attributes_schema_version"] == 1
    got = get_type(100, created.body["event_type_id"])
    assert got.body == created.body
    listed = invoke("list_event_types", api_event("list_event_types", path={"account_id": 100}))
    assert set(listed.body[0]) == EMMA_KEYS  # listings leave schemas out (500 of them would pass 6 MB)


def test_a_type_without_a_schema_is_answered_exactly_as_before(dynamodb: Any) -> None:
    created = create_typed()
    assert set(created.body) == EMMA_KEYS
    assert set(get_type(100, created.body["event_type_id"]).body) == EMMA_KEYS
    renamed = update_type(100, created.body["event_type_id"], {"display_name": "Renamed"})
    assert set(renamed.body) == EMMA_KEYS
    explicit_null = create_typed(schema=None, name="other", attributes_schema=None)
    assert set(explicit_null.body) == EMMA_KEYS


def test_put_sets_keeps_and_removes_the_schema_each_change_a_new_version(dynamodb: Any) -> None:
    type_id = create_typed().body["event_type_id"]
    assert update_type(100, type_id, {"attributes_schema": SKU_SCHEMA}).body["attributes_schema_version"] == 1
    kept = update_type(100, type_id, {"display_name": "Kept"})  # no attributes_schema: unchanged
    assert (kept.body["attributes_schema"], kept.body["attributes_schema_version"]) == (SKU_SCHEMA, 1)
    stricter = SKU_SCHEMA | {"required": ["sku", "price"]}
    assert update_type(100, type_id, {"attributes_schema": stricter}).body["attributes_schema_version"] == 2
    removed = update_type(100, type_id, {"attributes_schema": None})
    assert removed.status == 200, removed.body
    assert set(removed.body) == EMMA_KEYS
    assert set(get_type(100, type_id).body) == EMMA_KEYS
    again = update_type(
        100, type_id, {"attributes_schema": SKU_SCHEMA, "event_type": "order"}
    )  # renamed in the same call
    assert (again.body["event_type"], again.body["attributes_schema_version"]) == ("order", 4)


@pytest.mark.parametrize(
    ("stored", "put"),
    [({"const": 0}, {"const": False}), ({"const": 1}, {"const": 1.0}), ({"enum": [1]}, {"enum": [True]})],
)
def test_a_put_that_changes_only_a_values_json_type_is_a_change(dynamodb: Any, stored: Any, put: Any) -> None:
    """0 == False and 1 == 1.0 in Python, not in JSON: the new schema is stored, at the next version."""
    type_id = create_typed(schema=stored).body["event_type_id"]
    answered = update_type(100, type_id, {"attributes_schema": put}).body
    assert (answered["attributes_schema"], answered["attributes_schema_version"]) == (put, 2)
    got = get_type(100, type_id).body
    assert json.dumps(got["attributes_schema"]) == json.dumps(put)
    assert got["attributes_schema_version"] == 2


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
        ({"dependencies": {"a": ["b"]}}, "dependencies is not supported"),  # draft 7's: applied, never counted
        ({"items": {"additionalItems": False}}, "at /items: additionalItems is not supported"),
        ({"nullable": True}, "nullable is not supported"),  # OpenAPI 3.0's, not JSON Schema's
        ({"properties": {"s": {"pattern": "a[ab]{5000}a"}}}, "repeats more than 1000 times"),
        ({"properties": {"s": {"pattern": "^[ab]{600}$"}}}, "could compile to 300 KB, more than 256 KB"),
        ({"properties": {f"p{i}": {"pattern": f"^p{i}"} for i in range(65)}}, "at most 64 distinct patterns"),
        ({"properties": {f"p{i}": {"pattern": f"^\\p{{L}}{{2}}{i}"} for i in range(20)}}, "more than 2048 KB"),
        ({"patternProperties": {f"^p{i}$": {} for i in range(60)}}, "could cost up to"),
        # anchored and bounded, but its DFA needs a state per combination of the 250 optional characters
        ({"properties": {"s": {"items": {"pattern": "^[ab]{0,250}a[ab]{250}$"}}}}, "could cost up to"),
        ({"properties": {"a": {"items": {"multipleOf": 1e-300}}}}, "could cost up to"),  # ~15 us a value
        # arrays that nest the same numbers differently hash alike and are compared pair by pair: twice on one
        # array is twice that (once per array, as on every row, shares the event's bytes and fits)
        ({"properties": {"rows": {"allOf": [{"uniqueItems": True}, {"uniqueItems": True}]}}}, "could cost up to"),
    ],
)
def test_an_invalid_schema_is_a_400_naming_it_and_creates_nothing(
    dynamodb: Any, table_items: Any, schema: dict[str, Any], says: str
) -> None:
    result = create_typed(schema=schema)
    assert_problem(result, 400, "body.attributes_schema")
    assert says in json.dumps(result.body["errors"]), result.body
    assert not entities(table_items, "event_type")


def test_a_schema_past_its_cost_is_refused_naming_its_dearest_part(dynamodb: Any) -> None:
    """Four levels of $ref, each under unevaluatedProperties: every level applies the one below again."""
    defs: dict[str, Any] = {"d0": {"type": "object"}}
    for level in range(1, 5):
        defs[f"d{level}"] = {"allOf": [{"$ref": f"#/$defs/d{level - 1}"}], "unevaluatedProperties": {"type": "integer"}}
    result = create_typed(schema={"$defs": defs, "properties": {"order": {"$ref": "#/$defs/d4"}}})
    assert_problem(result, 400, "body.attributes_schema")
    (error,) = result.body["errors"]
    assert error["message"].startswith("Value error, at /$defs/d4: checking a batch of events against this could cost")
    assert "more than 250 ms" in error["message"]
    defs.pop("d4")
    assert create_typed(schema={"$defs": defs, "properties": {"order": {"$ref": "#/$defs/d3"}}}).status == 200


def test_unique_items_on_every_line_of_an_order_is_accepted(dynamodb: Any) -> None:
    """Pair-by-pair comparison costs n² for n items, and an event's arrays share its bytes: uniqueItems on every
    line's tags costs an event at most what one array of all of them would, so a realistic order schema fits."""
    from devtools.bench.schemas import ORDER_SCHEMA

    assert ORDER_SCHEMA["$defs"]["line"]["properties"]["tags"]["uniqueItems"] is True  # on every line
    assert create_typed(schema=ORDER_SCHEMA).status == 200
    assert create_typed(schema={"properties": {"rows": {"items": {"uniqueItems": True}}}}, name="rows").status == 200


def test_a_fractional_multiple_on_one_property_is_accepted(dynamodb: Any) -> None:
    assert create_typed(schema={"properties": {"price": {"multipleOf": 0.01}}}).status == 200


def test_annotations_of_ones_own_are_accepted_when_named_x(dynamodb: Any) -> None:
    schema = {"x-owner": "checkout team", "properties": {"sku": {"type": "string", "x-example": {"any": ["thing"]}}}}
    assert create_typed(schema=schema).status == 200


def test_a_schema_that_expands_past_its_bound_is_refused(dynamodb: Any) -> None:
    # 24 definitions of a few bytes each, every one twice the one before: 16 million subschemas once expanded.
    defs: dict[str, Any] = {"d0": {"type": "integer"}}
    for level in range(1, 24):
        defs[f"d{level}"] = {"anyOf": [{"$ref": f"#/$defs/d{level - 1}"}, {"$ref": f"#/$defs/d{level - 1}"}]}
    result = create_typed(schema={"$defs": defs, "$ref": "#/$defs/d23"})
    assert_problem(result, 400, "body.attributes_schema")
    assert "at most 500 subschemas" in json.dumps(result.body)


def test_deep_nesting_is_refused_before_the_library_sees_it(dynamodb: Any) -> None:
    schema: dict[str, Any] = {"type": "object"}
    for _ in range(13):  # 27 levels: within a request's 32, beyond a schema's 24
        schema = {"properties": {"a": schema}}
    result = create_typed(schema=schema)
    assert_problem(result, 400, "body.attributes_schema")
    assert "nested more than 24 levels" in json.dumps(result.body)


def test_a_batch_with_one_event_that_fails_its_schema_records_nothing(dynamodb: Any, table_items: Any) -> None:
    member, type_id = member_and_type()
    good = member_event(member, type_id, attributes={"sku": "ABC-1", "price": 9.5})
    batch = [good] * 3 + [member_event(member, type_id, attributes={"price": "9.50", "SKU_SCHEMA": "abc"})] + [good] * 6
    result = post_events(100, batch)
    assert_problem(result, 400)
    failures = {(e["field"], e["message"]) for e in result.body["errors"]}
    assert failures == {
        ("body.events.3.attributes/sku", '"sku" is a required property'),
        ("body.events.3.attributes/price", 'the value is not of type "number"'),
        ("body.events.3.attributes", "Additional properties are not allowed ('SKU_SCHEMA' was unexpected)"),
    }
    located = {e["field"]: e["loc"] for e in result.body["errors"]}
    assert located["body.events.3.attributes/sku"] == ["body", "events", 3, "attributes", "sku"]
    assert "indexes 3" in result.body["detail"]
    assert not entities(table_items, "member_event")
    assert post_events(100, [good] * 10).status == 200


def test_an_event_without_attributes_is_checked_as_an_empty_object(dynamodb: Any) -> None:
    member, type_id = member_and_type()
    result = post_events(100, [member_event(member, type_id)])
    assert_problem(result, 400, "body.events.0.attributes/sku")
    lenient = create_typed(schema={"type": "object"}, name="lenient").body["event_type_id"]
    assert post_events(100, [member_event(member, lenient)]).status == 200


def test_a_json_pointer_escapes_slashes_and_tildes_in_names(dynamodb: Any) -> None:
    schema = {"properties": {"a/b~c": {"type": "integer"}}}
    member, type_id = member_and_type(schema=schema)
    result = post_events(100, [member_event(member, type_id, attributes={"a/b~c": "x"})])
    assert_problem(result, 400)
    (failure,) = result.body["errors"]
    assert failure["field"] == "body.events.0.attributes/a~1b~0c"
    assert failure["loc"] == ["body", "events", 0, "attributes", "a/b~c"]


def test_events_of_types_without_a_schema_are_recorded_as_before(dynamodb: Any, table_items: Any) -> None:
    member, schemaless = member_and_type(schema=None)
    with_schema = create_typed(schema=SKU_SCHEMA, name="checked").body["event_type_id"]
    result = post_events(100, [member_event(member, schemaless, attributes={"anything": [1, {"x": None}]})])
    assert result.status == 200, result.body
    mixed = [member_event(member, schemaless), member_event(member, with_schema, attributes={"sku": 1})]
    assert_problem(post_events(100, mixed), 400, "body.events.1.attributes/sku")
    assert len(entities(table_items, "member_event")) == 1

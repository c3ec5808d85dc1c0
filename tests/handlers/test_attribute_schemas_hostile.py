"""Attribute schemas written by anyone holding a key, generated: whatever schema a client declares, and whatever
attributes its events then carry, the answer is 200 or a 4xx and a refused request changes nothing; no schema
makes the validator hang, fetch anything or exhaust memory.

The schemas come from hypothesis, built of draft 2020-12's keywords (and unknown ones) with values of every
type: nested subschemas, references to anywhere (inside, outside, to themselves), patterns the regex engine
refuses or that backtrack catastrophically elsewhere, formats, huge numbers.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
from typing import Any

import pytest
from helpers import examples, new_member, survives
from hypothesis import HealthCheck, example, given, note, seed, settings
from hypothesis import strategies as st

from devtools.testing.events import api_event

pytestmark = pytest.mark.stores  # on moto, then again on DynamoDB Local

SEED = int(os.environ.get("HYPOTHESIS_SEED") or random.SystemRandom().randrange(2**32))
KEYWORDS = [
    "type", "properties", "required", "items", "prefixItems", "additionalProperties", "patternProperties",
    "pattern", "enum", "const", "minimum", "maximum", "exclusiveMinimum", "multipleOf", "minLength", "maxLength",
    "minItems", "maxItems", "uniqueItems", "contains", "minContains", "maxContains", "allOf", "anyOf", "oneOf",
    "not", "if", "then", "else", "$ref", "$defs", "dependentRequired", "dependentSchemas", "propertyNames",
    "unevaluatedProperties", "unevaluatedItems", "format", "$schema", "$id", "$anchor", "$dynamicRef",
    "$dynamicAnchor", "$comment", "minProperties", "contentEncoding", "definitions",
]  # fmt: skip
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
    st.sampled_from(["object", "array", "string", "integer", "number", "boolean", "null", "nope"]),
    st.sampled_from(["(a+)+$", "(?=a)", "(a)\\1", "[", "a{99999}", "\\p{L}+", "^.*$", "(?i)x", "\\"]),
    st.sampled_from(["#", "#/$defs/a", "#/properties/a", "#/$defs", "#/~2", "#a", "a.json", "https://example.com/s"]),
    st.sampled_from(["email", "date-time", "uri", "regex", "https://json-schema.org/draft/2020-12/schema"]),
)
schemas = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(st.sampled_from(KEYWORDS), st.text(max_size=8)), inner, max_size=5),
        st.fixed_dictionaries({"$defs": st.dictionaries(st.sampled_from("ab"), inner, max_size=2)}),
    ),
    max_leaves=30,
).filter(lambda value: isinstance(value, dict))
attributes = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False), st.text()),
    lambda inner: st.one_of(st.lists(inner, max_size=5), st.dictionaries(st.text(max_size=5), inner, max_size=5)),
    max_leaves=20,
).map(lambda value: value if isinstance(value, dict) else {"a": value})


@pytest.fixture
def accounts(dynamodb: Any) -> Any:
    """A fresh account per example, with one member; its items alone are compared (the table keeps growing)."""
    numbers = iter(range(1000, 10**6))

    def account() -> tuple[int, Any]:
        number = next(numbers)
        new_member(number)

        def items() -> list[dict[str, Any]]:
            scan = {"TableName": os.environ["TABLE_NAME"], "ConsistentRead": True}
            scan["FilterExpression"] = "PK = :account OR begins_with(PK, :inside)"
            scan["ExpressionAttributeValues"] = {":account": {"S": str(number)}, ":inside": {"S": f"{number}#"}}
            return list(dynamodb.scan(**scan)["Items"])

        return number, items

    return account


@settings(
    max_examples=examples(80),
    deadline=None,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@seed(SEED)
@given(schema=schemas, events=st.lists(attributes, min_size=1, max_size=10))
@example(schema={"$defs": {"a": {"$ref": "#/$defs/a"}}, "$ref": "#/$defs/a"}, events=[{}])
@example(schema={"properties": {"a": {"pattern": "(a+)+$"}}}, events=[{"a": "a" * 30_000 + "!"}])
@example(schema={"$ref": "https://example.com/s"}, events=[{}])
@example(schema={"patternProperties": {"(?=x)": True}}, events=[{}])
@example(schema={"items": {"uniqueItems": True}}, events=[{"a": [[1, 2]] * 2000}])
@example(schema={"patternProperties": None}, events=[{"a": None}])
def test_any_schema_and_any_attributes_get_a_200_or_a_4xx(accounts: Any, schema: Any, events: Any) -> None:
    note(f"seed: HYPOTHESIS_SEED={SEED} repeats this run")
    account, items = accounts()
    body = {"event_type": "checked", "display_name": "T", "attributes_schema": schema}
    created = survives(
        items, "create_event_type", api_event("create_event_type", path={"account_id": account}, body=body)
    )
    if created.status != 200:
        assert any(e["field"] == "body.attributes_schema" for e in created.body["errors"]), created.body
        return
    batch = {"events": [{"member_id": 1, "event_type": "checked", "attributes": a} for a in events]}
    posted = api_event("create_member_events", path={"account_id": account}, body=batch)
    posted["headers"].pop("Idempotency-Key")
    posted["multiValueHeaders"].pop("Idempotency-Key")
    result = survives(items, "create_member_events", posted)
    if result.status == 400:
        note(json.dumps(result.body["errors"])[:2000])


WRONG = [None, 1, 1.5, "x", True, [], {}, [None], [{}], ["a"], {"a": None}, {"a": 1}, {"a": {}}]


@pytest.mark.parametrize("keyword", sorted(set(KEYWORDS)))
def test_every_keyword_with_a_value_of_any_type_is_accepted_or_refused(keyword: str) -> None:
    """Every keyword, given a value of each JSON type, alone or one level down, is accepted or refused with a
    reason (a 400): never an exception of another kind (a 500)."""
    from emma_events import attribute_schemas

    for value in WRONG:
        for schema in ({keyword: value}, {"properties": {"p": {keyword: value}}}, {"items": {keyword: value}}):
            with contextlib.suppress(ValueError):
                attribute_schemas.check(schema)

"""Attribute schemas and attributes built to cost the most, for tests/handlers/test_attribute_schemas_cost.py and
``make bench`` (phase 5).

``schemas()`` draws from the grammar of the keywords an attributes schema may use, at the API's bounds: ``$defs``
chains of ``$ref`` (plain, fanned out, under ``unevaluated*``), every applicator, ``dependentSchemas``, patterns
with classes, alternations and counted repetitions, ``required`` and ``enum`` at their lengths, and the
keywords jsonschema-rs would apply that the API refuses (``dependencies``). ``batch()`` builds a POST's events at
the request limits (32 KB of attributes each, the body's cost bound) in a shape that meets the schema: its
property names, long strings of the characters its patterns use, many keys, long arrays, deep nesting.
``ROWS`` are the attacks of the review that asked for the bound, as fixed examples.
"""

from __future__ import annotations

import json
import random
import re
from typing import Any

from hypothesis import strategies as st

NAMES = ("a", "b", "ab", "sku", "n")
ATOMS = ("a", "b", "[ab]", "[^a]", ".", "\\d", "\\w", "é", "(a|ab)", "(?:a|b)", "[a-z]", "\\p{L}", "(ab)")
COMPOSITE = (
    "allOf", "anyOf", "oneOf", "not", "if", "then", "else", "$ref", "properties", "patternProperties",
    "additionalProperties", "propertyNames", "unevaluatedProperties", "items", "prefixItems", "contains",
    "unevaluatedItems", "dependentSchemas",
)  # fmt: skip
#: Keywords jsonschema-rs applies but the API refuses: drawn now and then.
REFUSED = ("dependencies", "additionalItems")

repetitions = st.one_of(
    st.just(""),
    st.sampled_from(["*", "+", "?"]),
    st.integers(1, 1000).map(lambda n: f"{{{n}}}"),
    st.tuples(st.integers(0, 60), st.integers(0, 40)).map(lambda p: f"{{{p[0]},{p[0] + p[1]}}}"),
    st.integers(0, 30).map(lambda n: f"{{{n},}}"),
)
patterns = st.builds(
    lambda start, parts, end: start + "".join(parts) + end,
    st.sampled_from(["", "^"]),
    st.lists(st.tuples(st.sampled_from(ATOMS), repetitions).map("".join), min_size=1, max_size=5),
    st.sampled_from(["", "$"]),
)
names = st.one_of(st.sampled_from(NAMES), st.integers(0, 3000).map(lambda i: f"k{i}"))


@st.composite
def leaves(draw: Any) -> Any:
    """A schema of keywords that apply to the value alone (or a boolean)."""
    if draw(st.integers(0, 12)) == 0:
        return draw(st.booleans())
    choices = {
        "type": st.sampled_from(["object", "array", "string", "integer", "number", ["string", "null"]]),
        "enum": st.one_of(
            st.integers(1, 2500).map(lambda n: [f"v{i}" for i in range(n)]),
            st.integers(1, 2500).map(lambda n: list(range(n))),
            st.lists(st.integers(), min_size=1, max_size=40, unique=True).map(lambda v: [v, *[[x] for x in v]]),
        ),
        "const": st.one_of(st.integers(), st.text(max_size=30), st.just({"a": [1, 2, {"b": "c"}]})),
        "minimum": st.integers(-5, 5),
        "multipleOf": st.sampled_from([0.01, 3, 0.7]),
        "minLength": st.integers(0, 50),
        "maxLength": st.integers(0, 50),
        "pattern": patterns,
        "required": st.integers(1, 2200).map(lambda n: [f"k{i}" for i in range(n)]) | st.lists(names, max_size=5),
        "dependentRequired": st.dictionaries(names, st.lists(names, max_size=30), max_size=8),
        "uniqueItems": st.just(True),
        "minItems": st.integers(0, 3),
        "maxProperties": st.integers(0, 100),
        "format": st.sampled_from(["email", "date-time", "uri"]),
    }
    chosen = draw(st.lists(st.sampled_from(sorted(choices)), min_size=1, max_size=3, unique=True))
    return {keyword: draw(choices[keyword]) for keyword in chosen}


@st.composite
def nodes(draw: Any, depth: int, defs: tuple[str, ...]) -> Any:
    """A subschema, ``depth`` levels at most, that may refer to ``defs``."""
    if depth <= 0 or draw(st.integers(0, 4)) == 0:
        return draw(leaves())
    schema: dict[str, Any] = {}
    keywords = draw(st.lists(st.sampled_from(COMPOSITE), min_size=1, max_size=2, unique=True))
    for keyword in keywords + ([draw(st.sampled_from(REFUSED))] if draw(st.integers(0, 15)) == 0 else []):
        inner = nodes(depth - 1, defs)
        if keyword == "$ref":
            if defs:
                schema["$ref"] = f"#/$defs/{draw(st.sampled_from(defs))}"
        elif keyword in ("allOf", "anyOf", "oneOf"):
            fan = draw(st.integers(1, 40)) if defs and draw(st.booleans()) else 0
            ref = {"$ref": f"#/$defs/{draw(st.sampled_from(defs))}"} if fan else None
            schema[keyword] = [ref] * fan if ref else draw(st.lists(inner, min_size=1, max_size=3))
        elif keyword == "prefixItems":
            schema[keyword] = draw(st.lists(inner, min_size=1, max_size=2))
        elif keyword in ("properties", "dependentSchemas", "dependencies", "additionalItems"):
            schema[keyword] = draw(st.dictionaries(names, inner, min_size=1, max_size=3))
        elif keyword == "patternProperties":
            schema[keyword] = draw(st.dictionaries(patterns, inner, min_size=1, max_size=2))
        else:
            schema[keyword] = draw(inner)
    extra = draw(leaves()) if draw(st.booleans()) else {}
    return schema | extra if isinstance(extra, dict) else schema


def schemas() -> Any:
    """Schemas of any shape, and schemas built to cost the most."""
    return st.one_of(any_schemas(), amplified())


@st.composite
def any_schemas(draw: Any) -> dict[str, Any]:
    """A schema with a chain of ``$defs`` (each may refer to the ones before it), past the API's bounds as
    often as within them."""
    defs: dict[str, Any] = {}
    for i in range(draw(st.integers(0, 8))):
        earlier = tuple(defs)
        if earlier and draw(st.integers(0, 2)) == 0:  # the chain that doubles at each level
            fan = draw(st.integers(1, 3))
            defs[f"d{i}"] = {"allOf": [{"$ref": f"#/$defs/{earlier[-1]}"}] * fan}
            defs[f"d{i}"][draw(st.sampled_from(["unevaluatedProperties", "unevaluatedItems", "not"]))] = draw(leaves())
        else:
            defs[f"d{i}"] = draw(nodes(1, earlier))
    root = draw(nodes(2, tuple(defs)))
    if not isinstance(root, dict):
        root = {"not": root}
    if defs:
        root["$defs"] = defs
        if draw(st.booleans()):
            root["$ref"] = f"#/$defs/{list(defs)[-1]}"
    return root


@st.composite
def amplified(draw: Any) -> dict[str, Any]:
    """A schema built to cost the most the bound allows: a leaf applied through a ``$defs`` chain that fans out at
    each level (under ``unevaluated*`` or not), applied to every child or item; or a regex that can outgrow its
    DFA, on every string."""
    if draw(st.integers(0, 3)) == 0:
        char, other = draw(st.sampled_from([("a", "b"), ("é", "b"), ("a", "é")]))
        pattern = f"{char}[{char}{other}]{{{draw(st.integers(5, 16))}}}{char}"
        leaf: Any = {"not": {"pattern": pattern}} if draw(st.booleans()) else {"pattern": f"^{char}|{pattern}"}
        levels = 0
    else:
        leaf, levels = draw(leaves()), draw(st.integers(1, 6))
    defs: dict[str, Any] = {"d0": leaf}
    for i in range(1, levels + 1):
        level: dict[str, Any] = {"allOf": [{"$ref": f"#/$defs/d{i - 1}"}] * draw(st.integers(1, 5))}
        if draw(st.integers(0, 2)) == 0:
            level[draw(st.sampled_from(["unevaluatedProperties", "unevaluatedItems"]))] = draw(leaves())
        defs[f"d{i}"] = level
    top = {"$ref": f"#/$defs/d{levels}"}
    place = draw(st.sampled_from(["additionalProperties", "items", "patternProperties", "propertyNames", "root"]))
    if place == "root":
        return {"$defs": defs, **top}
    if place == "patternProperties":
        return {"$defs": defs, "patternProperties": {draw(patterns): top}, "items": top}
    return {"$defs": defs, place: top, "items" if place != "items" else "additionalProperties": top}


plans = st.fixed_dictionaries(
    {
        "shape": st.sampled_from(["wide", "long", "array", "deep", "mixed", "colliding"]),
        "events": st.sampled_from([1, 10]),
        "item": st.sampled_from([0, "ab", {}, [], [0], {"a": 0}, 1.5, True, None]),
        "seed": st.integers(0, 2**16),
    }
)


def schema_names(schema: Any) -> list[str]:
    """Property names the schema mentions, and short strings it holds, to build values that meet it."""
    found: set[str] = set(NAMES)
    stack = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("properties", "dependentSchemas", "dependentRequired", "dependencies"):
                    found.update(value if isinstance(value, dict) else ())
                if key == "required" and isinstance(value, list):
                    found.update(v for v in value[:200] if isinstance(v, str))
                stack.append(value)
        elif isinstance(node, list):
            stack.extend(node)
    return sorted(found)[:300]


def _alphabet(schema: Any) -> tuple[str, str, int]:
    """Two letters the schema's patterns use, and the largest count they repeat a class: a string of those
    letters that never has the first at that distance after itself keeps a regex like ``a[ab]{n}a`` searching."""
    found: list[str] = []
    stack = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            found += [node["pattern"]] if isinstance(node.get("pattern"), str) else []
            found += list(node.get("patternProperties", {})) if isinstance(node.get("patternProperties"), dict) else []
            stack += node.values()
        elif isinstance(node, list):
            stack += node
    text = "".join(found)
    letters = [c for c in dict.fromkeys(text) if c.isalpha()] or ["a", "b"]
    counts = [int(n) for n in re.findall(r"\{(\d+)\}", text)] or [8]
    return letters[0], (letters[1:] or ["b"])[0], max(counts)


def _searching(first: str, other: str, gap: int, length: int, rng: random.Random) -> str:
    chars: list[str] = []
    for i in range(length):
        chars.append(other if i > gap and chars[i - gap - 1] == first else rng.choice((first, other)))
    return "".join(chars)


def batch(schema: Any, plan: dict[str, Any], value_budget: int, byte_budget: int) -> list[dict[str, Any]]:
    """``plan["events"]`` events' attributes, each at most ``byte_budget`` bytes of JSON, all together at most
    ``value_budget`` of the body's cost (values and keys, numbers by their length)."""
    from emma_events.json_text import cost, skeleton

    rng, keys = random.Random(plan["seed"]), schema_names(schema)  # noqa: S311 - test data

    def build(size: int) -> dict[str, Any]:
        item, shape = plan["item"], plan["shape"]
        if shape == "wide":
            return {(keys[i % len(keys)] if i < len(keys) else f"k{i}"): item for i in range(size)}
        if shape == "long":
            return {name: _searching(*_alphabet(schema), size * 2, rng) for name in keys[:2]}
        if shape == "array":
            return {keys[0]: [item] * size, keys[1]: ["ab" * 4] * (size // 4)}
        if shape == "colliding":  # arrays that nest the same numbers differently: jsonschema-rs hashes them alike
            return {keys[0]: _partitions(min(size, 12))}
        if shape == "deep":
            node: Any = [item] * size
            for level in range(9):
                node = {keys[level % len(keys)]: node, "a": item}
            return dict(node)
        return {name: [item, {name: [item] * (size // 20 + 1)}] for name in keys[: size // 10 + 1]}

    def fits(size: int) -> bool:
        text = json.dumps(build(size), separators=(",", ":"), ensure_ascii=False)
        return len(text.encode()) <= byte_budget and cost(skeleton(text)) * plan["events"] <= value_budget

    low, high = 1, 40_000
    while low < high:
        middle = (low + high + 1) // 2
        low, high = (middle, high) if fits(middle) else (low, middle - 1)
    return [build(low) for _ in range(plan["events"])]


def _partitions(count: int) -> list[list[list[int]]]:
    """Every way to cut ``range(count)`` into consecutive runs: 2 ** (count - 1) arrays of the same numbers."""
    found = []
    for cuts in range(1 << (count - 1)):
        runs, run = [], [0]
        for i in range(1, count):
            if cuts >> (i - 1) & 1:
                runs.append(run)
                run = []
            run.append(i)
        found.append([*runs, run])
    return found


def _chain(levels: int, keyword: str) -> dict[str, Any]:
    defs: dict[str, Any] = {"d0": {"type": "object"}}
    for i in range(1, levels + 1):
        ref = {"$ref": f"#/$defs/d{i - 1}"}
        if keyword == "unevaluatedProperties":
            defs[f"d{i}"] = {"allOf": [ref], "unevaluatedProperties": {"type": "integer"}}
        else:
            defs[f"d{i}"] = {"dependencies": {"a": {"allOf": [ref, ref]}}}
    return {"$defs": defs, "$ref": f"#/$defs/d{levels}"}


def plan_of(row: dict[str, Any]) -> dict[str, Any]:
    return {"events": 10, "seed": 0, "item": 0, "shape": "wide"} | row


#: The attacks the bound was asked for (docs/security.md), each a schema and the shape of its events.
ROWS: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "16 $defs under unevaluatedProperties": (_chain(16, "unevaluatedProperties"), {"shape": "wide", "item": 1}),
    "20 $defs under unevaluatedProperties": (_chain(20, "unevaluatedProperties"), {"shape": "wide", "item": 1}),
    "15 levels of dependencies": (_chain(15, "dependencies"), {"shape": "long", "item": 1}),
    "not pattern a[ab]{5000}a": ({"properties": {"s": {"not": {"pattern": "a[ab]{5000}a"}}}}, {"shape": "long"}),
    "480 patternProperties": ({"patternProperties": {f"^p{i}$": {} for i in range(480)}}, {"shape": "wide"}),
    "required of 2,322 names": ({"required": [f"{i:x}" for i in range(2322)]}, {"shape": "long"}),
    "a 3-level unevaluated chain (accepted)": (_chain(3, "unevaluatedProperties"), {"shape": "wide", "item": 1}),
    "not pattern a[ab]{10}a (accepted)": ({"properties": {"a": {"not": {"pattern": "a[ab]{10}a"}}}}, {"shape": "long"}),
    "uniqueItems on arrays that hash alike (accepted)": (
        {"properties": {"a": {"uniqueItems": True}, "b": {"uniqueItems": True}}},
        {"shape": "colliding", "events": 1},
    ),
    "regex outgrowing its DFA, a[ab]{14}a (accepted)": (
        {"additionalProperties": {"not": {"pattern": "a[ab]{14}a"}}},
        {"shape": "long"},
    ),
    "2 levels fanned 2 ways, unevaluated (accepted)": (
        {
            "$defs": {
                "d0": {"type": ["integer", "object", "array"]},
                "d1": {"allOf": [{"$ref": "#/$defs/d0"}] * 2, "unevaluatedProperties": {"minimum": 0}},
                "d2": {"allOf": [{"$ref": "#/$defs/d1"}] * 2, "unevaluatedProperties": {"minimum": 0}},
            },
            "additionalProperties": {"$ref": "#/$defs/d2"},
        },
        {"shape": "wide", "item": {"a": 0}},
    ),
}

"""What checking attributes against a schema can cost, at most, computed from the schema alone when it is declared.

jsonschema-rs checks a value in time linear in the value, but the factor depends on the schema in ways its size
does not show: ``$ref`` lets a few definitions apply thousands of times; ``unevaluated*`` re-applies every
subschema beside it to learn what they evaluated, and, nested, re-applies the re-applications; a regex may do
work per character in proportion to its size. So a schema is accepted only if its cost is within a budget
(docs/security.md, "What a request may cost"). Its ``Cost`` is two figures:

- ``at``: nanoseconds the value a schema applies to can cost: its keywords' own work and every in-place
  subschema's (``allOf``, ``$ref``, ``if``...);
- ``below``: nanoseconds each value (or object key) inside it can cost, wherever it is: the most the subschemas
  applied to one child can cost, per value of the child's own subtree (``items``, ``patternProperties``... may
  all apply to a child, so they add up; a ``properties`` or ``prefixItems`` subschema applies to one named child
  per value, so what it costs that child is paid once, in ``at``, and what it costs below it, the dearest);
- ``byte``: nanoseconds one byte of a string (or key) can cost, the same way: regexes, lengths, hashing;
- ``event``: nanoseconds one event can cost whatever its shape, for work that grows faster than its size but is
  shared by its parts (``uniqueItems``: n items compared pair by pair cost n², and arrays that share one event's
  bytes cost at most what one array of them all would): summed where subschemas apply to the same value, the
  dearest where they apply to different children.

A batch costs at most ``at`` + ``event`` x its events + ``below`` x its values and keys + ``byte`` x its string
bytes, each bounded by the request's own limits (10 events, ``json_text.BODY_MAX_COST``, 10 x ``ATTRIBUTES_MAX_BYTES``).
Every keyword jsonschema-rs applies to a draft 2020-12 schema is weighed here; any keyword not in ``KEYWORDS``
is refused, so none can apply unaccounted (the legacy ``dependencies`` and ``additionalItems`` among them).
The weights are measured with headroom: ``make bench`` prints the dearest schema it finds against its estimate.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from emma_events.schema_regex import TooCostly, regex

__all__ = ["KEYWORDS", "Cost", "TooCostly", "Walk"]

#: What a cheap keyword (a type, a bound) costs a value, in nanoseconds, measured with headroom.
UNIT = 10
#: What ``multipleOf`` of a fraction costs a value more (measured: 1-18 us, the smaller the divisor the dearer).
FRACTIONAL_MULTIPLE_NS = 20_000
#: What ``uniqueItems`` can cost an event: jsonschema-rs hashes items, but arrays of arrays that differ only in
#: how they nest hash alike, so they are compared pair by pair (measured: one 32 KB event of them, 5.3 ms). Arrays
#: of one event share its bytes, so the charge is per event and per place the keyword applies (``event``).
UNIQUE_ITEMS_NS = 6_000_000
IN_PLACE_ONE = ("not", "if", "then", "else", "contentSchema")
IN_PLACE_LIST = ("allOf", "anyOf", "oneOf")
OBJECT_ONE = ("additionalProperties", "propertyNames", "unevaluatedProperties")
ARRAY_ONE = ("items", "contains", "unevaluatedItems")
#: Where each keyword that holds subschemas applies them: to the value itself, to an object's child, to an item.
PLACES = {
    **dict.fromkeys((*IN_PLACE_ONE, *IN_PLACE_LIST, "dependentSchemas", "$ref"), "in place"),
    **dict.fromkeys((*OBJECT_ONE, "properties", "patternProperties"), "object"),
    **dict.fromkeys((*ARRAY_ONE, "prefixItems"), "array"),
}
#: What each keyword that applies to the value alone costs it, in units (``own`` adds what depends on its value).
VALUE_KEYWORDS = {
    "type": 1, "minimum": 1, "maximum": 1, "exclusiveMinimum": 1, "exclusiveMaximum": 1, "multipleOf": 20,
    "minLength": 1, "maxLength": 1, "minItems": 1, "maxItems": 1, "minProperties": 1, "maxProperties": 1,
    "minContains": 0, "maxContains": 0, "uniqueItems": 0, "required": 0, "dependentRequired": 0, "enum": 0,
    "const": 1, "pattern": 2,
}  # fmt: skip
#: Keywords that apply nothing: annotations, and where definitions live.
ANNOTATIONS = frozenset({
    "$schema", "$id", "$anchor", "$comment", "$defs", "definitions", "title", "description", "default",
    "examples", "deprecated", "readOnly", "writeOnly", "format", "contentEncoding", "contentMediaType",
})  # fmt: skip
KEYWORDS = frozenset({*PLACES, *VALUE_KEYWORDS, *ANNOTATIONS})


@dataclass(frozen=True)
class Cost:
    """What a schema's checks can cost, at most, in nanoseconds: ``at`` the value it applies to, ``below`` each
    value inside that one, ``byte`` each byte of a string (or key) in either; and, for an ``unevaluated*``
    beside it, what learning which children it evaluates costs (``mark_*``)."""

    at: int
    below: int
    byte: int
    mark_at: int = 0
    mark_below: int = 0
    mark_byte: int = 0
    event: int = 0
    mark_event: int = 0

    @property
    def per_value(self) -> int:
        """At most, per value of the subtree it applies to."""
        return self.at + self.below

    def of(self, documents: int, values: int, string_bytes: int) -> int:
        """Nanoseconds to check ``documents`` holding ``values`` values and keys and ``string_bytes`` of strings."""
        return (self.at + self.event) * documents + self.below * values + self.byte * string_bytes


BOOLEAN = Cost(UNIT, 0, 0)


def own(schema: dict[str, Any]) -> tuple[int, int]:
    """What a schema's own keywords cost the value they apply to (not its subschemas'), and each of its bytes."""
    value = UNIT + UNIT * sum(weight for keyword, weight in VALUE_KEYWORDS.items() if keyword in schema)
    byte = sum(1 for keyword in ("minLength", "maxLength", "uniqueItems", "const") if keyword in schema)
    required, dependent, enum = schema.get("required"), schema.get("dependentRequired"), schema.get("enum")
    value += UNIT * (len(required) if isinstance(required, list) else 0)
    if isinstance(dependent, dict):
        value += UNIT * sum(1 + len(names) for names in dependent.values() if isinstance(names, list))
    if isinstance(enum, list):  # strings are hashed; any other value is compared with each member in turn
        strings = all(isinstance(member, str | None) for member in enum)
        value += UNIT * (2 if strings else sum(1 + _values(member) for member in enum))
        byte += strings
    divisor = schema.get("multipleOf")
    if isinstance(divisor, float) and not divisor.is_integer():  # exact decimal arithmetic: up to ~20 us a value
        value += FRACTIONAL_MULTIPLE_NS
    if isinstance(schema.get("pattern"), str):
        found = regex(schema["pattern"])
        value, byte = value + found.ns_per_string, byte + found.ns_per_byte
    return value, byte


def combine(schema: dict[str, Any], applied: dict[str, dict[str, list[Cost]]]) -> Cost:
    """A schema's cost from its own keywords' and its subschemas', by where and by which keyword they apply: in
    place (to the value itself, and so below it too), or to an object's child or an array's item (a child costs
    at most ``per_value`` of the schemas applied to it, for each value of its subtree)."""
    value, byte = own(schema)
    in_place = [c for costs in applied.get("in place", {}).values() for c in costs]
    at = value + sum(c.at + UNIT for c in in_place)
    below = sum(c.below for c in in_place)
    byte += sum(c.byte for c in in_place)
    mark_at = UNIT + sum(c.at + c.mark_at for c in in_place)
    mark_below = sum(c.below + c.mark_below for c in in_place)
    mark_byte = sum(c.byte + c.mark_byte for c in in_place)
    event = (UNIQUE_ITEMS_NS if schema.get("uniqueItems") is True else 0) + sum(c.event for c in in_place)
    mark_event = sum(c.event + c.mark_event for c in in_place)
    child_event = 0
    # a key is matched against every pattern, again for additionalProperties, again to learn what is evaluated
    patterns = schema.get("patternProperties")
    keys = [regex(name) for name in patterns] if isinstance(patterns, dict) else []
    times = 1 + ("additionalProperties" in schema) + ("unevaluatedProperties" in schema)
    key_value = UNIT * len(keys) + times * sum(k.ns_per_string for k in keys)
    key_byte = times * sum(k.ns_per_byte for k in keys)
    child_value = child_byte = 0
    for where_, named in (("object", "properties"), ("array", "prefixItems")):
        kinds = applied.get(where_, {})
        # a named child (a property, a prefix item) occurs once per value this schema applies to: what its
        # schema costs that child itself is paid here, once; what it costs below it, per value there
        alone = kinds.get(named, [])
        at += sum(c.at for c in alone)
        rest = [c for keyword, costs in kinds.items() if keyword != named for c in costs]
        extra = (key_value, key_byte) if where_ == "object" else (0, 0)
        child_value = max(child_value, UNIT + extra[0] + max((c.below for c in alone), default=0)
                          + sum(c.per_value for c in rest))  # fmt: skip
        child_byte = max(child_byte, extra[1] + max((c.byte for c in alone), default=0)
                         + sum(c.byte for c in rest))  # fmt: skip
        child_event = max(child_event, max((c.event for c in alone), default=0) + sum(c.event for c in rest))
    unevaluated = ("unevaluatedProperties" in schema) + ("unevaluatedItems" in schema)
    mark_below, mark_byte = mark_below + key_value, mark_byte + key_byte
    return Cost(
        at + unevaluated * mark_at,
        below + child_value + unevaluated * mark_below,
        byte + child_byte + unevaluated * mark_byte,
        mark_at,
        mark_below,
        mark_byte,
        event + child_event + unevaluated * mark_event,
        mark_event,
    )


def _values(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + sum(map(_values, value.values()))
    if isinstance(value, list):
        return 1 + sum(map(_values, value))
    return 1


class Walk:
    """A schema with every ``$ref`` followed, each part once (by its canonical pointer): every subschema must be
    an object or a boolean, use only ``KEYWORDS`` (and ``x-`` annotations) and refer only to a JSON pointer
    inside the document, never in a cycle. Counts each part's subschemas and computes its cost; ``past`` is
    the deepest part found whose cost alone is past ``budget``, and that cost."""

    REFUSED = ("$dynamicRef", "$dynamicAnchor", "$recursiveRef", "$recursiveAnchor")

    def __init__(self, root: dict[str, Any], max_subschemas: int, budget: Any = None) -> None:
        self.root, self.max_subschemas, self.budget = root, max_subschemas, budget
        self.seen: dict[str, tuple[int, Cost]] = {}
        self.past: tuple[str, Cost] | None = None
        #: The distinct patterns (``pattern``, ``patternProperties``' names): each is compiled once.
        self.patterns: set[str] = set()

    def run(self) -> tuple[int, Cost]:
        return self.node(self.root, "", frozenset())

    def node(self, node: Any, pointer: str, active: frozenset[str]) -> tuple[int, Cost]:
        if pointer in self.seen:
            return self.seen[pointer]
        if pointer in active:
            raise ValueError(f"{where(pointer)}$ref leads back to itself: cycles are not supported")
        if isinstance(node, bool):
            found = (1, BOOLEAN)
        elif isinstance(node, dict):
            found = self._object(node, pointer, active | {pointer})
        else:
            raise ValueError(f"{where(pointer)}a schema must be an object or a boolean")
        if self.past is None and self.budget is not None and self.budget(found[1]):
            self.past = pointer, found[1]
        self.seen[pointer] = found
        return found

    def _object(self, node: dict[str, Any], pointer: str, active: frozenset[str]) -> tuple[int, Cost]:
        self._acceptable(node, pointer)
        self.patterns.update([node["pattern"]] if isinstance(node.get("pattern"), str) else [])
        self.patterns.update(node["patternProperties"] if isinstance(node.get("patternProperties"), dict) else [])
        count, applied = 1, dict[str, dict[str, list[Cost]]]()
        for keyword, place, children in self._children(node, pointer):
            for child, at in children:
                size, cost = self.node(child, at, active)
                count += size
                if count > self.max_subschemas:
                    raise ValueError(f"must have at most {self.max_subschemas} subschemas once its $refs are expanded")
                applied.setdefault(place, {}).setdefault(keyword, []).append(cost)
        try:
            return count, combine(node, applied)
        except TooCostly as error:  # one of its own patterns
            raise TooCostly(f"{where(pointer)}{error}") from None

    def _children(self, node: dict[str, Any], pointer: str) -> Iterator[tuple[str, str, list[tuple[Any, str]]]]:
        for keyword, value in node.items():
            place = PLACES.get(keyword)
            if place is None or keyword == "$ref":
                continue
            if keyword in (*IN_PLACE_LIST, "prefixItems"):
                items = enumerate(value) if isinstance(value, list) else []
                yield keyword, place, [(s, f"{pointer}/{keyword}/{i}") for i, s in items]
            elif keyword in ("dependentSchemas", "properties", "patternProperties"):
                pairs = value.items() if isinstance(value, dict) else []
                yield keyword, place, [(s, f"{pointer}/{keyword}/{escape(n)}") for n, s in pairs]
            else:
                yield keyword, place, [(value, f"{pointer}/{keyword}")]
        if "$ref" in node:
            yield "$ref", "in place", [self._resolve(node["$ref"][1:])]

    def _acceptable(self, node: dict[str, Any], pointer: str) -> None:
        unknown = [k for k in node if k not in KEYWORDS and not k.startswith("x-")]
        refused = [k for k in (*self.REFUSED, *unknown) if k in node]
        if refused:
            raise ValueError(
                f"{where(pointer)}{refused[0]} is not supported (the keywords are draft 2020-12's, without "
                "dynamic references; an annotation of your own may be named x-...)"
            )
        if pointer and ("$id" in node or "$schema" in node):
            raise ValueError(f"{where(pointer)}$id and $schema are accepted only at the top")
        ref = node.get("$ref", "#")
        if not isinstance(ref, str) or not (ref == "#" or ref.startswith("#/")) or "%" in ref:
            raise ValueError(
                f"{where(pointer)}$ref must be a JSON pointer inside the schema, like '#/$defs/sku' "
                "(not percent-encoded)"
            )

    def _resolve(self, pointer: str) -> tuple[Any, str]:
        """What a JSON pointer (RFC 6901, as in a ``$ref`` fragment) names inside the document, and the pointer
        in its one canonical spelling (so that a cycle is found whichever way its references are written)."""
        node: Any = self.root
        canonical = ""
        for token in pointer.split("/")[1:] if pointer else []:
            token = token.replace("~1", "/").replace("~0", "~")
            canonical += f"/{escape(token)}"
            if isinstance(node, dict) and token in node:
                node = node[token]
            elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
                node = node[int(token)]
            else:
                raise ValueError(f"$ref '#{pointer}' points to nothing in the schema")
        if not isinstance(node, dict | bool):
            raise ValueError(f"$ref '#{pointer}' does not point to a schema")
        return node, canonical


def escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def where(pointer: str | list[Any]) -> str:
    if isinstance(pointer, list):
        pointer = "".join(f"/{escape(str(part))}" for part in pointer)
    return f"at {pointer}: " if pointer else ""

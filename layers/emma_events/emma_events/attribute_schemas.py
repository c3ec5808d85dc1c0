"""An event type's ``attributes_schema``: a JSON Schema (draft 2020-12) its events' ``attributes`` must match.

``check`` decides whether a schema written by a client is acceptable. Anyone holding a key writes one, so what
is accepted is bounded before the library sees it: its size, its nesting, its keywords, ``$ref`` only to a JSON
pointer inside the document and never in a cycle, and above all what checking a batch against it can cost
(``schema_cost``: a schema is refused, naming its dearest part, when a batch at the request limits could cost
more than ``BUDGET_MS`` of CPU). The library then checks it against the meta-schema and compiles its patterns
with a regex engine that matches in linear time (no lookaround, no backreferences: refused at compile) and
cannot fetch anything (no remote references, ever).

``failures`` checks one event's attributes with a compiled validator (``validator``, cached by schema text with
a bound). jsonschema-rs is imported only there and in ``check``: a function, or a batch, that meets no schema
never loads it (docs/decisions.md, "Attribute schemas").
"""

from __future__ import annotations

import itertools
import json
from typing import TYPE_CHECKING, Any, NamedTuple

from emma_events.json_text import BODY_MAX_COST, skeleton, tokens
from emma_events.models import ATTRIBUTES_MAX_BYTES, MAX_EVENTS_PER_POST, json_depth, json_size
from emma_events.schema_cost import UNIT, Cost, TooCostly, Walk, escape, where
from emma_events.schema_regex import MAX_REGEX_KB, regex

if TYPE_CHECKING:
    import jsonschema_rs

#: Limits (docs/api.md, "Attribute schemas").
MAX_SCHEMA_BYTES = 16 * 1024
MAX_SCHEMA_DEPTH = 24  # requests nest at most BODY_MAX_DEPTH levels in all (json_text.py)
#: Subschemas once every ``$ref`` is replaced by what it points to: what the library compiles.
MAX_SUBSCHEMAS = 500
#: What checking a batch's attributes may cost at most, by the schema's estimate: a batch at the request's
#: limits (its values and keys, its string bytes), checked twice (a failing event is checked again to list its
#: failures). Half of the 0.5 s a batch may cost more than under ``{"type": "object"}``: the estimate's headroom.
BUDGET_MS = 250
BATCH_VALUES = BODY_MAX_COST
BATCH_STRING_BYTES = MAX_EVENTS_PER_POST * ATTRIBUTES_MAX_BYTES
PASSES = 2
#: What a batch costs whatever the schema: compiling it (once per container and version), and measuring a
#: failing event to decide whether its failures can be listed (``make bench`` measures both).
OVERHEAD_MS = 30
#: Listing every failure builds each one (jsonschema-rs has no lazy listing), copying the value it is about and
#: what its keyword holds: at most one per keyword and value, each up to the event's size and the schema's. Past
#: ``MAX_LISTED_BYTES`` by that count, only an event's first failure is reported; within it, its first
#: ``MAX_FAILURES``, each message cut at ``MAX_MESSAGE``.
MAX_LISTED_BYTES = 16 * 1024 * 1024
MAX_FAILURES = 20
MAX_MESSAGE = 500
#: Messages say "the value", never quote it (a value may be 32 KB, and is the client's own).
MASK = "the value"
#: Distinct patterns in a schema, and what they may compile to together (each at most ``MAX_REGEX_KB``, the
#: regex engine's own limit, as is its lazy DFA's cache): compiling is paid by the first POST a container serves.
MAX_PATTERNS = 64
MAX_COMPILED_KB = 2048
#: Compiled validators kept per container, and the memory they may take together by their estimates.
CACHED_VALIDATORS = 64
CACHED_MB = 64
DIALECT = "https://json-schema.org/draft/2020-12/schema"


def batch_ms(cost: Cost) -> float:
    """CPU milliseconds a batch at the request limits can cost to check against a schema of this cost."""
    return OVERHEAD_MS + PASSES * cost.of(MAX_EVENTS_PER_POST, BATCH_VALUES, BATCH_STRING_BYTES) / 1e6


def check(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema if it is acceptable, else ``ValueError`` saying what is wrong (and where, as a JSON pointer)."""
    size = json_size(schema)
    if size > MAX_SCHEMA_BYTES:
        raise ValueError(f"must be at most {MAX_SCHEMA_BYTES} bytes as JSON, not {size}")
    if json_depth(schema) > MAX_SCHEMA_DEPTH:
        raise ValueError(f"must not be nested more than {MAX_SCHEMA_DEPTH} levels deep")
    dialect = schema.get("$schema", DIALECT)
    if not isinstance(dialect, str) or dialect.rstrip("#") != DIALECT:
        raise ValueError(f"$schema must be {DIALECT!r} (draft 2020-12) or left out")
    walk = Walk(schema, MAX_SUBSCHEMAS, budget=lambda part: batch_ms(part) > BUDGET_MS)
    walk.run()
    if len(walk.patterns) > MAX_PATTERNS:
        raise ValueError(f"must have at most {MAX_PATTERNS} distinct patterns, not {len(walk.patterns)}")
    compiled = sum(regex(pattern).compiled_kb for pattern in walk.patterns)
    if compiled > MAX_COMPILED_KB:
        raise TooCostly(f"its patterns could compile to {compiled:,.0f} KB together, more than {MAX_COMPILED_KB} KB")
    if walk.past is not None:
        part, cost = walk.past
        raise TooCostly(
            f"{where(part)}checking a batch of events against this could cost up to {batch_ms(cost):,.0f} ms "
            f"of CPU, more than {BUDGET_MS} ms (docs/api.md, 'Attribute schemas', says what each keyword costs)"
        )
    import jsonschema_rs

    try:
        _compile(schema)
    except jsonschema_rs.ValidationError as error:
        raise ValueError(f"is not a valid JSON Schema: {where(error.instance_path)}{error.message}") from None
    return schema


def subschemas(schema: dict[str, Any]) -> int:
    """How many subschemas the schema has once each ``$ref`` is replaced by its target (at most
    ``MAX_SUBSCHEMAS``, else ``ValueError``); ``$defs`` count where they are referenced."""
    return Walk(schema, MAX_SUBSCHEMAS).run()[0]


def cost(schema: dict[str, Any]) -> Cost:
    """What checking a value against the schema can cost, at most (``schema_cost``)."""
    return Walk(schema, MAX_SUBSCHEMAS).run()[1]


class Compiled(NamedTuple):
    validator: jsonschema_rs.Validator
    cost: Cost
    #: What it may take in memory at most: its patterns compiled, and their DFAs' caches where they can fill.
    memory_kb: float
    schema_bytes: int


def validator(text: str) -> Compiled:
    """A stored schema (its text), compiled; the ones used last are kept, up to ``CACHED_VALIDATORS`` and
    ``CACHED_MB`` of their estimates (so schemas of many large patterns cannot fill a container's memory)."""
    found = _cache.pop(text, None) or _compiled(text)
    _cache[text] = found
    while len(_cache) > 1 and (
        len(_cache) > CACHED_VALIDATORS or sum(c.memory_kb for c in _cache.values()) > CACHED_MB * 1024
    ):
        _cache.pop(next(iter(_cache)))
    return found


_cache: dict[str, Compiled] = {}


def _compiled(text: str) -> Compiled:
    schema = json.loads(text)
    walk = Walk(schema, MAX_SUBSCHEMAS)
    count, found = walk.run()
    memory = sum(regex(pattern).memory_kb for pattern in walk.patterns) + 2 * count
    return Compiled(_compile(schema), found, memory, len(text.encode()))


def failures(compiled: Compiled, attributes: dict[str, Any]) -> list[tuple[str, str]]:
    """Where ``attributes`` fail the schema and why: (JSON pointer, message) of the first ``MAX_FAILURES``
    failures, or of the first one only when listing them all could build more than ``MAX_LISTED_BYTES``."""
    import jsonschema_rs

    try:
        compiled.validator.validate(attributes)
    except jsonschema_rs.ValidationError as first:
        text = json.dumps(attributes, separators=(",", ":"), ensure_ascii=False)
        # a failure per keyword and value at most, each copying the value and what the keyword holds (a const)
        errors_at_most = compiled.cost.per_value // UNIT * tokens(skeleton(text))
        listed = errors_at_most * (len(text.encode()) + compiled.schema_bytes + MAX_MESSAGE)
        if listed > MAX_LISTED_BYTES:
            return [_failure(first)]
        listing = compiled.validator.iter_errors(attributes)
        return [_failure(error) for error in itertools.islice(listing, MAX_FAILURES)]
    return []


def _compile(schema: dict[str, Any]) -> jsonschema_rs.Validator:
    import jsonschema_rs

    return jsonschema_rs.Draft202012Validator(
        schema,
        validate_formats=False,  # 2020-12: "format" is an annotation unless a schema opts in to its vocabulary
        retriever=_no_remote,
        mask=MASK,
        pattern_options=jsonschema_rs.RegexOptions(size_limit=MAX_REGEX_KB << 10, dfa_size_limit=MAX_REGEX_KB << 10),
    )


def _no_remote(uri: str) -> Any:
    raise ValueError(f"{uri} is outside the schema: only references inside it are followed")


def _failure(error: jsonschema_rs.ValidationError) -> tuple[str, str]:
    pointer = "".join(f"/{escape(str(part))}" for part in error.instance_path)
    kind = error.kind
    if kind.name == "required":  # where the missing property would be
        pointer += f"/{escape(str(kind.property))}"  # type: ignore[attr-defined]  # Required's own field
    message = error.message
    return pointer, message if len(message) <= MAX_MESSAGE else message[: MAX_MESSAGE - 1] + "…"

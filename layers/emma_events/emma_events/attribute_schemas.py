"""An event type's ``attributes_schema``: a JSON Schema (draft 2020-12) its events' ``attributes`` must match.

``check`` decides whether a schema written by a client is acceptable. Anyone holding a key writes one, so what
is accepted is bounded before the library sees it: its size, its nesting, ``$ref`` only to a JSON pointer inside
the document and never in a cycle, and the number of subschemas once references are expanded (which bounds the
work of checking one value: a schema of 16 KB could otherwise reference its way to billions). The library then
checks it against the meta-schema and compiles its patterns with a regex engine that matches in linear time
(no lookaround, no backreferences: refused at compile) and cannot fetch anything (no remote references, ever).

``failures`` checks one event's attributes with a compiled validator (``validator``, cached by schema text with
a bound). jsonschema-rs is imported only there and in ``check``: a function, or a batch, that meets no schema
never loads it (docs/decisions.md, "Attribute schemas").
"""

from __future__ import annotations

import itertools
import json
from functools import lru_cache
from typing import TYPE_CHECKING, Any, NamedTuple

from emma_events.models import json_depth, json_size

if TYPE_CHECKING:
    import jsonschema_rs

#: Limits (docs/api.md, "Attribute schemas").
MAX_SCHEMA_BYTES = 16 * 1024
MAX_SCHEMA_DEPTH = 24  # requests nest at most 32 levels in all (api.py)
#: Subschemas once every ``$ref`` is replaced by what it points to: what one value can be checked against.
MAX_SUBSCHEMAS = 500
#: Finding every failure builds each one (jsonschema-rs has no lazy listing): up to one per (subschema, value)
#: pair, its message quoting the value and the keyword's own (an enum, a const). Past either bound, only an
#: event's first failure is reported; within both, its first ``MAX_FAILURES``, each message cut at
#: ``MAX_MESSAGE``. The bounds keep the worst listing near 100 ms and 64 MB for an event.
MAX_LISTED_PAIRS = 20_000
MAX_LISTED_BYTES = 64 * 1024 * 1024  # pairs x (schema + attributes bytes)
MAX_FAILURES = 20
MAX_MESSAGE = 500
#: Compiled validators kept per container.
CACHED_VALIDATORS = 64
DIALECT = "https://json-schema.org/draft/2020-12/schema"

_ONE = ("additionalProperties", "propertyNames", "items", "contains", "unevaluatedItems", "unevaluatedProperties",
        "not", "if", "then", "else", "contentSchema")  # fmt: skip
_LIST = ("allOf", "anyOf", "oneOf", "prefixItems")
_MAP = ("properties", "patternProperties", "dependentSchemas")
_REFUSED = ("$dynamicRef", "$dynamicAnchor", "$recursiveRef", "$recursiveAnchor")


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
    subschemas(schema)
    import jsonschema_rs

    try:
        _compile(schema)
    except jsonschema_rs.ValidationError as error:
        raise ValueError(f"is not a valid JSON Schema: {_where(error.instance_path)}{error.message}") from None
    return schema


def subschemas(schema: dict[str, Any]) -> int:
    """How many subschemas the schema has once each ``$ref`` is replaced by its target (at most
    ``MAX_SUBSCHEMAS``, else ``ValueError``); ``$defs`` count where they are referenced. Each one must be an
    object or a boolean, and refer only to a JSON pointer inside the document."""
    sizes: dict[str, int] = {}

    def size(node: Any, pointer: str, active: frozenset[str]) -> int:
        if pointer in sizes:
            return sizes[pointer]
        if pointer in active:
            raise ValueError(f"{_where(pointer)}$ref leads back to itself: cycles are not supported")
        total = 1
        if isinstance(node, dict):
            _acceptable(node, pointer)
            inner = active | {pointer}
            children = [(node[k], f"{pointer}/{k}") for k in _ONE if k in node]
            children += [(s, f"{pointer}/{k}/{i}") for k in _LIST if isinstance(node.get(k), list)
                         for i, s in enumerate(node[k])]  # fmt: skip
            children += [(s, f"{pointer}/{k}/{_escape(n)}") for k in _MAP if isinstance(node.get(k), dict)
                         for n, s in node[k].items()]  # fmt: skip
            if "$ref" in node:
                children.append(_resolve(schema, node["$ref"][1:]))
            for child, where in children:
                total += size(child, where, inner)
                if total > MAX_SUBSCHEMAS:
                    raise ValueError(f"must have at most {MAX_SUBSCHEMAS} subschemas once its $refs are expanded")
        elif not isinstance(node, bool):
            raise ValueError(f"{_where(pointer)}a schema must be an object or a boolean")
        sizes[pointer] = total
        return total

    return size(schema, "", frozenset())


class Compiled(NamedTuple):
    validator: jsonschema_rs.Validator
    subschemas: int
    schema_bytes: int


def validator(text: str) -> Compiled:
    """A stored schema (its text), compiled; the last ``CACHED_VALIDATORS`` are kept."""
    return _cached(text)


@lru_cache(maxsize=CACHED_VALIDATORS)
def _cached(text: str) -> Compiled:
    schema = json.loads(text)
    return Compiled(_compile(schema), subschemas(schema), len(text.encode()))


def failures(compiled: Compiled, attributes: dict[str, Any]) -> list[tuple[str, str]]:
    """Where ``attributes`` fail the schema and why: (JSON pointer, message) of the first ``MAX_FAILURES``
    failures, or of the first one only when finding them all could cost more (``MAX_LISTED_PAIRS``,
    ``MAX_LISTED_BYTES``)."""
    if compiled.validator.is_valid(attributes):
        return []
    pairs = compiled.subschemas * _values(attributes)
    listed_bytes = pairs * (compiled.schema_bytes + json_size(attributes))
    if pairs > MAX_LISTED_PAIRS or listed_bytes > MAX_LISTED_BYTES:
        import jsonschema_rs

        try:
            compiled.validator.validate(attributes)
        except jsonschema_rs.ValidationError as error:
            return [_failure(error)]
    errors = compiled.validator.iter_errors(attributes)
    return [_failure(error) for error in itertools.islice(errors, MAX_FAILURES)]


def _compile(schema: dict[str, Any]) -> jsonschema_rs.Validator:
    import jsonschema_rs

    return jsonschema_rs.Draft202012Validator(
        schema,
        validate_formats=False,  # 2020-12: "format" is an annotation unless a schema opts in to its vocabulary
        retriever=_no_remote,
        pattern_options=jsonschema_rs.RegexOptions(size_limit=1 << 20, dfa_size_limit=1 << 20),
    )


def _no_remote(uri: str) -> Any:
    raise ValueError(f"{uri} is outside the schema: only references inside it are followed")


def _failure(error: jsonschema_rs.ValidationError) -> tuple[str, str]:
    pointer = "".join(f"/{_escape(str(part))}" for part in error.instance_path)
    kind = error.kind
    if kind.name == "required":  # where the missing property would be
        pointer += f"/{_escape(str(kind.property))}"  # type: ignore[attr-defined]  # Required's own field
    message = error.message
    return pointer, message if len(message) <= MAX_MESSAGE else message[: MAX_MESSAGE - 1] + "…"


def _acceptable(node: dict[str, Any], pointer: str) -> None:
    for keyword in _REFUSED:
        if keyword in node:
            raise ValueError(f"{_where(pointer)}{keyword} is not supported")
    if pointer and ("$id" in node or "$schema" in node):
        raise ValueError(f"{_where(pointer)}$id and $schema are accepted only at the top")
    ref = node.get("$ref", "#")
    if not isinstance(ref, str) or not (ref == "#" or ref.startswith("#/")) or "%" in ref:
        raise ValueError(
            f"{_where(pointer)}$ref must be a JSON pointer inside the schema, like '#/$defs/sku' (not percent-encoded)"
        )


def _resolve(root: dict[str, Any], pointer: str) -> tuple[Any, str]:
    """What a JSON pointer (RFC 6901, as in a ``$ref`` fragment) names inside the document, and the pointer in
    its one canonical spelling (so that a cycle is found whichever way its references are written)."""
    node: Any = root
    canonical = ""
    for token in pointer.split("/")[1:] if pointer else []:
        token = token.replace("~1", "/").replace("~0", "~")
        canonical += f"/{_escape(token)}"
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            raise ValueError(f"$ref '#{pointer}' points to nothing in the schema")
    if not isinstance(node, dict | bool):
        raise ValueError(f"$ref '#{pointer}' does not point to a schema")
    return node, canonical


def _values(value: Any) -> int:
    """How many values a JSON document holds (itself and every value inside it)."""
    if isinstance(value, dict):
        return 1 + sum(map(_values, value.values()))
    if isinstance(value, list):
        return 1 + sum(map(_values, value))
    return 1


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def _where(pointer: str | list[Any]) -> str:
    if isinstance(pointer, list):
        pointer = "".join(f"/{_escape(str(part))}" for part in pointer)
    return f"at {pointer}: " if pointer else ""

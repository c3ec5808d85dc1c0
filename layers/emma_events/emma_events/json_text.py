"""Request bodies parsed at what their bytes cost, whatever their shape (docs/security.md, "What a request may
cost"), and the facts about a JSON text that take it there, read at C speed: how many values it holds, how deep
it nests, whether its strings hold control characters. A hostile body is refused before anything is built from it.

Each check works on the text's *skeleton*: the text outside its strings, each string replaced by ``_`` and white
space removed, as ASCII bytes (outside its strings valid JSON is ASCII). It is made with a handful of ``str`` and
``bytes`` methods, each one pass in C, and one list item per string: no Python step per value or per character.
Counts on a text that is not valid JSON are not meaningful; a parser says so afterwards.
"""

from __future__ import annotations

import gc
import json
import re
from typing import Any, NamedTuple

#: Nesting depth of a request body (DynamoDB's own limit for a stored document; ``attributes`` and ``fields``
#: allow less, checked by their models).
BODY_MAX_DEPTH = 32
#: What a request body may hold, counted by ``cost``: each value and object key 1, and a number more, by its
#: length and for a fraction or an exponent (reading one and writing it back takes several times what a short
#: value does). Ten events of up to a thousand attribute values each cost less, as does one of 32 KB of any
#: shape; parsing this much, of any shape, costs less than twice what a megabyte of plain string does.
BODY_MAX_COST = 30_000
NUMBER_PART_COST = 2
NUMBER_CHARACTERS_PER_COST = 4
#: Digits in a row in a number: Python reads and writes an integer in time quadratic in its digits.
MAX_DIGITS = 100

_WHITESPACE = b" \t\n\r"
_DIGITS_AS_NINES = bytes.maketrans(b"0123456789", b"9999999999").translate(
    bytes.maketrans(bytes(c for c in range(256) if not 48 <= c <= 57), b" " * 246)
)
_NOT_BRACKETS = bytes(c for c in range(256) if chr(c) not in "[]{}")
_BRACES_AS_BRACKETS = bytes.maketrans(b"{}", b"[]")
#: In ``json.dumps`` output (``ensure_ascii=False``, escaped backslashes removed): a control character other than
#: tab, line feed and carriage return (escaped as ``\\u00XX``, ``\\b`` or ``\\f``), or DEL (written as is).
_CONTROL = re.compile(r"\\u00[01][0-9a-f]|\\[bf]|\x7f")


def strings_at_least(text: str) -> int:
    """A lower bound of the number of strings (keys included) in a JSON text, from two counts: what a body of
    many tiny strings costs is known before its skeleton is made."""
    return (text.count('"') - text.count('\\"')) // 2


def skeleton(text: str) -> bytes:
    """``text`` outside its strings (each one ``_``), white space removed."""
    unescaped = text.replace("\\\\", "").replace('\\"', "")  # backslashes pair up from the left, as JSON reads them
    outside = "_".join(unescaped.split('"')[::2])
    return outside.encode("ascii", "replace").translate(None, _WHITESPACE)


def tokens(skeleton_: bytes) -> int:
    """How many values and object keys the text holds: each comma and colon starts one more, as does each
    non-empty container (the first item inside it), plus the top value."""
    count = skeleton_.count
    containers = count(b"[") + count(b"{") - count(b"[]") - count(b"{}")
    return count(b",") + count(b":") + containers + 1


def cost(skeleton_: bytes) -> int:
    """``tokens``; ``NUMBER_PART_COST`` for each fraction and exponent (a dot, or an ``e`` that is not in a
    ``true`` or a ``false``), and one for every ``NUMBER_CHARACTERS_PER_COST`` characters of numbers."""
    count = skeleton_.count
    literal_es = count(b"true") + count(b"false")
    parts = count(b".") + count(b"e") + count(b"E") - literal_es
    characters = len(skeleton_) - len(skeleton_.translate(None, b"0123456789.eE+-")) - literal_es
    return tokens(skeleton_) + NUMBER_PART_COST * parts + characters // NUMBER_CHARACTERS_PER_COST


def longest_digits_past(skeleton_: bytes, digits: int) -> bool:
    """Whether a number has more than ``digits`` digits in a row."""
    return b"9" * (digits + 1) in skeleton_.translate(_DIGITS_AS_NINES)


def deeper_than(skeleton_: bytes, levels: int) -> bool:
    """Whether containers nest more than ``levels`` deep. Each pass removes the innermost pairs of brackets; a
    text nested ``levels`` deep is empty after ``levels`` passes (a pass costs at most one scan of the brackets)."""
    brackets = skeleton_.translate(_BRACES_AS_BRACKETS, _NOT_BRACKETS)  # one kind: a pass removes one level
    for _ in range(levels):
        if not brackets:
            return False
        brackets = brackets.replace(b"[]", b"")
    return bool(brackets)


def has_controls(dumped: str) -> bool:
    """Whether a text written by ``json.dumps(..., ensure_ascii=False)`` holds, in a key or a string, a control
    character other than tab, line feed and carriage return (DynamoDB stores them; logs and CSV exports break)."""
    return _CONTROL.search(dumped.replace("\\\\", "")) is not None


class Parsed(NamedTuple):
    value: Any
    #: The value as compact JSON with sorted keys: what an Idempotency-Key's fingerprint is taken of.
    canonical: str


def parse(text: str) -> Parsed:
    """A request body's JSON, or ``ValueError`` saying why not: past ``BODY_MAX_COST``, ``BODY_MAX_DEPTH`` levels
    or ``MAX_DIGITS`` (measured on the text before anything is built), duplicate keys (which parser would win is
    anyone's guess: found as fewer values in the canonical text than in the body)."""
    too_much = (
        f"holds more than {BODY_MAX_COST} values and keys (a number's fraction or exponent counts "
        f"{NUMBER_PART_COST} more)"
    )
    if strings_at_least(text) > BODY_MAX_COST:
        raise ValueError(too_much)
    sent = skeleton(text)
    if cost(sent) > BODY_MAX_COST:
        raise ValueError(too_much)
    if deeper_than(sent, BODY_MAX_DEPTH):
        raise ValueError(f"nested more than {BODY_MAX_DEPTH} levels deep")
    if longest_digits_past(sent, MAX_DIGITS):
        raise ValueError(f"has a number of more than {MAX_DIGITS} digits")
    count = tokens(sent)
    collecting = gc.isenabled()
    gc.disable()  # tens of thousands of new containers would start collections that walk every object
    try:
        value = json.loads(text)
    except RecursionError:  # not valid JSON beyond the skeleton's reading, and nested past the interpreter's stack
        raise ValueError(f"nested more than {BODY_MAX_DEPTH} levels deep") from None
    finally:
        if collecting:
            gc.enable()
    canonical = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    if tokens(skeleton(canonical)) != count:
        json.loads(text, object_pairs_hook=_unique)  # raises, naming the key
    return Parsed(value, canonical)


def _unique(items: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: set[str] = set()
    for key, _ in items:
        if key in seen:
            raise ValueError(f"duplicate key {key!r}")
        seen.add(key)
    return dict(items)

"""A saved search's criteria: Emma's nested arrays, read into a tree of terms, or a 400 naming the part at fault.

    ["and", ["event:purchase", "in last", {"day": 30}], ["not", ["member_field:vip", "eq", true]]]

Combinations ``and``, ``or`` (at least one part each) and ``not`` (one); Emma's terms ``member_since`` (``in last``
an interval, ``between`` two days) and ``member_field:<name>`` (``eq`` a value, ``contains`` a text, ``in`` a list);
and the event terms ``event:<type>`` (did it: ever, ``in last`` an interval, ``between`` two days),
``event_count:<type>`` and ``event_value:<type>`` (an operator ``eq``, ``gt``, ``lt`` or ``between``, its one or two
numbers, and optionally ``{"in last": interval}`` or ``{"between": [day, day]}``). Days are UTC ``YYYY-MM-DD``,
both ends included; an interval is ``{"day"|"week"|"month"|"year": N}``, the N such units up to today.

What a search may cost is bounded here, before anything is read (docs/api.md, "Searches"): at most ``MAX_TERMS``
terms, ``MAX_DEPTH`` levels, an event term's window at most ``MAX_WINDOW_DAYS`` days, and ``MAX_INDEX_DAYS`` days
of windows in all (each day of a window is one Query of the ``MembersByType`` index).
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, NoReturn

from emma_events import json_text
from emma_events.dates import Window, span
from emma_events.errors import ValidationFailed, field_error

MAX_TERMS = 32
MAX_DEPTH = 8
MAX_WINDOW_DAYS = 366
MAX_INDEX_DAYS = 1_500
MAX_VALUES = 100
MAX_TEXT = 1_000
#: The criteria's JSON text, at most (it is stored in the search's item, which DynamoDB caps at 400 KB).
MAX_CRITERIA_BYTES = 32_768
#: The largest N of an interval per unit: every window of an event term fits in MAX_WINDOW_DAYS.
UNITS = {"day": 366, "week": 52, "month": 12, "year": 1}
#: member_since's intervals read no index: they may reach back to the first members.
SINCE_UNITS = {"day": 36_600, "week": 5_200, "month": 1_200, "year": 100}
OPERATORS = {"eq": 1, "gt": 1, "lt": 1, "between": 2}
FIRST_DAY, LAST_DAY = date(1970, 1, 1), date(9998, 12, 31)
Path = tuple[Any, ...]
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)


@dataclass(frozen=True)
class EventTerm:
    """``event`` (did it), ``event_count`` or ``event_value`` of the type named ``type_name``."""

    path: Path
    measure: str
    type_name: str
    operator: str | None = None
    bounds: tuple[Decimal, ...] = ()
    window: Window | None = None

    def accepts(self, amount: Decimal) -> bool:
        """Whether a member's count or value ``amount`` satisfies the term's operator."""
        if self.operator == "eq":
            return amount == self.bounds[0]
        if self.operator == "gt":
            return amount > self.bounds[0]
        if self.operator == "lt":
            return amount < self.bounds[0]
        return self.bounds[0] <= amount <= self.bounds[1]


@dataclass(frozen=True)
class SinceTerm:
    window: Window


@dataclass(frozen=True)
class FieldTerm:
    name: str
    operator: str
    values: tuple[Any, ...]


@dataclass(frozen=True)
class Combination:
    operator: str  # and, or
    parts: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    part: Node


Node = EventTerm | SinceTerm | FieldTerm | Combination | Not


@dataclass(frozen=True)
class Criteria:
    tree: Node
    #: The criteria as stored and answered: compact JSON text.
    text: str

    def event_terms(self) -> list[EventTerm]:
        found: list[EventTerm] = []
        _walk(self.tree, found)
        return found


def _walk(node: Node, found: list[EventTerm]) -> None:
    if isinstance(node, EventTerm):
        found.append(node)
    elif isinstance(node, Combination):
        for part in node.parts:
            _walk(part, found)
    elif isinstance(node, Not):
        _walk(node.part, found)


def invalid(path: Path, message: str, kind: str = "criteria") -> ValidationFailed:
    return ValidationFailed(f"The criteria are not valid: {message}.", errors=[field_error(path, message, kind)])


def _fail(path: Path, message: str, kind: str = "criteria") -> NoReturn:
    raise invalid(path, message, kind)


def read(sent: Any, path: Path = ("body", "criteria")) -> Criteria:
    """Criteria as sent (an array, or that array as JSON text), or ``ValidationFailed`` naming the first part at
    fault by its path (``body.criteria.2.1``)."""
    if isinstance(sent, str):
        try:
            sent = json_text.parse(sent).value
        except ValueError as error:
            _fail(path, f"not JSON: {error}")
    reader = _Reader()
    tree = reader.node(sent, path, 0)
    text = json.dumps(sent, separators=(",", ":"), ensure_ascii=False)
    if len(text.encode()) > MAX_CRITERIA_BYTES:
        _fail(path, f"longer than {MAX_CRITERIA_BYTES} bytes as compact JSON", "criteria_too_large")
    return Criteria(tree, text)


class _Reader:
    def __init__(self) -> None:
        self.terms = 0
        self.index_days = 0

    def node(self, sent: Any, path: Path, depth: int) -> Node:
        if not isinstance(sent, list) or not sent or not isinstance(sent[0], str):
            _fail(path, "expected an array whose first element names a combination or a term")
        head = sent[0]
        if head in ("and", "or", "not"):
            if depth >= MAX_DEPTH:
                _fail(path, f"nested more than {MAX_DEPTH} levels deep", "criteria_too_deep")
            if head == "not":
                if len(sent) != 2:
                    _fail(path, "'not' takes exactly one part")
                return Not(self.node(sent[1], (*path, 1), depth + 1))
            if len(sent) < 2:
                _fail(path, f"'{head}' takes at least one part")
            return Combination(head, tuple(self.node(p, (*path, i), depth + 1) for i, p in enumerate(sent[1:], 1)))
        self.terms += 1
        if self.terms > MAX_TERMS:
            _fail(path, f"more than {MAX_TERMS} terms", "criteria_too_large")
        kind, colon, name = head.partition(":")
        if kind == "member_since" and not colon:
            return SinceTerm(self.window(sent[1] if len(sent) > 1 else None, sent[2:], _at(path), SINCE_UNITS))
        if kind == "member_field" and colon:
            return self.field(sent, path, _name(name, (*path, 0)))
        if kind in ("event", "event_count", "event_value") and colon:
            return self.event(sent, path, kind, _name(name, (*path, 0)))
        _fail((*path, 0), f"unknown term {head[:100]!r}", "criteria_term")

    def field(self, sent: list[Any], path: Path, name: str) -> FieldTerm:
        if len(sent) != 3 or sent[1] not in ("eq", "contains", "in"):
            _fail((*path, 1), "a member_field term is [name, 'eq' | 'contains' | 'in', value]")
        operator, value = sent[1], sent[2]
        if operator == "in":
            if not isinstance(value, list) or not 0 < len(value) <= MAX_VALUES:
                _fail((*path, 2), f"'in' takes a list of 1 to {MAX_VALUES} values")
            values = tuple(_scalar(v, (*path, 2, i)) for i, v in enumerate(value))
        elif operator == "contains":
            if not isinstance(value, str) or not value or len(value) > MAX_TEXT:
                _fail((*path, 2), f"'contains' takes a text of 1 to {MAX_TEXT} characters")
            values = (_text(value, (*path, 2)),)
        else:
            values = (_scalar(value, (*path, 2)),)
        return FieldTerm(name, operator, values)

    def event(self, sent: list[Any], path: Path, measure: str, name: str) -> EventTerm:
        if measure == "event":
            window = self.window(sent[1], sent[2:], _at(path), UNITS) if len(sent) > 1 else None
            return EventTerm(path, measure, name, window=window)
        if len(sent) < 3 or not isinstance(sent[1], str) or sent[1] not in OPERATORS:
            _fail((*path, 1), f"an {measure} term is [name, 'eq' | 'gt' | 'lt' | 'between', number(s), window?]")
        operator = sent[1]
        arity = OPERATORS[operator]
        bounds = tuple(_number(v, (*path, 2 + i), measure) for i, v in enumerate(sent[2 : 2 + arity]))
        if len(bounds) != arity:
            _fail((*path, 1), f"'{operator}' takes {arity} number(s)")
        if operator == "between" and bounds[0] > bounds[1]:
            _fail((*path, 3), "the second bound is below the first")
        rest = sent[2 + arity :]
        window = None
        if len(rest) > 1:
            _fail((*path, 3 + arity), "unexpected element")
        if rest:
            where, bound = (*path, 2 + arity), rest[0]
            if not isinstance(bound, dict) or len(bound) != 1 or next(iter(bound)) not in ("in last", "between"):
                _fail(where, "a window is {'in last': interval} or {'between': [day, day]}")
            ((how, what),) = bound.items()
            args = what if how == "between" and isinstance(what, list) else [what]
            at = [where, (*where, how)] if how == "in last" else [where, (*where, how, 0), (*where, how, 1)]
            window = self.window(how, args, at, UNITS)
        return EventTerm(path, measure, name, operator, bounds, window)

    def window(self, how: Any, args: list[Any], at: list[Path], units: dict[str, int]) -> Window:
        """``how`` (``in last`` or ``between``) and its arguments, found at the paths ``at`` (the first: ``how``'s
        own, for an error of the whole)."""
        if how == "in last" and len(args) == 1:
            interval = args[0]
            if not isinstance(interval, dict) or len(interval) != 1 or next(iter(interval)) not in units:
                _fail(at[1], "an interval is {'day' | 'week' | 'month' | 'year': N}")
            ((unit, amount),) = interval.items()
            if type(amount) is not int or not 0 < amount <= units[unit]:
                _fail((*at[1], unit), f"N is a whole number from 1 to {units[unit]}")
            window, days = Window(unit, amount), span(unit, amount)
        elif how == "between" and len(args) == 2:
            first, last = _day(args[0], at[1]), _day(args[1], at[2])
            if last < first:
                _fail(at[2], "the last day is before the first")
            days = (last - first).days + 1
            if units is UNITS and days > MAX_WINDOW_DAYS:
                _fail(at[2], f"an event term's window is at most {MAX_WINDOW_DAYS} days")
            window = Window(first=first, last=last)
        else:
            _fail(at[0], "expected 'in last' and an interval, or 'between' and two days (YYYY-MM-DD)")
        if units is UNITS:
            self.index_days += days
            if self.index_days > MAX_INDEX_DAYS:
                _fail(at[0], f"the event terms' windows span more than {MAX_INDEX_DAYS} days", "criteria_too_large")
        return window


def _at(path: Path) -> list[Path]:
    """Where a term's window is: its ``in last`` or ``between`` (element 1), then the arguments (2 and 3)."""
    return [(*path, 1), (*path, 2), (*path, 3)]


def _name(name: str, path: Path) -> str:
    name = unicodedata.normalize("NFC", _text(name, path).strip())
    if not name or len(name) > 255:
        _fail(path, "the name after the colon is 1 to 255 characters")
    return name


def _text(value: str, path: Path) -> str:
    """A text DynamoDB can store and a log can show: no control character, no lone surrogate."""
    if any(ord(c) < 0x20 or ord(c) == 0x7F or 0xD800 <= ord(c) <= 0xDFFF for c in value):
        _fail(path, "a text holds no control character nor lone surrogate")
    return value


def _scalar(value: Any, path: Path) -> Any:
    if isinstance(value, str) and len(value) <= MAX_TEXT:
        return _text(value, path)
    if isinstance(value, bool | int) or value is None or (isinstance(value, float) and math.isfinite(value)):
        return value
    _fail(path, f"a field's value is a text of at most {MAX_TEXT} characters, a finite number, true, false or null")


def _number(value: Any, path: Path, measure: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float):
        _fail(path, "expected a number")
    amount = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    if not amount.is_finite() or abs(amount) > Decimal("1e30"):
        _fail(path, "expected a number of at most 1e30")
    if measure == "event_count" and amount != amount.to_integral_value():
        _fail(path, "a count is a whole number")
    return amount


def _day(value: Any, path: Path) -> date:
    try:
        if not isinstance(value, str) or not _DAY.fullmatch(value):
            raise ValueError
        day = date.fromisoformat(value)
    except ValueError:
        _fail(path, "expected a day, YYYY-MM-DD")
    if not FIRST_DAY <= day <= LAST_DAY:
        _fail(path, "a day is from 1970-01-01 to 9998-12-31")
    return day

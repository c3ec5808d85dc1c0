"""A search's members: its criteria evaluated over the ``MembersByType`` index and the members' items, at a cost
that grows with the answer and the windows, not with the account's history (docs/api.md, "Searches").

Each part of the criteria is a set of member ids, or the complement of one (``Found``): ``not`` turns one into the
other without reading anything, and ``and``/``or`` combine them as sets. Only an answer that is still a complement
at the top, or a ``member_since``/``member_field`` term outside an ``and`` that holds a set, reads the account's
members (the ``Members`` index). An event term reads the index's key of each day of its window (one Query each,
side by side) or its all-time key; a count or value reads, for the members found there, their month items of the
window's months or their totals items (BatchGetItem). The answer's members are read (BatchGetItem): a member
deleted whose events are not yet is left out, and so are the terms of a type deleted (its name names no type).
"""

from __future__ import annotations

import json
import threading
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from functools import partial
from typing import Any, Protocol

from emma_events import counts, keys, sums
from emma_events.criteria import Combination, EventTerm, FieldTerm, Node, Not, SinceTerm
from emma_events.dates import Window, from_storage
from emma_events.deadline import ATTEMPT_WORST_CASE_S, seconds_left
from emma_events.dynamo import Item
from emma_events.errors import SearchTooLarge


class Source(Protocol):
    """What an evaluation reads (search_store.SearchStore); ``budget`` is spent on every item read."""

    def type_ids(self, account_id: int, names: Iterable[str]) -> dict[str, int]: ...
    def index_members(self, account_id: int, keys_: list[str], budget: Budget) -> list[set[int]]: ...
    def items(self, wanted: list[Item], budget: Budget) -> dict[tuple[str, str], Item]: ...
    def members(self, account_id: int, ids: Iterable[int], budget: Budget, fields: bool) -> dict[int, Item]: ...
    def every_member(self, account_id: int, budget: Budget, fields: bool) -> dict[int, Item]: ...


class Budget:
    """What one run may read in all (index entries, members, count items; a member by its fields' size too) and
    the time it may take: past either, ``SearchTooLarge`` (a 422) rather than a function out of memory or time.
    ``check`` before each read, ``spend`` what it read."""

    #: Time kept for what follows the evaluation (the page's members and the run's record, or the mark that sends
    #: it outside the request): the client starts no attempt with less than ``ATTEMPT_WORST_CASE_S`` left.
    RESERVE_S = ATTEMPT_WORST_CASE_S + 1.5

    def __init__(self, limit: int) -> None:
        self.limit, self.spent = limit, 0
        self._lock = threading.Lock()

    def check(self) -> None:
        left = seconds_left()
        if self.spent > self.limit or (left is not None and left < self.RESERVE_S):
            raise SearchTooLarge(
                f"The search reads more than one run may ({self.limit:,} items, or the time of a request): narrow "
                'it (an event term\'s window, an `and` with an event term) (docs/api.md, "Searches").'
            )

    def spend(self, items: int) -> None:
        with self._lock:
            self.spent += items
        self.check()


@dataclass(frozen=True)
class Found:
    """The members ``ids``, or (``outside``) every member but them."""

    ids: frozenset[int]
    outside: bool = False

    def negated(self) -> Found:
        return Found(self.ids, not self.outside)


NOBODY = Found(frozenset())


def both(a: Found, b: Found) -> Found:
    if not a.outside and not b.outside:
        return Found(a.ids & b.ids)
    if a.outside and b.outside:
        return Found(a.ids | b.ids, True)
    inside, outside = (b, a) if a.outside else (a, b)
    return Found(inside.ids - outside.ids)


def either(a: Found, b: Found) -> Found:
    return both(a.negated(), b.negated()).negated()


class Evaluation:
    """One evaluation of one account's criteria, ``today`` (UTC) deciding the ``in last`` windows."""

    def __init__(self, source: Source, account_id: int, today: date, type_names: Iterable[str], budget: Budget) -> None:
        self.source, self.account_id, self.today, self.budget = source, account_id, today, budget
        self.types = source.type_ids(account_id, type_names)
        self._members: dict[int, Item] = {}
        self.fields = True
        self._everyone: dict[int, Item] | None = None

    def members(self, tree: Node) -> list[Item]:
        """The members the criteria match, by id: their items (id, status, date; fields where a term reads them)."""
        self.fields = _reads_fields(tree)
        found = self.found(tree)
        if found.outside:
            everyone = self.everyone()
            return [everyone[i] for i in sorted(set(everyone) - found.ids)]
        read = self.read_members(found.ids)
        return [read[i] for i in sorted(found.ids) if i in read]

    def found(self, node: Node) -> Found:
        if isinstance(node, Not):
            return self.found(node.part).negated()
        if isinstance(node, Combination):
            return self._combined(node)
        if isinstance(node, EventTerm):
            return self._event(node)
        return self._filtered(node, None)

    def _combined(self, node: Combination) -> Found:
        filters = [p for p in node.parts if isinstance(p, SinceTerm | FieldTerm)] if node.operator == "and" else []
        result: Found | None = None
        for part in node.parts:
            if any(part is f for f in filters):
                continue
            found = self.found(part)
            result = found if result is None else (both if node.operator == "and" else either)(result, found)
        for term in filters:  # on the members found, when they are a set; else over every member
            within = None if result is None or result.outside else result.ids
            found = self._filtered(term, within)
            result = found if result is None else both(result, found)
        assert result is not None
        return result

    # ---- member terms ---------------------------------------------------------------------------------------

    def _filtered(self, term: SinceTerm | FieldTerm, within: frozenset[int] | None) -> Found:
        members = self.everyone() if within is None else self.read_members(within)
        test = partial(_since, term.window, self.today) if isinstance(term, SinceTerm) else partial(_field, term)
        return Found(frozenset(i for i, item in members.items() if test(item)))

    def read_members(self, ids: Iterable[int]) -> dict[int, Item]:
        if self._everyone is not None:
            return {i: self._everyone[i] for i in ids if i in self._everyone}
        missing = [i for i in ids if i not in self._members]
        self._members |= self.source.members(self.account_id, missing, self.budget, self.fields)
        return {i: self._members[i] for i in ids if i in self._members}

    def everyone(self) -> dict[int, Item]:
        if self._everyone is None:
            self._everyone = self.source.every_member(self.account_id, self.budget, self.fields)
        return self._everyone

    # ---- event terms ----------------------------------------------------------------------------------------

    def _event(self, term: EventTerm) -> Found:
        type_id = self.types.get(term.type_name)
        if type_id is None:  # a type deleted since the search was saved: none of its events count
            return NOBODY.negated() if term.measure != "event" and term.accepts(Decimal(0)) else NOBODY
        days = _days(term.window, self.today)
        wanted = [None] if days is None else [f"{day}" for day in days]
        index = [keys.members_by_type_pk(self.account_id, type_id, day) for day in wanted]
        candidates = frozenset().union(*self.source.index_members(self.account_id, index, self.budget))
        if term.measure == "event":
            return Found(candidates)
        amounts = self._amounts(term, type_id, candidates, days)
        passing = frozenset(m for m in candidates if term.accepts(amounts.get(m, Decimal(0))))
        if term.accepts(Decimal(0)):  # members without such events match too: all but those that fail
            return Found(candidates - passing, True)
        return Found(passing)

    def _amounts(
        self, term: EventTerm, type_id: int, members: frozenset[int], days: list[date] | None
    ) -> dict[int, Decimal]:
        """Each member's count or value of the type's events: in the window's days (its month items' day entries),
        or of all time (its totals item)."""
        scope = counts.scope_of(type_id)
        if days is None:
            periods: dict[str, list[str]] = {counts.totals_sk(scope): [""]}
        else:
            periods = {}
            for day in days:
                periods.setdefault(counts.count_sk(scope, f"M#{day:%Y-%m}"), []).append(f"d{day:%d}")
        wanted = [
            {keys.PK: {"S": keys.member_pk(self.account_id, m)}, keys.SK: {"S": sk}} for m in members for sk in periods
        ]
        read = self.source.items(wanted, self.budget)
        amounts: dict[int, Decimal] = {}
        for m in members:
            pk = keys.member_pk(self.account_id, m)
            found = [(read[(pk, sk)], entries) for sk, entries in periods.items() if (pk, sk) in read]
            if term.measure == "event_count":
                amounts[m] = Decimal(
                    sum(
                        int(item.get(entry or counts.TOTAL, {}).get("N", 0))
                        for item, entries in found
                        for entry in entries
                    )
                )
            else:  # the bands of every entry added at once: exact (sums.py)
                amounts[m] = sums.add(
                    pair
                    for item, entries in found
                    for entry in entries
                    for pair in sums.banded(item, entry + counts.VALUE)
                )
        return amounts


def _reads_fields(node: Node) -> bool:
    if isinstance(node, FieldTerm):
        return True
    if isinstance(node, Combination):
        return any(_reads_fields(part) for part in node.parts)
    return isinstance(node, Not) and _reads_fields(node.part)


def _days(window: Window | None, today: date) -> list[date] | None:
    if window is None:
        return None
    first, last = window.days(today)
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def _since(window: Window, today: date, item: Item) -> bool:
    first, last = window.days(today)
    return first <= from_storage(item["member_since"]["S"]).date() <= last


def _field(term: FieldTerm, item: Item) -> bool:
    fields = _fields(item)
    if term.name not in fields:
        return False
    value = fields[term.name]
    if term.operator == "contains":
        return isinstance(value, str) and _folded(term.values[0]) in _folded(value)
    return any(_same(value, wanted) for wanted in term.values)


def _fields(item: Item) -> dict[str, Any]:
    """The member's fields, parsed once per evaluation (kept beside the item)."""
    parsed = item.get("_fields")
    if parsed is None:
        parsed = item["_fields"] = json.loads(item.get("fields", {}).get("S", "{}"))
    return parsed


def _same(value: Any, wanted: Any) -> bool:
    """Emma compares fields' texts without regard to case; numbers by value, true and false as themselves."""
    if isinstance(value, str) and isinstance(wanted, str):
        return _folded(value) == _folded(wanted)
    if isinstance(value, bool) or isinstance(wanted, bool):
        return value is wanted
    return value == wanted


def _folded(text: str) -> str:
    return unicodedata.normalize("NFC", text).casefold()

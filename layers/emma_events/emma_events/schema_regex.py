"""What a pattern's regex can cost a string, read from the pattern: its positions (each character or class once
counted repetitions are written out), whether it is anchored at the start, whether it repeats without bound.

jsonschema-rs translates a pattern (ECMA-262) to the ``regex`` crate's syntax, whose engines match in time linear
in the string; the factor is the pattern's. The reading here is deliberately coarse and errs high: alternatives
add up, a class of multi-byte characters counts as many positions as a character may take bytes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache


class TooCostly(ValueError):
    """A schema, or one of its parts, past a bound."""


#: What regexes cost, measured with headroom (``make bench``). A pattern anchored at the start (``^``) reads a
#: string only while the string can still match: up to its bounded part's positions, one step (at most
#: ``REGEX_STEP_NS``) a byte. Past an unbounded repetition (or anywhere, unanchored) it may read the whole
#: string: its lazy DFA, once built, ~``REGEX_DFA_NS`` a byte; a DFA that can outgrow its 1 MB cache (more than
#: ``DFA_SAFE_POSITIONS`` positions there: seen from 14) gives up and simulates the NFA instead, ~
#: ``REGEX_NFA_NS`` plus ``REGEX_STEP_NS`` per position, a byte.
DFA_SAFE_POSITIONS = 12
REGEX_CALL_NS = 50
REGEX_STEP_NS = 15
REGEX_DFA_NS = 4
REGEX_NFA_NS = 250
REGEX_POSITION_NS = 4
#: A pattern's positions (characters and classes once counted repetitions are written out; a class of
#: multi-byte characters counts 4, the most bytes a character takes), and a counted repetition's count, at most.
MAX_POSITIONS = 1000
MAX_REPEAT = 1000
WIDE = 4
#: What a position costs once compiled (KB, measured with headroom): an ASCII character or class; one that may
#: match multi-byte characters; a Unicode property class (``\\p{L}``: thousands of ranges, ~50 KB and ~0.2 ms).
ASCII_KB, WIDE_KB, PROPERTY_KB = 0.5, 2.0, 64.0
#: What one pattern may compile to (the regex engine's own limit, set for each), and its lazy DFA's cache.
MAX_REGEX_KB = 256


@dataclass(frozen=True)
class Regex:
    positions: int
    #: Positions from the first part that can match in more than one way on (a repetition of a varying count, an
    #: alternation), where a DFA may need a state per combination; all of them when the pattern is not anchored.
    risky: int
    #: What it compiles to, at most.
    compiled_kb: float

    @property
    def ns_per_string(self) -> int:
        return REGEX_CALL_NS

    @property
    def ns_per_byte(self) -> int:
        fixed = REGEX_STEP_NS if self.risky < self.positions else 0
        if not self.risky:
            return fixed
        if self.risky <= DFA_SAFE_POSITIONS:
            return fixed + REGEX_DFA_NS
        return fixed + REGEX_NFA_NS + REGEX_POSITION_NS * self.risky

    @property
    def memory_kb(self) -> float:
        """Compiled, and its lazy DFA's cache at its limit when the DFA can outgrow it."""
        return self.compiled_kb + (MAX_REGEX_KB if self.risky > DFA_SAFE_POSITIONS else 0)


@lru_cache(maxsize=256)
def regex(pattern: str) -> Regex:
    """What a pattern (ECMA-262, as jsonschema-rs reads it) can cost; ``TooCostly`` past the bounds."""
    parser = _Parser(pattern)
    total, kb = parser.alternation()
    total = max(total, 1)
    shown = json.dumps(pattern)[:60]
    if total > MAX_POSITIONS:
        raise TooCostly(f"pattern {shown} has {total} positions, more than {MAX_POSITIONS}")
    if kb > MAX_REGEX_KB:
        raise TooCostly(f"pattern {shown} could compile to {kb:,.0f} KB, more than {MAX_REGEX_KB} KB")
    if not parser.anchored or (parser.branches > 1 and parser.risky_from is not None):
        return Regex(total, total, kb)
    return Regex(total, 0 if parser.risky_from is None else total - parser.risky_from, kb)


class _Parser:
    """Counts a regex's positions and what they compile to, reading only what it needs: groups, classes,
    escapes, repetitions. Each part is (positions, KB)."""

    def __init__(self, text: str) -> None:
        self.text, self.index = text, 0
        self.anchored, self.varying, self.branches = True, False, 1
        #: Positions before the top-level part holding the first that can match in more than one way.
        self.risky_from: int | None = None

    def alternation(self, depth: int = 0) -> tuple[int, float]:
        total, kb, start_of_branch = 0, 0.0, True
        while self.index < len(self.text):
            char = self.text[self.index]
            if char == ")" and depth:
                self.index += 1
                return total, kb
            if char == "|":
                self.index, start_of_branch = self.index + 1, True
                self.branches += depth == 0
                self.varying = self.varying or depth > 0
                continue
            if start_of_branch and depth == 0 and not self.text.startswith(("^", "\\A"), self.index):
                self.anchored = False
            start_of_branch, before, varying_before = False, total, self.varying
            last, last_kb = self._atom(depth)
            while self.index < len(self.text) and (count := self._repeat()) is not None:
                last, last_kb = last * count, last_kb * count
            total, kb = total + last, kb + last_kb
            if depth == 0 and self.varying and not varying_before:
                self.risky_from = before
        return total, kb

    def _atom(self, depth: int) -> tuple[int, float]:
        text, char = self.text, self.text[self.index]
        if char == "(":
            self.index += 1
            if text.startswith(("?P<", "?<"), self.index):  # a named group
                self.index = (text.find(">", self.index) + 1) or len(text)
            elif text.startswith("?", self.index):  # (?:  (?i:  or flags alone, (?i)
                end = self.index
                while end < len(text) and text[end] not in ":)":
                    end += 1
                self.index = end + 1
                if text[end : end + 1] == ")":
                    return 0, 0.0
            return self.alternation(depth + 1)
        if char == "[":
            return self._class()
        if char == "\\":
            start, escaped = self.index, text[self.index + 1 : self.index + 2]
            end = start + 2
            if escaped in "pPxuk" and text.startswith("{", end):
                end = (text.find("}", end) + 1) or len(text)
            elif escaped in ("x", "u"):
                end += 2 if escaped == "x" else 4  # \xHH, \uHHHH
            self.index = end
            if escaped in ("p", "P"):
                return WIDE, PROPERTY_KB
            if escaped in ("x", "u") and _code(text[start:end]) > 0x7F:
                return WIDE, WIDE_KB
            if escaped in ("D", "W", "S", "s"):
                return WIDE, WIDE_KB
            return (0, 0.0) if escaped in ("b", "B", "A", "z", "Z") else (1, ASCII_KB)
        self.index += 1
        if char in "^$":
            return 0, 0.0
        return (WIDE, WIDE_KB) if char == "." or not char.isascii() else (1, ASCII_KB)

    def _class(self) -> tuple[int, float]:
        text, index, depth, wide, kb = self.text, self.index + 1, 1, False, ASCII_KB
        if text.startswith("^", index):
            index, wide = index + 1, True
        if text.startswith("]", index):
            index += 1
        while index < len(text) and depth:
            char = text[index]
            if char == "\\":
                escaped = text[index + 1 : index + 2]
                wide = wide or escaped in ("p", "P", "D", "W", "S", "s", "x", "u")  # a code point: maybe beyond ASCII
                kb = PROPERTY_KB if escaped in ("p", "P") else kb
                index += 1
            elif char == "[":
                depth += 1
            elif char == "]":
                depth -= 1
            wide = wide or not char.isascii()
            index += 1
        self.index = index
        return (WIDE, max(kb, WIDE_KB)) if wide else (1, kb)

    def _repeat(self) -> int | None:
        """The count of a repetition at the cursor (a bounded one's upper bound, an unbounded one's lower bound
        plus one), the cursor moved past it; None when there is none."""
        text, index = self.text, self.index
        char = text[index]
        if char in "*+?":
            count, end = 1, index + 1
            self.varying = True
        elif char == "{":
            close = text.find("}", index)
            low, comma, high = (text[index + 1 : close] if close > 0 else "").partition(",")
            if not (low.strip().isdigit() and (not high.strip() or high.strip().isdigit())):
                return None
            count = int(high) if high.strip() else int(low) + bool(comma)
            if max(int(low), count) > MAX_REPEAT:
                raise TooCostly(f"a counted repetition {text[index : close + 1]} repeats more than {MAX_REPEAT} times")
            self.varying = self.varying or bool(comma and (not high.strip() or int(high) != int(low)))
            end = close + 1
        else:
            return None
        self.index = end + (end < len(text) and text[end] in "?+")  # lazy or possessive
        return max(count, 1)


def _code(escape: str) -> int:
    """The code point of ``\\xHH``, ``\\uHHHH``, ``\\x{H...}`` or ``\\u{H...}``; past ASCII when unreadable."""
    digits = escape[2:].strip("{}")[:8] if "{" in escape else escape[2:]
    try:
        return int(digits, 16)
    except ValueError:
        return 0x80

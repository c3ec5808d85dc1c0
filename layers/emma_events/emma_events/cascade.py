"""The cascade delete of a parent's events (an event type's or a member's), one bounded step per invocation.

A step deletes pages of the parent's events, its ranges in parallel (a type's 16 ``ByType`` keys, each written by
its own members, and the one key of releases before: ``CascadeStore.ranges``), until the invocation's remaining
time falls under a margin, then checkpoints each range's position in the parent's cursor item; that item's stream
record invokes the next step. A cascade ends after a whole pass over the parent's events finds none left; for a
type, that pass started no earlier than ``index_lag_s`` after the cascade's first step (which follows the
removal): a POST that checked its events against the type before the removal may write them up to its function's
timeout later, and a global secondary index is eventually consistent, so they may show up in the index later
still. Until then, a pass that finds nothing waits (within the invocation's time) and passes again. After a pass
that deleted events, one more pass from the start verifies. Every step is idempotent: a retried or duplicated
record deletes what is left and nothing else.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

from emma_events import counts, keys
from emma_events.cascade_store import LEGACY, CascadeStore
from emma_events.domain import CascadeState, Parent
from emma_events.dynamo import Item

PARENT_ENTITIES = ("event_type", "member")
#: Where a range's pass has ended (``CascadeState.position`` maps each range to it or to the next read's start).
END = "end"
ID_ATTRIBUTE = {"event_type": "event_type_id", "member": "member_id"}


class Context(Protocol):
    def get_remaining_time_in_millis(self) -> int: ...


@dataclass(frozen=True, slots=True)
class StepResult:
    parent: Parent
    deleted: int  # in this step
    total: int  # in the whole cascade so far
    step: int
    done: bool
    duration_ms: float


def removed_parent(old_image: Item | None, new_image: Item | None) -> Parent | None:
    """The parent a stream record removes, or None when the record is not a parent's removal."""
    if new_image or not old_image:
        return None
    entity = old_image.get("entity", {}).get("S")
    if entity not in PARENT_ENTITIES:
        return None
    return Parent(entity, int(old_image["account_id"]["N"]), int(old_image[ID_ATTRIBUTE[entity]]["N"]))


def cursor_state(new_image: Item | None) -> CascadeState | None:
    """The state of a cascade whose cursor item this record writes, else None."""
    if not new_image or new_image.get("entity", {}).get("S") != "cascade":
        return None
    return CascadeStore.cascade_of(new_image)


def _positions(state: CascadeState) -> dict[str, Any]:
    """Each range's position; a cursor saved by a release before holds one position, of the range ``*``."""
    if state.position is None:
        return {}
    return {LEGACY: state.position} if keys.PK in state.position else dict(state.position)


class Cascade:
    def __init__(
        self,
        store: CascadeStore,
        *,
        time_margin_ms: int,
        page_size: int = 1000,
        index_lag_s: float = 0.0,
        parallel: bool = True,
    ) -> None:
        self.store = store
        self.parallel = parallel  # False: one range after another (the benchmark's reference)
        self._failed = threading.Event()  # a range of this step failed: the others stop
        self.time_margin_ms = time_margin_ms
        self.page_size = page_size
        self.index_lag_s = index_lag_s

    def start(self, parent: Parent, context: Context) -> StepResult:
        """The first step. The removal happened before it, so the index has settled ``index_lag_s`` after it
        started (the stream record's ``ApproximateCreationDateTime`` is too coarse for this: whole seconds on
        DynamoDB, whole minutes on DynamoDB Local)."""
        settled_at = time.time()  # a member's partition is read strongly consistent, and no POST writes after it
        if parent.kind == "event_type":  # no count is settled sooner after the removal (counts.SETTLE_AFTER_S)
            self._wait_until(time.time() + counts.SETTLE_AFTER_S, context)
            settled_at = time.time() + self.index_lag_s
        return self.step(CascadeState(parent, None, 0, 0, 0, settled_at), context)

    def step(self, state: CascadeState, context: Context) -> StepResult:
        started = time.monotonic()
        self._failed.clear()  # a step after a failed one (the stream's retry) starts afresh
        parent, positions, pass_deleted, deleted = state.parent, _positions(state), state.pass_deleted, 0
        pass_started_at = state.pass_started_at if positions else time.time()
        ranges = self.store.ranges(parent)
        while True:
            open_ranges = [(part, positions.get(part)) for part in ranges if positions.get(part) != END]
            workers = len(open_ranges) if self.parallel else 1
            with ThreadPoolExecutor(max_workers=workers) as pool:  # ranges share no key: in parallel
                drained = pool.map(lambda at: self._drain(parent, at[0], at[1], context), open_ranges)
                for (part, _), (position, events, found) in zip(open_ranges, drained, strict=True):
                    positions[part] = position
                    deleted += events
                    pass_deleted += found
            if any(position != END for position in positions.values()):
                break  # out of time in some range
            # the end of a pass
            if pass_deleted == 0 and pass_started_at >= state.settled_at:
                self.store.finish_cascade(parent)
                return self._result(state, deleted, True, started)
            positions = {}
            if pass_deleted == 0 and self._wait_until(state.settled_at, context):
                pass_started_at = time.time()  # a pass the index has settled for: it may end the cascade
                continue
            pass_deleted = 0  # verify with a fresh pass, in the next step
            break
        self.store.save_cascade(
            CascadeState(
                parent,
                positions or None,
                state.deleted + deleted,
                pass_deleted,
                state.steps + 1,
                state.settled_at,
                pass_started_at if positions else 0.0,
            )
        )
        return self._result(state, deleted, False, started)

    def _drain(
        self, parent: Parent, part: str, position: dict[str, Any] | None, context: Context
    ) -> tuple[dict[str, Any] | str, int, int]:
        """Delete one range's pages from ``position`` until its end (``END``) or the invocation's time runs out
        (at least one page, so that every step makes progress): where it stopped, the events deleted and every
        key deleted (count items too). A range that fails stops the others at their next page (the step fails
        and is retried: what was deleted stays deleted)."""
        try:
            return self._drain_range(parent, part, position, context)
        except BaseException:
            self._failed.set()
            raise

    def _drain_range(
        self, parent: Parent, part: str, position: dict[str, Any] | None, context: Context
    ) -> tuple[dict[str, Any] | str, int, int]:
        events = found_keys = 0
        while True:
            read_from = position
            found, position = self.store.parent_event_keys(parent, part, position, self.page_size)
            if parent.kind == "event_type":  # before the deletes: a retried step finds these members again
                members = {key[keys.PK]["S"] for key in found}
                if not self.store.settle_counts(parent, members, lambda: self._time_left(context)):
                    return read_from or {}, events, found_keys  # out of time: this page again, in the next step
            self.store.delete_keys(found)
            events += sum(key[keys.SK]["S"].startswith(keys.EVENT_PREFIX) for key in found)  # not count items
            found_keys += len(found)
            if position is None:
                return END, events, found_keys
            if not self._time_left(context):
                return position, events, found_keys

    def _time_left(self, context: Context) -> bool:
        return not self._failed.is_set() and context.get_remaining_time_in_millis() > self.time_margin_ms

    def _wait_until(self, moment: float, context: Context) -> bool:
        """Sleep until ``moment`` (epoch seconds) if the invocation has the time for it; whether it did."""
        wait_ms = (moment - time.time()) * 1000
        if wait_ms > context.get_remaining_time_in_millis() - self.time_margin_ms:
            return False
        time.sleep(max(wait_ms, 0) / 1000)
        return True

    @staticmethod
    def _result(state: CascadeState, deleted: int, done: bool, started: float) -> StepResult:
        duration = (time.monotonic() - started) * 1000
        return StepResult(state.parent, deleted, state.deleted + deleted, state.steps + 1, done, duration)


def describe(result: StepResult) -> dict[str, Any]:
    """The fields of the structured log line of a step."""
    return {
        "parent_kind": result.parent.kind,
        "account_id": result.parent.account_id,
        "parent_id": result.parent.parent_id,
        "deleted": result.deleted,
        "total_deleted": result.total,
        "step": result.step,
        "done": result.done,
        "duration_ms": round(result.duration_ms, 1),
    }

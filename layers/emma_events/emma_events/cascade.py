"""The cascade delete of a parent's events (an event type's or a member's), in ranges deleted side by side.

A removal's stream record starts the cascade (``start``): its item names the parent's ranges (a type's 16 ``ByType``
keys, each written by its own members, and the one key of releases before; a member's partition:
``CascadeStore.ranges``), and one cursor item per range, in a partition of its own, starts that range's chain of
steps. A step deletes pages of its range until the invocation's remaining time falls under a margin (at most
``key_writes_per_s`` keys a second: a range's keys share one index key, whose partition takes 1,000 writes a
second), then checkpoints its position in the range's cursor item, whose stream record starts the next step. A
range ends after a whole pass finds none of its events left; for a type, that pass started no earlier than
``index_lag_s`` after the cascade's start (which follows the removal): a POST that checked its events against the
type before the removal may write them up to its function's timeout later, and a global secondary index is
eventually consistent, so they may show up in the index later still. Until then, a range whose pass finds
nothing joins the cascade's waiting ranges, and the step after which no range runs any more waits once for all of
them, then starts their passes again; after a pass that deleted events, one more pass verifies. The range that
finishes last finishes the cascade. Every step is idempotent: a retried or duplicated record deletes
what is left and nothing else, and its chain stops at its checkpoint (``CascadeStore.save_cascade``).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Protocol

from emma_events import counts, keys
from emma_events.cascade_store import CascadeStore
from emma_events.domain import CascadeState, Parent
from emma_events.dynamo import Item

PARENT_ENTITIES = ("event_type", "member")
ID_ATTRIBUTE = {"event_type": "event_type_id", "member": "member_id"}


class Context(Protocol):
    def get_remaining_time_in_millis(self) -> int: ...


@dataclass(frozen=True, slots=True)
class StepResult:
    parent: Parent
    part: str | None  # the range; None: the cascade's start
    deleted: int  # in this step
    total: int  # in the range so far; when done, in the whole cascade
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


class Cascade:
    def __init__(
        self,
        store: CascadeStore,
        *,
        time_margin_ms: int,
        page_size: int = 1000,
        index_lag_s: float = 0.0,
        key_writes_per_s: float = 0.0,
    ) -> None:
        self.store = store
        self.time_margin_ms = time_margin_ms
        self.page_size = page_size
        self.index_lag_s = index_lag_s
        self.key_writes_per_s = key_writes_per_s  # 0: no pacing (no emulator throttles)

    def start(self, parent: Parent, context: Context) -> StepResult:
        """Write the cascade's item and its ranges' cursors. The removal happened before, so the index has settled
        ``index_lag_s`` after now (the stream record's ``ApproximateCreationDateTime`` is too coarse for this:
        whole seconds on DynamoDB, whole minutes on DynamoDB Local)."""
        started = time.monotonic()
        settled_at = time.time()  # a member's partition is read strongly consistent, and no POST writes after it
        if parent.kind == "event_type":  # no count is settled sooner after the removal (counts.SETTLE_AFTER_S)
            self._wait_until(time.time() + counts.SETTLE_AFTER_S, context)
            settled_at = time.time() + self.index_lag_s
        self.store.begin(parent, settled_at)
        return StepResult(parent, None, 0, 0, 0, False, (time.monotonic() - started) * 1000)

    def step(self, state: CascadeState, context: Context) -> StepResult:
        """One step of a range: delete from where the last one stopped until the range is done or the time is up."""
        started = time.monotonic()
        parent, part, position = state.parent, state.part, state.position
        if part is None:  # the one cursor of a release before: the cascade starts again, in ranges
            self.store.begin(parent, state.settled_at)
            return StepResult(parent, None, 0, 0, state.steps, False, (time.monotonic() - started) * 1000)
        deleted, pass_deleted = 0, state.pass_deleted
        pass_started_at = state.pass_started_at if position is not None else time.time()
        while True:
            position, ended, events, found = self._drain(parent, part, position, context)
            deleted += events
            pass_deleted += found
            if not ended:
                break  # out of time
            done = state._replace(deleted=state.deleted + deleted)
            if pass_deleted == 0:  # a settled pass that found nothing ends the range; an earlier one waits for it
                if pass_started_at >= state.settled_at:
                    total, waiting = self.store.finish_range(done)
                else:  # not holding its stream lane
                    total, waiting = None, self.store.wait_range(done)
                if waiting:  # no range runs any more: this step waits, once for all, then their final passes
                    self._wait_until(state.settled_at, context)  # or sooner: they pass again, and come back
                    self.store.wake(parent, waiting, state.settled_at)
                return self._result(state, deleted, total, started)
            if not self._time_left(context):
                pass_deleted = 0
                break  # the next step verifies
            pass_deleted, pass_started_at = 0, time.time()
        saved = self.store.save_cascade(
            CascadeState(
                parent,
                position,
                state.deleted + deleted,
                pass_deleted,
                state.steps + 1,
                state.settled_at,
                pass_started_at if position is not None else 0.0,
                part,
                state.chain,
            ),
            state.steps,
        )
        if not saved and (waiting := self.store.waking(parent)):  # a step retried after its range began waiting
            self.store.wake(parent, waiting, state.settled_at)
        return self._result(state, deleted, None, started)

    def _drain(
        self, parent: Parent, part: str, position: dict[str, Any] | None, context: Context
    ) -> tuple[dict[str, Any] | None, bool, int, int]:
        """Delete a range's pages from ``position`` until its end or the invocation's time runs out (at least one
        page, so that every step makes progress): where the next step starts (None: a new pass), whether the pass
        ended, the events deleted and every key deleted (count items too)."""
        events = found_keys = 0
        paced_from = time.monotonic()
        while True:
            read_from = position
            found, position = self.store.parent_event_keys(parent, part, position, self.page_size)
            # a type's counts before the deletes: a retried step finds these events again
            settled = parent.kind != "event_type" or self.store.settle_counts(
                parent, found, lambda: self._time_left(context)
            )
            if not settled:
                return read_from or {}, False, events, found_keys  # out of time: this page again, in the next step
            self.store.delete_keys(found)
            events += sum(key[keys.SK]["S"].startswith(keys.EVENT_PREFIX) for key in found)  # not count items
            found_keys += len(found)
            self._pace(paced_from, found_keys)
            if position is None:
                return None, True, events, found_keys
            if not self._time_left(context):
                return position, False, events, found_keys

    def _pace(self, since: float, deleted: int) -> None:
        """Hold a range to ``key_writes_per_s``: its index key's partition throttles past it."""
        if self.key_writes_per_s:
            time.sleep(max(0.0, deleted / self.key_writes_per_s - (time.monotonic() - since)))

    def _time_left(self, context: Context) -> bool:
        return context.get_remaining_time_in_millis() > self.time_margin_ms

    def _wait_until(self, moment: float, context: Context) -> bool:
        """Sleep until ``moment`` (epoch seconds) if the invocation has the time for it; whether it did."""
        wait_ms = (moment - time.time()) * 1000
        if wait_ms > context.get_remaining_time_in_millis() - self.time_margin_ms:
            return False
        time.sleep(max(wait_ms, 0) / 1000)
        return True

    @staticmethod
    def _result(state: CascadeState, deleted: int, total: int | None, started: float) -> StepResult:
        """A step's result; ``total``: the cascade's events, when the step finished it."""
        duration = (time.monotonic() - started) * 1000
        done = total is not None
        return StepResult(
            state.parent,
            state.part,
            deleted,
            state.deleted + deleted if total is None else total,
            state.steps + 1,
            done,
            duration,
        )


def describe(result: StepResult) -> dict[str, Any]:
    """The fields of the structured log line of a step."""
    return {
        "parent_kind": result.parent.kind,
        "account_id": result.parent.account_id,
        "parent_id": result.parent.parent_id,
        "range": result.part,
        "deleted": result.deleted,
        "total_deleted": result.total,
        "step": result.step,
        "done": result.done,
        "duration_ms": round(result.duration_ms, 1),
    }

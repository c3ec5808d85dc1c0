"""Run a cascade to its end in-process, as the stream would chain its steps (tests and benchmarks)."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from devtools.local_stack.worker import LambdaContext
from emma_events.cascade import Cascade, StepResult
from emma_events.cascade_store import CascadeStore
from emma_events.domain import Parent


def fifteen_minutes() -> Any:
    return LambdaContext(deadline=time.time() + 900)


def step_range(cascade: Cascade, parent: Parent, part: str, context: Any, reader: Any = None) -> StepResult | None:
    """One step of a range from its cursor item, read with ``reader`` (by default the store's client; the stream
    record carries it on AWS); None: the range has finished."""
    store = cascade.store
    key = store._cursor_key(parent, part)
    cursor = (reader or store.client).get_item(TableName=store.table_name, Key=key, ConsistentRead=True).get("Item")
    return None if cursor is None else cascade.step(CascadeStore.cascade_of(cursor), context)


def run_to_end(
    cascade: Cascade,
    parent: Parent,
    context: Callable[[], Any] = fifteen_minutes,
    *,
    side_by_side: bool = True,
    started: bool = False,
    reader: Any = None,
) -> StepResult:
    """Start the parent's cascade (unless ``started``), step each of its ranges until it finishes, the ranges side
    by side (each in a thread, as the stream's lanes and a batch's threads run them) or one after another, and
    close it as the function does once it has announced the end; the step that finished the cascade."""
    if not started:
        cascade.start(parent, context())

    def chain(part: str) -> StepResult | None:
        while (result := step_range(cascade, parent, part, context(), reader)) is not None:
            if result.done:
                return result
        return None

    parts = cascade.store.ranges(parent)
    for _ in range(100):  # rounds: ranges that waited for the index are woken by the last of them to wait
        if side_by_side:
            with ThreadPoolExecutor(max_workers=len(parts)) as pool:
                results = list(pool.map(chain, parts))
        else:
            results = [chain(part) for part in parts]
        done = [result for result in results if result is not None]
        if done:
            cascade.store.close(parent)
            return done[0]
    raise AssertionError(f"the cascade of {parent} did not end in 100 rounds")

"""A large search's run, made by the table's stream consumer (functions/cascade_delete) when a read asked for it
(search_runs.py): one at a time per container, within the consumer's time."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from emma_events import criteria as criteria_rules
from emma_events import search_runs
from emma_events.dates import utc_now
from emma_events.deadline import DeadlineReached, within
from emma_events.errors import SearchTooLarge, ValidationFailed
from emma_events.search_eval import Budget, Evaluation
from emma_events.search_runs import RunRequest, status_counts

if TYPE_CHECKING:
    from emma_events.search_store import SearchStore

#: A run waits for the container's run before it (one at a time: each may hold ~1 GB); with less time left than
#: this, it asks again instead (a new request, delivered anew).
MIN_RUN_S = 120
#: One run at a time in a container (``run``).
_one_run = threading.Lock()


def run(store: SearchStore, request: RunRequest, time_left: Callable[[], float], inside_items: int) -> int | None:
    """Make the run ``request`` asks for, in the consumer, after the container's run before it and within
    ``time_left()`` seconds: claim it, evaluate (search_eval.py, with the budget ``OUTSIDE_ITEMS``), write its
    chunks, point the run item at them, record it on the search (which goes back to runs in the request once a run
    reads at most half ``inside_items``). How many members it found; None when it was not ours to make, was asked
    anew for want of time, or failed (recorded: reads answer 422)."""
    waited = not _one_run.acquire(blocking=False)
    if waited:
        _one_run.acquire()
    try:
        if waited and time_left() < MIN_RUN_S:  # the runs before it took the time: delivered anew, as a new request
            store.runs.ask(request.account_id, request.search_id, request.criteria, again=request)
            return None
        return _make(store, request, time_left, inside_items, waited)
    finally:
        _one_run.release()


def _make(
    store: SearchStore, request: RunRequest, time_left: Callable[[], float], inside_items: int, waited: bool
) -> int | None:
    """Claim, evaluate, write the chunks, record (``run``'s steps, the container's run lock held)."""
    runs = store.runs
    attempt = runs.claim(request)
    if attempt is None:
        return None
    if attempt > search_runs.RUN_ATTEMPTS:  # begun before and never finished (a crash, out of memory): no more
        runs.failed(request)
        return None
    began, started, budget = search_runs.clock(), utc_now(), Budget(search_runs.OUTSIDE_ITEMS)
    found = None
    try:
        with within(time_left()):  # the evaluation stops in time to write what it found (its Budget)
            parsed = criteria_rules.read(request.criteria)
            names = {term.type_name for term in parsed.event_terms()}
            found = Evaluation(store, request.account_id, started.date(), names, budget).members(parsed.tree)
    except (SearchTooLarge, ValidationFailed, DeadlineReached) as error:
        out_of_time = not isinstance(error, ValidationFailed) and budget.spent <= budget.limit
        if waited and out_of_time:  # the time the runs before it took, not its size: asked anew
            runs.ask(request.account_id, request.search_id, request.criteria, again=request)
            return None
    if found is None:
        runs.failed(request)
        return None
    ids = [int(item["member_id"]["N"]) for item in found]
    tally = status_counts(found)
    del found  # the ids are what the chunks need: the items' memory goes before they are written
    if runs.record(request, began, len(ids), tally, runs.write_chunks(request, ids)):
        inside = budget.spent <= inside_items // 2
        store.record_run(request.account_id, request.search_id, request.criteria, tally, started, inside)
    return len(ids)

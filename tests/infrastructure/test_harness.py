"""The test harness on a busy machine: processes follow the cores given, waits follow the load, the reference
tier's DynamoDB Local is started afresh once enough items were written, and a run's processes share one local
stack, its data written once and its accounts handed out once."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from devtools.testing import patience, tiers
from devtools.testing.reference_store import RESTART_AFTER_ITEMS, ReferenceStore, items_written
from devtools.testing.stack_process import once, take


def test_the_tiers_take_two_processes_more_than_the_cores_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TEST_WORKERS", raising=False)
    monkeypatch.setattr(os, "sched_getaffinity", lambda _: {0, 1, 2, 3})
    assert tiers.workers() == 6
    monkeypatch.setenv("TEST_WORKERS", "2")
    assert tiers.workers() == 2


def test_waits_grow_with_the_load_and_name_their_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TEST_PATIENCE", raising=False)
    monkeypatch.setattr(os, "sched_getaffinity", lambda _: {0, 1})
    monkeypatch.setattr(os, "getloadavg", lambda: (1.0, 1.0, 1.0))
    assert patience.seconds(10) == 30  # at least 3x the quiet figure
    monkeypatch.setattr(os, "getloadavg", lambda: (8.0, 8.0, 8.0))
    assert patience.seconds(10) == 120  # 3x the load per core
    monkeypatch.setenv("TEST_PATIENCE", "2")
    assert patience.seconds(10) == 20
    assert patience.ran_out("local stack not ready", 20) == (
        "local stack not ready after 20 s (TEST_PATIENCE=2: set it higher on a loaded machine)"
    )


def test_the_reference_store_restarts_after_enough_items_written() -> None:
    assert items_written("BatchWriteItem", {"RequestItems": {"t": [{}] * 25, "u": [{}] * 3}}) == 28
    assert items_written("TransactWriteItems", {"TransactItems": [{}] * 7}) == 7
    assert (items_written("UpdateItem", {}), items_written("Query", {}), items_written("GetItem", {})) == (1, 0, 0)

    store = ReferenceStore()
    starts: list[int] = []
    store.process.stop = lambda: None  # type: ignore[method-assign]
    store.process.start = lambda timeout=60: starts.append(store.written)  # type: ignore[method-assign]
    store.count("BatchWriteItem", {"RequestItems": {"t": [{}] * (RESTART_AFTER_ITEMS - 1)}})
    assert store.refresh() is False
    store.count("PutItem", {})
    assert store.refresh() is True
    assert (starts, store.written) == ([RESTART_AFTER_ITEMS], 0)


def test_what_a_runs_processes_share_is_made_once_and_handed_out_once(tmp_path: Path) -> None:
    """``once`` and ``take`` hold a lock on a file of the run's folder: here from threads, each with a file of its
    own open, as the run's processes have."""
    setups: list[int] = []
    taken: list[int] = []
    answers: list[object] = []

    def process() -> None:
        answers.append(once(tmp_path, "data", lambda: setups.append(1) or {"ids": [1, 2]}))
        taken.extend(take(tmp_path, "accounts", 1000) for _ in range(10))

    threads = [threading.Thread(target=process) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert setups == [1]
    assert answers == [{"ids": [1, 2]}] * 8
    assert sorted(taken) == list(range(1000, 1080))

"""The test harness on a busy machine: processes follow the cores given, waits follow the load, and the reference
tier's DynamoDB Local is started afresh once enough items were written."""

from __future__ import annotations

import os

import pytest

from devtools.testing import patience, tiers
from devtools.testing.reference_store import RESTART_AFTER_ITEMS, ReferenceStore, items_written


def test_the_tiers_take_one_process_more_than_the_cores_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TEST_WORKERS", raising=False)
    monkeypatch.setattr(os, "sched_getaffinity", lambda _: {0, 1, 2, 3})
    assert tiers.workers() == 5
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

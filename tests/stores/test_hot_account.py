"""An account's concurrent member adds under AWS's transaction rule, which no emulator shows
(devtools/testing/faults.py): each add's transaction changes one of the account's 64 member-count items, so 16
adders at once rarely meet, and the few that do are written on their next try, counted once. With one count item
(what a single counter per account would be) every overlap is a conflict."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from helpers import add_member

from devtools.testing.events import api_event
from devtools.testing.faults import OfferedLoad, TableFaults
from devtools.testing.in_process import invoke

pytestmark = pytest.mark.stores

ADDERS, ADDS = 16, 5


@pytest.mark.parametrize(
    "count_items",
    [64, pytest.param(1, marks=pytest.mark.moto_only)],  # one item shows the rule at work: once is enough
)
def test_concurrent_adds_are_each_counted_once(
    dynamodb: Any, monkeypatch: pytest.MonkeyPatch, count_items: int
) -> None:
    from emma_events import keys, stores

    monkeypatch.setattr(keys, "MEMBER_COUNT_ITEMS", count_items)
    faults = TableFaults(stores.client(), OfferedLoad(events_per_s=100))
    statuses: list[int] = []
    start = threading.Barrier(ADDERS)

    def adder(number: int) -> None:
        start.wait()
        for add in range(ADDS):
            statuses.append(add_member(100, f"m{number}-{add}@example.com").status)

    threads = [threading.Thread(target=adder, args=(number,)) for number in range(ADDERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    count = invoke("list_members", api_event("list_members", path={"account_id": 100}, query={"count": "true"}))
    if count_items == 1:
        assert faults.conflicts > 0
        return
    assert statuses == [200] * ADDERS * ADDS
    assert count.body == ADDERS * ADDS
    listed = invoke("list_members", api_event("list_members", path={"account_id": 100}, query={"end": "500"}))
    assert len({member["member_id"] for member in listed.body}) == ADDERS * ADDS

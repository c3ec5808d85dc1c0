"""Ids leased in blocks: the account's counter item is written once per block, not once per write, and ids stay
unique across containers (each its own store) and never reused, whatever fails."""

from __future__ import annotations

import os
from typing import Any

import pytest
from helpers import create_type, new_member

from devtools.bench.capacity import CapacityMeter

pytestmark = pytest.mark.stores  # on moto, then again on DynamoDB Local


def test_a_hundred_posts_of_ten_events_write_the_counter_once(dynamodb: Any) -> None:
    """Through the store a POST's handler calls (the handler's own work is the same for every POST)."""
    from emma_events.domain import NewMemberEvent
    from emma_events.member_event_store import MemberEventStore

    member, kind = new_member(), create_type()
    store = MemberEventStore(os.environ["TABLE_NAME"], dynamodb)
    meter = CapacityMeter(dynamodb)
    new = NewMemberEvent(member, None, kind, None, None, None, None, None)
    ids = []
    for _ in range(100):
        created, recorded = store.create_member_events(100, [new] * 10)
        assert recorded
        ids += [event.event_id for event in created]
    assert meter.calls["UpdateItem"] == 1  # one block of 1,000 ids; every other call is the transaction
    assert ids == list(range(1, 1001))


def test_containers_lease_blocks_of_their_own_and_never_share_an_id(dynamodb: Any) -> None:
    from emma_events.domain import NewMemberEvent
    from emma_events.member_event_store import MemberEventStore
    from emma_events.member_store import MemberStore

    table = os.environ["TABLE_NAME"]
    containers = [MemberEventStore(table, dynamodb) for _ in range(3)]
    member, kind = new_member(), create_type()
    new = NewMemberEvent(member, None, kind, None, None, None, None, None)
    taken: list[list[int]] = [[], [], []]
    for _ in range(4):
        for number, store in enumerate(containers):
            events, _ = store.create_member_events(100, [new] * 10)
            taken[number] += [e.event_id for e in events]
    every = [i for ids in taken for i in ids]
    assert len(set(every)) == len(every) == 120
    assert all(ids == sorted(ids) for ids in taken)  # increasing within a container
    added = [MemberStore(table, dynamodb).add_member(100, f"m{n}@example.com", {})[0].member_id for n in range(3)]
    assert len(set(added)) == 3

"""A popular event type under AWS's per-item rules, which no emulator shows (devtools/testing/faults.py): 16 posters
of one type, each for a member of its own, share no item, so none of them meets a transaction conflict or a
throttled key, at an offered 4,000 events a second. Emulating what the release before did meets them: the type's
item checked in every POST's transaction (conflicts), one ``ByType`` key for all of a type's events (throttles)."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from botocore.exceptions import ClientError
from helpers import create_type, new_member, post_events

from devtools.testing.faults import OfferedLoad, TableFaults

pytestmark = pytest.mark.stores

POSTERS, POSTS, BATCH = 16, 8, 10


def check_the_type_in_each_post(monkeypatch: pytest.MonkeyPatch, type_id: int) -> None:
    import os

    from emma_events import keys, stores

    client = stores.client()
    original = client.transact_write_items
    type_key = {"PK": {"S": "100"}, "SK": {"S": keys.event_type_sk(type_id)}}

    def with_the_type(**kwargs: Any) -> Any:
        if any("Put" in part and "GSI1PK" in part["Put"]["Item"] for part in kwargs["TransactItems"]):
            table = os.environ["TABLE_NAME"]
            check = {"TableName": table, "Key": type_key, "ConditionExpression": "attribute_exists(PK)"}
            kwargs["TransactItems"] = [*kwargs["TransactItems"], {"ConditionCheck": check}]
            try:
                return original(**kwargs)
            except ClientError as error:  # the reasons of the items the store sent, as it sent them
                error.response.get("CancellationReasons", [None]).pop()
                raise
        return original(**kwargs)

    monkeypatch.setattr(client, "transact_write_items", with_the_type)


def one_type_index_key(monkeypatch: pytest.MonkeyPatch, type_id: int) -> None:
    from emma_events import keys

    unsharded = keys.type_index_pk
    monkeypatch.setattr(keys, "type_index_pk", lambda account, type_id, member: unsharded(account, type_id, None))


@pytest.mark.parametrize(
    "before",  # what the release before did shows the rules at work: once is enough
    [None, *(pytest.param(f, marks=pytest.mark.moto_only) for f in (check_the_type_in_each_post, one_type_index_key))],
)
def test_posters_of_one_type_share_no_item(dynamodb: Any, monkeypatch: pytest.MonkeyPatch, before: Any) -> None:
    from emma_events import stores

    type_id = create_type(100, "page_view")
    members = [new_member(email=f"m{n}@example.com") for n in range(POSTERS)]
    if before:
        before(monkeypatch, type_id)
    load = OfferedLoad(events_per_s=4000)
    faults = TableFaults(stores.client(), load)
    statuses: list[int] = []
    start = threading.Barrier(POSTERS)

    def poster(member: int) -> None:
        start.wait()
        for _ in range(POSTS):
            load.offer(BATCH)
            result = post_events(100, [{"member_id": member, "event_type_id": type_id}] * BATCH)
            statuses.append(result.status)

    threads = [threading.Thread(target=poster, args=(member,)) for member in members]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    hottest = max(faults.hottest.items(), key=lambda kv: kv[1])
    if before is None:
        assert (faults.conflicts, faults.throttles) == (0, 0), hottest
        assert statuses == [200] * POSTERS * POSTS
    elif before is check_the_type_in_each_post:
        assert faults.conflicts > 0
    else:
        assert faults.throttles > 0, hottest

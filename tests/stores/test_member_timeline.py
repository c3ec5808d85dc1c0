"""A member's timeline at any size: a page reads what it returns, a count reads the member's count items (and the
events of at most two part-hours), exactly, after writes, replays, deletes and cascades."""

from __future__ import annotations

import io
import os
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from helpers import create_type, delete_type, list_events, new_member, post_events, seed_events
from streams import CascadeDriver

from devtools.bench.capacity import CapacityMeter
from devtools.testing.cascades import run_to_end, step_range
from devtools.testing.events import api_event
from devtools.testing.in_process import LambdaContext, invoke

pytestmark = pytest.mark.stores  # on moto, then again on DynamoDB Local

BASE = datetime(2025, 12, 31, 22, 30, 15, tzinfo=UTC)
#: Event times around the boundaries a count splits at: part-hours, hours, days, months, years.
TIMES = [BASE + timedelta(minutes=m) for m in (0, 29, 30, 31, 89, 90, 1500, 2 * 1440, 40 * 1440, 400 * 1440)]
#: Ranges a count is asked for, as (since, until): open or not, on boundaries or a second off them.
RANGES = [
    (None, None),
    (BASE, None),
    (None, BASE),
    (BASE + timedelta(minutes=29, seconds=45), BASE + timedelta(minutes=90)),
    (datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 31, 23, 59, 59, tzinfo=UTC)),
    (datetime(2025, 12, 31, 23, tzinfo=UTC), datetime(2027, 3, 1, tzinfo=UTC)),
    (BASE + timedelta(seconds=1), BASE + timedelta(days=400)),
    (datetime(1999, 1, 1, tzinfo=UTC), datetime(2030, 1, 1, 0, 0, 1, tzinfo=UTC)),
]


def emma(moment: datetime | None) -> str | None:
    return None if moment is None else f"@D:{moment:%Y-%m-%dT%H:%M:%S}"


def count(member: int, since: datetime | None = None, until: datetime | None = None, type_id: int | None = None) -> Any:
    query = {"count": "true", "since": emma(since), "until": emma(until), "event_type_id": type_id}
    answer = list_events(100, member, {k: str(v) for k, v in query.items() if v is not None})
    assert answer.status == 200, answer.body
    return answer.body


def expected(posted: list[tuple[datetime, int]], since: Any, until: Any, type_id: Any) -> int:
    return sum(
        1
        for at, kind in posted
        if (since is None or at >= since) and (until is None or at <= until) and type_id in (None, kind)
    )


def assert_counts_exact(member: int, posted: list[tuple[datetime, int]], types: list[int | None]) -> None:
    for since, until in RANGES:
        for type_id in types:
            assert count(member, since, until, type_id) == expected(posted, since, until, type_id), (
                since,
                until,
                type_id,
            )


def test_counts_are_exact_for_any_range_and_type_through_writes_replays_deletes_and_cascades(
    dynamodb: Any, table_items: Any
) -> None:
    member, other = new_member(100, "ada@example.com"), new_member(100, "bob@example.com")
    a, b = create_type(100, "a"), create_type(100, "b")
    posted = [(at, a if i % 3 else b) for i, at in enumerate(TIMES)]
    events = [
        {"member_id": member, "event_type_id": kind, "event_timestamp": emma(at), "event_monetary_value": 2.5}
        for at, kind in posted
    ]
    assert post_events(100, events, {"Idempotency-Key": "k-1"}).status == 200
    assert post_events(100, events, {"Idempotency-Key": "k-1"}).status == 200  # a replay: counted once
    assert post_events(100, [{"member_id": other, "event_type_id": b}]).status == 200  # another member's
    assert_counts_exact(member, posted, [None, a, b])

    driver = CascadeDriver()
    assert delete_type(100, b).status == 200  # its events are still stored: the counts leave them out at once
    kept = [(at, kind) for at, kind in posted if kind == a]
    assert_counts_exact(member, kept, [None, a])
    assert count(member, type_id=b) == 0
    driver.drain()
    assert_counts_exact(member, kept, [None, a])
    scope = f"C#{b:016d}#"
    assert not [i for i in table_items() if i["SK"]["S"].startswith(scope)], "the type's count items are gone"


def test_a_members_cascade_deletes_its_counts_too(dynamodb: Any, table_items: Any) -> None:
    from emma_events.cascade import Cascade
    from emma_events.domain import Parent
    from emma_events.stores import Stores

    member, kept = new_member(100, "ada@example.com"), new_member(100, "bob@example.com")
    kind = create_type(100, "a")
    assert post_events(100, [{"member_id": m, "event_type_id": kind} for m in (member, kept)]).status == 200
    delete = api_event("delete_member", path={"account_id": 100, "member_id": member})
    assert invoke("delete_member", delete).status == 200
    cascade = Cascade(Stores.of_this_container().cascades, time_margin_ms=1000)
    parent = Parent("member", 100, member)
    done = run_to_end(cascade, parent)
    assert done.total == 1  # what "Member Deleted" announces: its events, not its count items
    assert not [i for i in table_items() if i["PK"]["S"] == f"100#M#{member}"]
    assert count(kept) == 1


@pytest.fixture
def meter(dynamodb: Any) -> CapacityMeter:
    """Counts the DynamoDB calls of the handlers, and the items each Query read (filtered out included)."""
    from emma_events.stores import Stores

    return CapacityMeter(Stores.of_this_container().client)


def test_a_page_of_a_type_the_member_rarely_has_reads_only_what_it_returns(meter: CapacityMeter) -> None:
    member = new_member()
    common, rare = create_type(100, "common"), create_type(100, "rare")
    seed_events(member, common, 100, at=BASE)
    seed_events(member, rare, 10, at=BASE + timedelta(days=1), first_id=5_000_000)
    for query in ({}, {"order": "desc"}):
        meter.reset()
        answer = list_events(100, member, {"event_type_id": str(rare), "start": "0", "end": "500", **query})
        assert answer.status == 200
        assert len(answer.body) == 10
        assert sum(meter.calls.values()) == 2, meter.calls  # the member and removals; one Query
        assert meter.items_read <= 11, meter.items_read


def test_a_count_costs_the_same_whatever_the_member_has(meter: CapacityMeter) -> None:
    member = new_member()
    kind = create_type(100, "common")
    seed_events(member, kind, 100, at=BASE)
    since, until = BASE - timedelta(days=800, minutes=7), BASE + timedelta(hours=2)  # the events: a whole hour
    for type_id in (None, kind):
        meter.reset()
        assert count(member, since, until, type_id) == 100
        assert sum(meter.calls.values()) <= 4, meter.calls
        assert meter.items_read <= 5, meter.items_read  # year items, no event


@pytest.mark.parametrize(("start", "status"), [("500", 200), ("501", 400), (str(2**53 - 1), 400)])
def test_a_start_deeper_than_500_is_refused_naming_the_cursor(dynamodb: Any, start: str, status: int) -> None:
    member = new_member()
    answer = list_events(100, member, {"start": start})
    assert answer.status == status, answer.body
    if status == 400:
        assert answer.body["errors"][0]["loc"] == ["query", "start"]
        assert "cursor" in answer.body["errors"][0]["message"]


def recorded_before_counts(dynamodb: Any, member: int, type_id: int, at: datetime, event_id: int) -> None:
    """An event as a release before counts wrote it: no ``ByMemberType`` key, nothing counted."""
    from emma_events.domain import MemberEvent
    from emma_events.layout import event_item

    item = event_item(MemberEvent(100, event_id, member, type_id, at, at, None, None, None))
    del item["GSI2PK"]
    dynamodb.put_item(TableName=os.environ["TABLE_NAME"], Item=item)


def count_events(dynamodb: Any) -> tuple[int, str]:
    from ops.count_events import main

    out = io.StringIO()
    code = main(["--table", os.environ["TABLE_NAME"]], out, client=dynamodb)
    return code, out.getvalue()


def test_events_recorded_before_counts_are_counted_once_by_the_upgrade(dynamodb: Any) -> None:
    member = new_member()
    kind, doomed = create_type(100, "a"), create_type(100, "b")
    posted = [(BASE + timedelta(days=d), kind) for d in (0, 1, 40)]
    for n, (at, type_id) in enumerate(posted):
        recorded_before_counts(dynamodb, member, type_id, at, 9_000 + n)
    recorded_before_counts(dynamodb, member, doomed, BASE, 9_100)
    assert delete_type(100, doomed).status == 200  # its cascade has not run: its event is refused, not counted
    assert count(member) == 0
    assert list_events(100, member, {"event_type_id": str(kind)}).body == []

    refused = f"100#M#{member} {first_sk(dynamodb, doomed)}: refused (counted or deleted meanwhile?)\n"
    assert count_events(dynamodb) == (1, refused + "3 event(s) counted, 1 refused\n")
    assert_counts_exact(member, posted, [None, kind])
    assert len(list_events(100, member, {"event_type_id": str(kind)}).body) == 3
    assert count_events(dynamodb)[1].endswith("0 event(s) counted, 1 refused\n")  # run again: nothing twice
    assert_counts_exact(member, posted, [None, kind])


def first_sk(dynamodb: Any, type_id: int) -> str:
    items = dynamodb.scan(TableName=os.environ["TABLE_NAME"], ConsistentRead=True)["Items"]
    return next(
        i["SK"]["S"]
        for i in items
        if i.get("event_type_id", {}).get("N") == str(type_id) and i["SK"]["S"].startswith("EV#")
    )


def test_the_local_stack_adds_the_indexes_to_a_table_kept_from_an_earlier_release(
    dynamodb: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    from devtools.local_stack.store import EmbeddedDynamoDB
    from devtools.local_stack.template import TEMPLATE, create_table_kwargs

    kept = create_table_kwargs("kept-before-counts")
    kept["GlobalSecondaryIndexes"] = [i for i in kept["GlobalSecondaryIndexes"] if i["IndexName"] == "ByType"]
    kept["AttributeDefinitions"] = [
        a for a in kept["AttributeDefinitions"] if a["AttributeName"] in ("PK", "SK", "GSI1PK", "GSI1SK")
    ]
    dynamodb.create_table(**kept)
    EmbeddedDynamoDB._add_missing_indexes(dynamodb, "kept-before-counts", "EventsTable", TEMPLATE)
    indexes = dynamodb.describe_table(TableName="kept-before-counts")["Table"]["GlobalSecondaryIndexes"]
    assert sorted(i["IndexName"] for i in indexes) == ["ByMemberType", "ByType", "Members", "MembersByType"]
    said = capsys.readouterr().out
    assert "ops.count_events --table kept-before-counts" in said
    assert "members added before it: .venv/bin/python -m ops.index_members --table kept-before-counts" in said
    assert "events counted before it: .venv/bin/python -m ops.index_searches --table kept-before-counts" in said


def test_a_count_that_meets_a_settlement_of_a_removed_types_counts_reads_again(dynamodb: Any) -> None:
    """The cascade moves a removed type's counts off the member's totals while a count is between its reads: the
    count sees the member's marker change and reads again, instead of subtracting what is gone already."""
    from emma_events.cascade_store import CascadeStore
    from emma_events.domain import Parent
    from emma_events.stores import Stores

    member = new_member()
    kept, doomed = create_type(100, "kept"), create_type(100, "doomed")
    at = emma(BASE)
    events = [{"member_id": member, "event_type_id": t, "event_timestamp": at} for t in [kept] * 3 + [doomed] * 5]
    assert post_events(100, events).status == 200
    assert delete_type(100, doomed).status == 200
    settled: list[bool] = []

    def settle_once(**_: Any) -> None:
        if not settled:
            cascades = CascadeStore(os.environ["TABLE_NAME"], dynamodb)
            page, _ = cascades.parent_event_keys(Parent("event_type", 100, doomed), str(member % 16), None, 10)
            settled.append(cascades.settle_counts(Parent("event_type", 100, doomed), page, lambda: True))

    Stores.of_this_container().client.meta.events.register("after-call.dynamodb.BatchGetItem", settle_once)
    assert count(member, BASE - timedelta(days=1), BASE + timedelta(days=1)) == 3
    assert settled == [True]
    assert count(member) == 3


def test_a_type_cascade_out_of_time_while_settling_counts_reads_the_page_again(dynamodb: Any) -> None:
    from emma_events.cascade import Cascade
    from emma_events.domain import Parent
    from emma_events.stores import Stores

    members = [new_member(100, f"m{n}@example.com") for n in range(3)]
    kept, doomed = create_type(100, "kept"), create_type(100, "doomed")
    events = [{"member_id": m, "event_type_id": t} for m in members for t in (kept, doomed)]
    assert post_events(100, events).status == 200
    assert delete_type(100, doomed).status == 200

    class RunsOut:
        """No time left: the step reads a page, and has no time to settle its members' counts."""

        def get_remaining_time_in_millis(self) -> int:
            return 0

    cascade = Cascade(Stores.of_this_container().cascades, time_margin_ms=1000)
    parent = Parent("event_type", 100, doomed)
    cascade.start(parent, LambdaContext())
    first = step_range(cascade, parent, str(members[0] % 16), RunsOut())
    assert first is not None
    assert (first.deleted, first.done) == (0, False)  # the page comes again, in the next step
    assert [count(m) for m in members] == [1, 1, 1]
    done = run_to_end(cascade, parent, started=True)
    assert done.total == 3
    assert [count(m) for m in members] == [1, 1, 1]

"""A type's stats per hour, day, week or month of a time zone: kept from the table's stream by the publisher's
consumer, exactly once through redeliveries, members' cascades and type deletes; buckets as the zone's clock
shows them."""

from __future__ import annotations

import itertools
import os
from datetime import UTC, datetime, timedelta
from decimal import Decimal, localcontext
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from helpers import assert_problem, create_type, delete_type, examples, new_member, post_events
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from streams import CascadeDriver, FakeEventBridge, publisher_driver

from devtools.testing.events import api_event
from devtools.testing.in_process import invoke, load_function
from emma_events.publisher import Publisher

BASE = datetime(2026, 3, 7, 12, tzinfo=UTC)  # a day before New York's change to summer time
ZONES = ["UTC", "America/New_York", "Asia/Kolkata", "Asia/Kathmandu", "Australia/Lord_Howe", "Pacific/Chatham"]
ACCOUNTS = itertools.count(700)


@pytest.fixture
def bus(monkeypatch: pytest.MonkeyPatch) -> FakeEventBridge:
    """The publisher's EventBridge: accepts every entry (the tests here read the stats it keeps beside them)."""
    client = FakeEventBridge()
    monkeypatch.setattr(load_function("publish_events"), "publisher", Publisher(client, retry_delay_s=0))
    return client


def emma(moment: datetime) -> str:
    return f"@D:{moment:%Y-%m-%dT%H:%M:%S}"


def stats(account_id: int, type_id: int, **query: str) -> Any:
    path = {"account_id": account_id, "event_type_id": type_id}
    return invoke("get_event_type_stats", api_event("get_event_type_stats", path=path, query=query))


def brute_force(events: list[tuple[datetime, Any]], spans: list[Any]) -> list[dict[str, Any]]:
    """Each bucket's events and exact value, from the raw events."""
    answer = []
    for start, end in spans:
        inside = [value for at, value in events if start <= at < end]
        with localcontext(prec=400):
            total = sum((Decimal(repr(v)) for v in inside if v is not None), Decimal(0))
            text = "0" if not total else format(total.normalize(), "f")
        answer.append({"start": emma(start), "count": len(inside), "value": text})
    return answer


def local_unit(interval: str, moment: datetime, zone: ZoneInfo) -> tuple[Any, ...]:
    """What the zone's clock shows of ``moment``'s bucket: a new bucket begins where it changes."""
    local = moment.astimezone(zone)
    if interval == "hour":
        return local.date(), local.hour, local.utcoffset()
    if interval == "day":
        return (local.date(),)
    if interval == "week":
        return tuple(local.isocalendar()[:2])
    return local.year, local.month


#: Zones and a moment shortly before a change of their offset: at 02:00 (New York, Lord Howe's 30 minutes back in
#: April and forward in October), at midnight (Cairo's clocks skip it in April, Santiago's in September), and
#: the offsets on a half or a quarter of an hour.
TRANSITIONS = [
    ("UTC", datetime(2026, 3, 1, 7, 20, tzinfo=UTC)),
    ("America/New_York", datetime(2026, 3, 1, 7, 20, tzinfo=UTC)),
    ("Asia/Kolkata", datetime(2026, 3, 1, 7, 20, tzinfo=UTC)),
    ("Asia/Kathmandu", datetime(2026, 3, 1, 7, 20, tzinfo=UTC)),
    ("Australia/Lord_Howe", datetime(2026, 3, 1, 7, 20, tzinfo=UTC)),
    ("Australia/Lord_Howe", datetime(2026, 9, 20, 7, 20, tzinfo=UTC)),
    ("Pacific/Chatham", datetime(2026, 3, 1, 7, 20, tzinfo=UTC)),
    ("Africa/Cairo", datetime(2026, 4, 10, 7, 20, tzinfo=UTC)),
    ("America/Santiago", datetime(2026, 8, 25, 7, 20, tzinfo=UTC)),
]


@pytest.mark.parametrize("interval", ["hour", "day", "week", "month"])
@pytest.mark.parametrize(("name", "since"), TRANSITIONS)
def test_buckets_begin_where_the_zones_clock_begins_a_unit(interval: str, name: str, since: datetime) -> None:
    from emma_events.stat_buckets import buckets, zone

    span = {
        "hour": timedelta(days=40),
        "day": timedelta(days=40),
        "week": timedelta(weeks=20),
        "month": timedelta(days=400),
    }
    until = since + span[interval]
    found = buckets(interval, zone(name), since, until)
    quarter, starts = timedelta(minutes=15), []
    moment = (since - timedelta(days=40)).replace(minute=0)
    while moment <= until + timedelta(days=40):  # brute force: every quarter-hour where the clock starts a unit
        if local_unit(interval, moment, ZoneInfo(name)) != local_unit(interval, moment - quarter, ZoneInfo(name)):
            starts.append(moment)
        moment += quarter
    expected = [(a, b) for a, b in itertools.pairwise(starts) if b > since and a <= until]
    assert found == expected


@pytest.mark.stores
def test_stats_count_each_event_once_through_redeliveries_and_a_members_cascade(dynamodb: Any, bus: Any) -> None:
    publish = publisher_driver()
    a, b = create_type(100, "a"), create_type(100, "b")
    ada, bob = new_member(100, "ada@example.com"), new_member(100, "bob@example.com")
    times = [BASE, BASE + timedelta(minutes=14), BASE + timedelta(minutes=15), BASE + timedelta(days=1, hours=13)]
    mine = [
        {"member_id": ada, "event_type_id": a, "event_timestamp": emma(t), "event_monetary_value": 0.1} for t in times
    ]
    theirs = [{"member_id": bob, "event_type_id": a, "event_timestamp": emma(BASE), "event_monetary_value": 1e-130}]
    other = [{"member_id": ada, "event_type_id": b, "event_timestamp": emma(BASE)}]
    assert post_events(100, mine + theirs + other, {"Idempotency-Key": "k-1"}).status == 200
    assert post_events(100, mine + theirs + other, {"Idempotency-Key": "k-1"}).status == 200  # a replay
    publish.drain()
    for batch in publish.invocations:  # every record delivered again, as Lambda may: nothing counted twice
        load_function("publish_events").lambda_handler({"Records": batch}, publish.context())
    day = {"since": emma(BASE - timedelta(hours=12)), "until": emma(BASE + timedelta(days=2)), "interval": "day"}
    answer = stats(100, a, **day)
    assert answer.status == 200, answer.body
    assert answer.body == [
        {"start": "@D:2026-03-07T00:00:00", "count": 4, "value": "0.3" + "0" * 128 + "1"},
        {"start": "@D:2026-03-08T00:00:00", "count": 0, "value": "0"},
        {"start": "@D:2026-03-09T00:00:00", "count": 1, "value": "0.1"},
    ]
    quarter = stats(100, a, since=emma(BASE), until=emma(BASE + timedelta(minutes=59)), interval="hour").body
    assert [(q["start"], q["count"]) for q in quarter] == [("@D:2026-03-07T12:00:00", 4)]

    cascade = CascadeDriver()
    assert invoke("delete_member", api_event("delete_member", path={"account_id": 100, "member_id": ada})).status == 200
    cascade.drain()
    publish.drain()  # the cascade's deletions of ada's events: taken off
    for batch in publish.invocations:
        load_function("publish_events").lambda_handler({"Records": batch}, publish.context())
    assert [(s["count"], s["value"]) for s in stats(100, a, **day).body] == [
        (1, "0." + "0" * 129 + "1"),
        (0, "0"),
        (0, "0"),
    ]


@pytest.mark.stores
def test_a_deleted_types_stats_are_a_404_and_its_cascade_deletes_them(
    dynamodb: Any, bus: Any, table_items: Any
) -> None:
    publish = publisher_driver()
    kind = create_type(100, "a")
    member = new_member()
    assert post_events(100, [{"member_id": member, "event_type_id": kind, "event_timestamp": emma(BASE)}]).status == 200
    publish.drain()
    assert [i for i in table_items() if i["PK"]["S"] == f"100#TS#{kind}"]
    cascade = CascadeDriver()
    assert delete_type(100, kind).status == 200
    assert_problem(stats(100, kind), 404)
    cascade.drain()
    publish.drain()  # the type cascade's deletions: its type is gone, nothing is taken off
    assert not [i for i in table_items() if i["PK"]["S"] == f"100#TS#{kind}"]


@pytest.mark.stores
def test_stats_refuse_an_unknown_zone_a_reversed_range_and_too_many_buckets(dynamodb: Any) -> None:
    kind = create_type(100, "a")
    assert_problem(stats(100, kind, tz="Mars/Olympus_Mons"), 400, "query.tz")
    assert_problem(stats(100, kind, tz="../../etc/passwd"), 400, "query.tz")
    assert_problem(stats(100, kind, since=emma(BASE), until=emma(BASE - timedelta(seconds=1))), 400, "query.until")
    assert_problem(
        stats(100, kind, since="@D:2000-01-01T00:00:00", until=emma(BASE), interval="day"), 400, "query.since"
    )
    assert_problem(stats(100, kind, interval="year"), 400, "query.interval")
    assert_problem(stats(100, kind, since="0001-01-01T00:00:00Z", tz="America/New_York"), 400, "query.since")
    assert_problem(stats(100, kind, until="9999-12-31T23:59:59Z", tz="Asia/Tokyo"), 400, "query.until")
    assert stats(100, kind, since="@D:2000-01-01T00:00:00", until=emma(BASE), interval="month").status == 200
    assert len(stats(100, kind).body) == 30  # by default the 30 days up to now, in UTC
    assert_problem(stats(100, kind + 1), 404)
    assert stats(101, kind).status == 404  # another account's type of the same id does not exist here


@pytest.mark.stores
@settings(max_examples=examples(8), deadline=None, suppress_health_check=list(HealthCheck))
@given(
    events=st.lists(
        st.tuples(
            st.integers(0, 1), st.integers(-4 * 24 * 60, 4 * 24 * 60), st.sampled_from([None, 2.5, -1, 1e-130, 0.1])
        ),
        min_size=1,
        max_size=10,
    ),
    interval=st.sampled_from(["hour", "day", "week", "month"]),
    name=st.sampled_from(ZONES),
    offsets=st.tuples(st.integers(-5 * 24 * 60, 0), st.integers(0, 5 * 24 * 60)),
)
def test_stats_match_a_brute_force_count_of_generated_events(
    dynamodb: Any, bus: Any, events: list[Any], interval: str, name: str, offsets: tuple[int, int]
) -> None:
    from emma_events.stat_buckets import buckets, zone

    account = next(ACCOUNTS)
    publish = publisher_driver()
    member = new_member(account)
    types = [create_type(account, "a"), create_type(account, "b")]
    posted = [
        {"member_id": member, "event_type_id": types[kind], "event_timestamp": emma(BASE + timedelta(minutes=m))}
        | ({} if value is None else {"event_monetary_value": value})
        for kind, m, value in events
    ]
    assert post_events(account, posted).status == 200
    publish.drain()
    since, until = BASE + timedelta(minutes=offsets[0]), BASE + timedelta(minutes=offsets[1])
    if interval == "hour" and until - since > timedelta(days=40):
        until = since + timedelta(days=40)
    spans = buckets(interval, zone(name), since, until)
    raw = [(BASE + timedelta(minutes=m), value) for kind, m, value in events if kind == 0]
    query = {"since": emma(since), "until": emma(until), "interval": interval, "tz": name}
    assert stats(account, types[0], **query).body == brute_force(raw, spans)


@pytest.mark.stores
def test_an_insert_and_its_removal_in_one_batch_and_a_removal_never_added_change_nothing(
    dynamodb: Any, bus: Any, table_items: Any
) -> None:
    kind = create_type(100, "a")
    before, member = new_member(100, "old@example.com"), new_member(100, "ada@example.com")
    assert post_events(100, [{"member_id": before, "event_type_id": kind, "event_timestamp": emma(BASE)}]).status == 200
    (old,) = [i for i in table_items() if i.get("entity", {}).get("S") == "member_event"]
    key = {"PK": old["PK"], "SK": old["SK"]}  # as a release before the stats wrote it: not tallied, never added
    dynamodb.update_item(TableName=os.environ["TABLE_NAME"], Key=key, UpdateExpression="REMOVE tallied")
    publish = publisher_driver()
    assert post_events(100, [{"member_id": member, "event_type_id": kind, "event_timestamp": emma(BASE)}]).status == 200
    cascade = CascadeDriver()
    for gone in (before, member):
        assert (
            invoke("delete_member", api_event("delete_member", path={"account_id": 100, "member_id": gone})).status
            == 200
        )
    cascade.drain()
    publish.drain()  # one batch: the insert of ada's event and its removal; and the removal of one never added
    assert [len(batch) for batch in publish.invocations] == [3]  # taken whole: no error, no bisection
    day = {"since": emma(BASE), "until": emma(BASE), "interval": "day"}
    assert [(b["count"], b["value"]) for b in stats(100, kind, **day).body] == [(0, "0")]


@pytest.mark.stores
def test_stats_that_keep_conflicting_are_delivered_again_and_the_events_still_go_out(
    dynamodb: Any, bus: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from emma_events.errors import ServiceUnavailable
    from emma_events.type_rollups import TypeRollups

    kind, member = create_type(100, "a"), new_member()
    publish = publisher_driver()
    assert post_events(100, [{"member_id": member, "event_type_id": kind, "event_timestamp": emma(BASE)}]).status == 200
    real, failing = TypeRollups._apply_run, [True]

    def conflicting(self: Any, run: Any) -> int:
        if failing.pop() if failing else False:
            raise ServiceUnavailable("conflicts")
        return real(self, run)

    monkeypatch.setattr(TypeRollups, "_apply_run", conflicting)
    publish.drain()
    assert len(publish.invocations) == 2  # the first reported the record, the stream delivered it again
    assert len(bus.calls) == 1  # the event waited for its stats: it went out once, with the second delivery
    day = {"since": emma(BASE), "until": emma(BASE), "interval": "day"}
    assert [b["count"] for b in stats(100, kind, **day).body] == [1]


@pytest.mark.stores
def test_a_year_of_days_in_a_zone_off_utc_reads_the_days_range_exactly(dynamodb: Any, bus: Any) -> None:
    from emma_events.stat_buckets import buckets, zone

    kind, member = create_type(100, "a"), new_member()
    publish = publisher_driver()
    moments = [BASE + timedelta(days=d, hours=h) for d, h in ((0, 6), (0, 7), (100, 18), (250, 23))]
    events = [
        {"member_id": member, "event_type_id": kind, "event_timestamp": emma(m), "event_monetary_value": 1.5}
        for m in moments
    ]
    assert post_events(100, events).status == 200
    publish.drain()
    since, until = BASE - timedelta(days=10), BASE + timedelta(days=300)
    spans = buckets("day", zone("Asia/Kolkata"), since, until)
    answer = stats(100, kind, since=emma(since), until=emma(until), interval="day", tz="Asia/Kolkata")
    assert answer.body == brute_force([(m, 1.5) for m in moments], spans)


@pytest.mark.moto_only  # the on-failure queue is moto's SQS
def test_a_batch_whose_stats_failed_past_its_retries_is_replayed_from_the_queue(
    dynamodb: Any, bus: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The stats keep conflicting until the mapping gives up (its on-failure queue); once they would not, the
    replay tool keeps the batch's stats once and puts its events on the bus."""
    import json

    import boto3

    from emma_events.errors import ServiceUnavailable
    from emma_events.publisher import Publisher
    from emma_events.type_rollups import TypeRollups
    from ops.replay_published import replay_queue

    kind, member = create_type(100, "a"), new_member()
    publish = publisher_driver()
    assert post_events(100, [{"member_id": member, "event_type_id": kind, "event_timestamp": emma(BASE)}]).status == 200

    def conflicting(self: Any, run: Any) -> int:
        raise ServiceUnavailable("conflicts")

    monkeypatch.setattr(TypeRollups, "_apply_run", conflicting)
    publish.drain()  # every delivery fails: the mapping's retries, then the batch is discarded
    assert len(publish.invocations) == publish.subscription.maximum_retry_attempts + 1
    assert bus.calls == []  # the entry waited for its stats, every time
    (record,) = publish.invocations[0]
    sqs = boto3.client("sqs")
    queue_url = sqs.create_queue(QueueName="publish-dlq")["QueueUrl"]
    batch = {
        "shardId": publish.poller.open_iterators()[0],
        "startSequenceNumber": record["dynamodb"]["SequenceNumber"],
        "endSequenceNumber": record["dynamodb"]["SequenceNumber"],
        "streamArn": record["eventSourceARN"],
        "batchSize": 1,
    }
    for _ in range(2):  # the same batch twice: the second replay adds nothing
        sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps({"DDBStreamBatchInfo": batch}))
    monkeypatch.undo()
    monkeypatch.setattr(load_function("publish_events"), "publisher", Publisher(bus, retry_delay_s=0))
    from emma_events.stores import rollups as container_rollups

    rollups = container_rollups()
    assert replay_queue(rollups, Publisher(bus, retry_delay_s=0), sqs, boto3.client("dynamodbstreams"), queue_url) == (
        2,
        0,
    )
    day = {"since": emma(BASE), "until": emma(BASE), "interval": "day"}
    assert [b["count"] for b in stats(100, kind, **day).body] == [1]
    assert len(bus.calls) == 2  # the entry went out with each replay (at least once, as EventBridge delivers)

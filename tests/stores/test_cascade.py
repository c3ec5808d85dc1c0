"""The cascade delete: driven by the table's stream, with the template's filters and batch settings."""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from typing import Any

import pytest
from helpers import (
    create_type,
    delete_type,
    entities,
    events_of,
    list_events,
    new_member,
    post_events,
    seed_events,
)
from streams import BudgetContext, CascadeDriver

from devtools.testing.cascades import run_to_end, step_range
from devtools.testing.events import api_event, load_event
from devtools.testing.in_process import LambdaContext, invoke, load_function

# On moto, then again on DynamoDB Local; moto's requests made atomic, as AWS's are: a batch's ranges run side by side.
pytestmark = pytest.mark.stores


def doomed_type(events: int) -> int:
    """A type "doomed" with ``events`` events of a new member; its id."""
    doomed = create_type(100, "doomed")
    seed_events(new_member(), doomed, events)
    return doomed


def assert_cascaded(table_items: Any, event_type_id: int) -> None:
    """No event of the type is left, and no cascade cursor either."""
    assert events_of(table_items, event_type_id=event_type_id) == []
    assert cursors(table_items) == []


def cursors(table_items: Any) -> list[Any]:
    """The cascades' items and their ranges' cursors."""
    return entities(table_items, "cascade") + entities(table_items, "cascade_ranges")


@pytest.fixture
def small_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pages of 10 keys, so that small cascades take several pages."""
    from emma_events.config import settings

    monkeypatch.setenv("CASCADE_PAGE_SIZE", "10")
    settings.cache_clear()


@pytest.mark.parametrize("count", [0, 1, 25, 26])
@pytest.mark.usefixtures("small_pages")
def test_deleting_a_type_deletes_all_its_events_and_nothing_else(dynamodb: Any, table_items: Any, count: int) -> None:
    member = new_member()
    doomed, kept = create_type(100, "doomed"), create_type(100, "kept")
    seed_events(member, doomed, count)
    seed_events(member, kept, 3, first_id=2_000_000)
    driver = CascadeDriver()

    assert delete_type(100, doomed).status == 200
    driver.drain()

    assert events_of(table_items, event_type_id=doomed) == []
    assert len(events_of(table_items, event_type_id=kept)) == 3
    assert cursors(table_items) == []
    # The type is off the account's removals item: the listings' filter is only as long as the deletes in flight.
    assert all("type_ids" not in item for item in entities(table_items, "removals"))


@pytest.mark.slow
@pytest.mark.reference_only  # a scale test: moto's Query costs ~1 ms an item, DynamoDB Local's a tenth of that
def test_a_cascade_of_5000_events_completes(dynamodb: Any, table_items: Any) -> None:
    doomed = doomed_type(5_000)  # make bench cascades 10,000
    driver = CascadeDriver()

    delete_type(100, doomed)
    driver.drain()

    assert_cascaded(table_items, doomed)


@pytest.mark.usefixtures("small_pages")
def test_deleting_a_member_deletes_its_events_only(dynamodb: Any, table_items: Any) -> None:
    ada, bob = new_member(100, "ada@example.com"), new_member(100, "bob@example.com")
    click = create_type(100, "click")
    seed_events(ada, click, 30)
    seed_events(bob, click, 4, first_id=2_000_000)
    driver = CascadeDriver()

    path = {"account_id": 100, "member_id": ada}
    assert invoke("delete_member", api_event("delete_member", path=path)).status == 200
    driver.drain()

    assert events_of(table_items, member_id=ada) == []
    assert len(events_of(table_items, member_id=bob)) == 4
    assert cursors(table_items) == []


def test_event_deletions_and_other_writes_never_invoke_the_function(dynamodb: Any) -> None:
    member = new_member()
    doomed = create_type(100, "doomed")
    renamed = create_type(100, "renamed-later")
    post_events(100, [{"member_id": member, "event_type_id": doomed}] * 3, {"Idempotency-Key": "k"})
    path = {"account_id": 100, "event_type_id": renamed}
    body = {"event_type": "renamed-now", "display_name": "Renamed"}
    assert invoke("update_event_type", api_event("update_event_type", path=path, body=body)).status == 200
    driver = CascadeDriver(from_start=True)  # every record of the table: inserts, the rename, the removals

    delete_type(100, doomed)
    driver.drain()

    kinds = set()
    for record in driver.delivered:
        images = record["dynamodb"]
        if "NewImage" in images:
            kinds.add(("write", images["NewImage"]["entity"]["S"]))
        else:
            kinds.add((record["eventName"], images["OldImage"]["entity"]["S"]))
    assert kinds == {("REMOVE", "event_type"), ("write", "cascade")}
    assert len(driver.invocations) >= 2  # the type's removal, then at least its verification step


@pytest.mark.usefixtures("small_pages")
def test_a_cascade_that_runs_out_of_time_checkpoints_and_continues(
    dynamodb: Any, table_items: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    doomed = doomed_type(95)
    driver = CascadeDriver(context=lambda: BudgetContext(checks=2))  # two pages (20 keys) per invocation

    delete_type(100, doomed)
    driver.drain()

    assert_cascaded(table_items, doomed)
    assert len(driver.invocations) >= 95 // 20  # it took several invocations, each starting where the last stopped


@pytest.mark.usefixtures("small_pages")
def test_a_crash_in_the_middle_is_retried_and_the_cascade_completes(
    dynamodb: Any, table_items: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from emma_events.cascade_store import CascadeStore

    doomed = doomed_type(60)
    original = CascadeStore.delete_keys
    crashes = {"left": 2, "calls": 0}

    def flaky(self: CascadeStore, items: list[Any], max_attempts: int = 8) -> int:
        crashes["calls"] += 1
        if crashes["calls"] % 3 == 0 and crashes["left"] > 0:
            crashes["left"] -= 1
            original(self, items[: len(items) // 2], max_attempts)  # half done, then the crash
            raise RuntimeError("injected crash")
        return original(self, items, max_attempts)

    monkeypatch.setattr(CascadeStore, "delete_keys", flaky)
    driver = CascadeDriver()

    delete_type(100, doomed)
    driver.drain()

    assert crashes["left"] == 0
    assert_cascaded(table_items, doomed)


def test_the_same_record_delivered_twice_is_harmless(dynamodb: Any, table_items: Any) -> None:
    member = new_member()
    doomed, kept = create_type(100, "doomed"), create_type(100, "kept")
    seed_events(member, doomed, 5)
    seed_events(member, kept, 2, first_id=2_000_000)
    driver = CascadeDriver()
    delete_type(100, doomed)
    driver.drain()
    removal = next(r for r in driver.delivered if r["eventName"] == "REMOVE")

    for _ in range(2):
        result = load_function_result({"Records": [removal]})
        assert result == {"batchItemFailures": []}
    driver.drain()  # the ranges of the cascade the first delivery started again (there is nothing left to delete)

    assert events_of(table_items, event_type_id=doomed) == []
    assert len(events_of(table_items, event_type_id=kept)) == 2
    assert cursors(table_items) == []


def load_function_result(event: dict[str, Any]) -> Any:
    return load_function("cascade_delete").lambda_handler(event, LambdaContext(function_name="cascade"))


def test_a_type_recreated_with_the_same_name_keeps_its_new_events(dynamodb: Any, table_items: Any) -> None:
    member = new_member()
    old = create_type(100, "purchase")
    seed_events(member, old, 12)
    driver = CascadeDriver()
    delete_type(100, old)
    new = create_type(100, "purchase")
    assert new != old
    posted = post_events(100, [{"member_id": member, "event_type": "purchase"}] * 4)
    assert posted.status == 200

    driver.drain()

    assert events_of(table_items, event_type_id=old) == []
    assert len(events_of(table_items, event_type_id=new)) == 4


def test_posts_racing_the_deletion_of_their_type_leave_no_orphans(dynamodb: Any, table_items: Any) -> None:
    member = new_member()
    doomed = create_type(100, "doomed")
    driver = CascadeDriver()
    start = threading.Barrier(3)

    def poster() -> None:
        start.wait()
        for _ in range(10):
            post_events(100, [{"member_id": member, "event_type": "doomed"}] * 2)

    def deleter() -> None:
        start.wait()
        time.sleep(0.03)
        delete_type(100, doomed)

    threads = [threading.Thread(target=poster), threading.Thread(target=poster), threading.Thread(target=deleter)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    driver.drain()

    assert events_of(table_items, event_type_id=doomed) == []


def test_the_event_file_runs_the_function(dynamodb: Any) -> None:
    """events/cascade_delete.json (for `sam local invoke`): a removed type with no events is a finished cascade."""
    assert load_function_result(load_event("cascade_delete")) == {"batchItemFailures": []}


def test_a_step_logs_its_parent_count_and_duration(dynamodb: Any, capfd: pytest.CaptureFixture[str]) -> None:
    doomed = doomed_type(3)
    driver = CascadeDriver()
    delete_type(100, doomed)
    logger = load_function("cascade_delete").logger
    logger.setLevel("INFO")
    stream = logger.registered_handler.setStream(sys.stdout)  # the module may have been loaded by another test
    try:
        capfd.readouterr()
        driver.drain()
    finally:
        logger.setLevel("WARNING")
        logger.registered_handler.setStream(stream)
    lines = [json.loads(line) for line in capfd.readouterr().out.splitlines() if line.startswith("{")]
    steps = [line for line in lines if line.get("message") == "cascade step"]
    assert steps, lines
    assert {"parent_kind", "account_id", "parent_id", "deleted", "duration_ms", "step", "done"} <= steps[0].keys()
    assert sum(step["deleted"] for step in steps) >= 3
    metrics = [line for line in lines if "_aws" in line]
    assert any("EventsDeleted" in line for line in metrics)


@pytest.mark.usefixtures("small_pages")
def test_a_failed_batch_in_the_dead_letter_queue_is_replayed(
    dynamodb: Any, table_items: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A poison cascade exhausts its retries and lands in the queue; after the fix, the replay tool restarts it."""
    import boto3

    from emma_events.cascade_store import CascadeStore
    from emma_events.stores import cascades
    from ops.replay_cascades import replay_queue

    doomed = doomed_type(30)
    driver = CascadeDriver()

    def broken(self: CascadeStore, items: list[Any], max_attempts: int = 8) -> int:
        raise RuntimeError("permissions were wrong")

    monkeypatch.setattr(CascadeStore, "delete_keys", broken)
    delete_type(100, doomed)
    driver.drain()  # MaximumRetryAttempts, then the batch is discarded: its events are still there
    steps = [r for batch in driver.invocations for r in batch if r["eventName"] != "REMOVE"]  # the ranges' first
    record = steps[0]
    # (a batch split in two on an error is not a retry: AWS counts only retries against the attempts)
    assert sum(r["eventID"] == record["eventID"] for r in steps) >= driver.subscription.maximum_retry_attempts + 1
    assert len(events_of(table_items, event_type_id=doomed)) == 30

    # What Lambda sends to the on-failure destination for a stream batch.
    sqs = boto3.client("sqs")
    queue_url = sqs.create_queue(QueueName="cascade-dlq")["QueueUrl"]
    message = {
        "requestContext": {"condition": "RetryAttemptsExhausted", "approximateInvokeCount": 6},
        "DDBStreamBatchInfo": {
            "shardId": driver.poller.open_iterators()[0],
            "startSequenceNumber": record["dynamodb"]["SequenceNumber"],
            "endSequenceNumber": record["dynamodb"]["SequenceNumber"],
            "streamArn": record["eventSourceARN"],
            "batchSize": 1,
        },
    }
    sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps(message))
    monkeypatch.undo()  # the fix is deployed

    from emma_events.config import settings

    monkeypatch.setenv("CASCADE_PAGE_SIZE", "10")
    monkeypatch.setenv("TABLE_NAME", cascades().table_name)
    settings.cache_clear()
    restarted = replay_queue(cascades(), sqs, boto3.client("dynamodbstreams"), queue_url)
    driver.drain()

    assert [(p.kind, p.parent_id) for p in restarted] == [("event_type", doomed)]
    assert_cascaded(table_items, doomed)
    assert "Messages" not in sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=0)


class LaggingIndex:
    """The ByType index ``lag`` seconds behind the table, as a global secondary index may be on DynamoDB (both
    emulators update it synchronously): a Query of the index does not see events written less than ``lag``
    seconds ago."""

    def __init__(self, client: Any, lag: float) -> None:
        self.lag = lag
        self.written: dict[tuple[str, str], float] = {}
        events = client.meta.events
        events.register("provide-client-params.dynamodb.TransactWriteItems", self._writes)
        events.register("provide-client-params.dynamodb.Query", self._query)
        events.register("after-call.dynamodb.Query", self._hide)

    def _writes(self, params: dict[str, Any], **_: Any) -> None:
        for action in params["TransactItems"]:
            item = action.get("Put", {}).get("Item", {})
            if "GSI1PK" in item:
                self.written[(item["PK"]["S"], item["SK"]["S"])] = time.monotonic()

    def _query(self, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["index"] = params.get("IndexName")

    def _hide(self, parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        if context.get("index") != "ByType":
            return
        now = time.monotonic()
        parsed["Items"] = [
            item
            for item in parsed.get("Items", [])
            if now - self.written.get((item["PK"]["S"], item["SK"]["S"]), 0) >= self.lag
        ]
        parsed["Count"] = len(parsed["Items"])


def test_a_cascade_outwaits_an_index_that_lags(
    dynamodb: Any, table_items: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Events posted just before their type is deleted are not in the index yet when the cascade's first pass
    runs; the cascade passes again once the index may have caught up (CASCADE_INDEX_LAG_SECONDS) and deletes them.
    One step waits for that, for all the ranges (the others end their chains: a wait holds its stream lane)."""
    from emma_events import stores
    from emma_events.cascade import Cascade
    from emma_events.config import settings

    monkeypatch.setenv("CASCADE_INDEX_LAG_SECONDS", "1.5")
    settings.cache_clear()
    member, doomed = new_member(), create_type(100, "doomed")
    LaggingIndex(stores.client(), lag=1.0)
    driver = CascadeDriver()
    waits: list[float] = []
    wait_until = Cascade._wait_until

    def recorded(self: Cascade, moment: float, context: Any) -> bool:
        waits.append(moment)
        return wait_until(self, moment, context)

    monkeypatch.setattr(Cascade, "_wait_until", recorded)

    assert post_events(100, [{"member_id": member, "event_type_id": doomed}] * 3).status == 200
    assert delete_type(100, doomed).status == 200
    driver.drain()

    assert_cascaded(table_items, doomed)
    assert len([moment for moment in waits if moment > min(waits) + 1]) == 1  # the start's own wait aside


def test_a_chain_begun_again_stops_the_old_one_at_its_next_checkpoint(dynamodb: Any, table_items: Any) -> None:
    """A replay begins a cascade again (fresh cursors, steps 0): a step of the old chain, whose record was still on
    its way, writes no checkpoint over the new chain's cursor (both at step 0), so one chain goes on."""
    from emma_events.cascade import Cascade
    from emma_events.cascade_store import CascadeStore
    from emma_events.domain import Parent
    from emma_events.stores import Stores

    member, doomed = new_member(), create_type(100, "doomed")
    seed_events(member, doomed, 40)
    store, parent = Stores.of_this_container().cascades, Parent("event_type", 100, doomed)
    store.begin(parent, settled_at=0)
    key = store._cursor_key(parent, str(member % 16))
    old = CascadeStore.cascade_of(dynamodb.get_item(TableName=store.table_name, Key=key)["Item"])
    store.begin(parent, settled_at=0, again=True)
    fresh = dynamodb.get_item(TableName=store.table_name, Key=key)["Item"]

    Cascade(store, time_margin_ms=1000, page_size=10).step(old, BudgetContext(checks=1))

    assert dynamodb.get_item(TableName=store.table_name, Key=key)["Item"] == fresh


def test_a_range_that_finishes_after_the_others_began_waiting_wakes_them(dynamodb: Any, table_items: Any) -> None:
    """Every range but one found nothing before the index settled and waits; the last one's pass comes after, finds
    nothing and finishes: no range runs any more, so that step wakes the waiting ones (else they would wait for
    ever, and the type's events stay hidden, never deleted)."""
    from emma_events.cascade import Cascade
    from emma_events.domain import Parent
    from emma_events.stores import Stores

    doomed = create_type(100, "doomed")
    store, parent = Stores.of_this_container().cascades, Parent("event_type", 100, doomed)
    cascade = Cascade(store, time_margin_ms=1000)
    store.begin(parent, settled_at=time.time() + 3600)
    *early, late = store.ranges(parent)
    for part in early:  # before the index has settled: each waits, none wakes the others (one range still runs)
        step_range(cascade, parent, part, LambdaContext(deadline=time.time() + 60))
    assert cursors_of(store, parent, early) == []
    late_key = store._cursor_key(parent, late)  # the last range's pass comes after the index has settled
    dynamodb.update_item(
        TableName=store.table_name,
        Key=late_key,
        UpdateExpression="SET settled_at = :past",
        ExpressionAttributeValues={":past": {"N": "0"}},
    )

    step_range(cascade, parent, late, LambdaContext(deadline=time.time() + 60))

    assert cursors_of(store, parent, early) == early  # woken: their final passes start
    run_to_end(cascade, parent, started=True)
    assert_cascaded(table_items, doomed)


def cursors_of(store: Any, parent: Any, parts: list[str]) -> list[str]:
    return [
        p
        for p in parts
        if "Item" in store.client.get_item(TableName=store.table_name, Key=store._cursor_key(parent, p))
    ]


def test_a_post_that_read_its_type_before_the_delete_is_undone_by_the_final_pass(
    dynamodb: Any, table_items: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A POST's transaction holds no item of the type (every POST of the type would share it): a POST that checked
    its events against the type before the type's delete may write them after it. Such events are never listed,
    never counted, and the cascade's final pass, which starts once any such POST has ended, deletes them."""
    from emma_events import stores
    from emma_events.config import settings

    monkeypatch.setenv("CASCADE_INDEX_LAG_SECONDS", "3")
    settings.cache_clear()
    member, doomed, kept = new_member(), create_type(100, "doomed"), create_type(100, "kept")
    assert post_events(100, [{"member_id": member, "event_type_id": kept}]).status == 200
    client = stores.client()
    original, checked, release = client.transact_write_items, threading.Event(), threading.Event()

    def late(**kwargs: Any) -> Any:
        checked.set()
        release.wait(10)
        return original(**kwargs)

    monkeypatch.setattr(client, "transact_write_items", late)
    outcome: list[Any] = []
    poster = threading.Thread(
        target=lambda: outcome.append(post_events(100, [{"member_id": member, "event_type_id": doomed}] * 2))
    )
    poster.start()
    assert checked.wait(10)
    monkeypatch.setattr(client, "transact_write_items", original)
    driver = CascadeDriver()
    assert delete_type(100, doomed).status == 200
    threading.Timer(1.0, release.set).start()  # written while the cascade waits for its final pass
    driver.drain()
    poster.join()

    assert outcome[0].status == 200  # it came before the delete
    assert_cascaded(table_items, doomed)
    assert count_of(member) == 1
    assert [e["event_type_id"] for e in list_events(100, member).body] == [kept]
    assert not [i for i in table_items() if i["SK"]["S"].startswith(f"C#{doomed:016d}")]


def count_of(member: int) -> int:
    result = list_events(100, member, {"count": "true"})
    assert result.status == 200, result.body
    return int(result.body)


def test_a_late_event_counted_between_a_settlement_s_read_and_write_is_settled_too(
    dynamodb: Any, table_items: Any
) -> None:
    """A POST that checked its type before the delete writes its event and counts while the cascade settles that
    member: the settlement, which read the type's count items before, finds them changed, reads them again and
    takes the late event off the member's totals too."""
    from emma_events import counts
    from emma_events.cascade import Cascade
    from emma_events.dates import utc_now
    from emma_events.domain import MemberEvent, Parent
    from emma_events.layout import event_item
    from emma_events.stores import Stores

    member, doomed, kept = new_member(), create_type(100, "doomed"), create_type(100, "kept")
    now = utc_now().replace(microsecond=0)
    seed_events(member, doomed, 3, at=now)
    seed_events(member, kept, 2, at=now, first_id=2_000_000)
    assert delete_type(100, doomed).status == 200
    late = MemberEvent(100, 3_000_000, member, doomed, now, now, None, None, None)
    stores = Stores.of_this_container()

    def late_post(**_: Any) -> None:  # once, right after the settlement's first read
        stores.client.meta.events.unregister("after-call.dynamodb.BatchGetItem", late_post)
        dynamodb.put_item(TableName=stores.table_name, Item=event_item(late))
        for key, added in counts.increments([late]).items():
            dynamodb.update_item(**counts.update(stores.table_name, key, added))

    stores.client.meta.events.register("after-call.dynamodb.BatchGetItem", late_post)
    run_to_end(Cascade(stores.cascades, time_margin_ms=1000), Parent("event_type", 100, doomed))

    assert_cascaded(table_items, doomed)
    assert count_of(member) == 2
    assert not [i for i in table_items() if i["SK"]["S"].startswith(f"C#{doomed:016d}")]


def test_a_settlement_that_read_an_item_made_again_since_takes_nothing_off_twice(
    dynamodb: Any, table_items: Any
) -> None:
    """Two steps read a member's count items of the removed type (a record delivered again beside its successor);
    one settles them, then a late POST makes the day's item again, with the same total in another hour: the other
    step's settlement of what it read must not pass (it would take the old hour off the totals a second time)."""
    from datetime import timedelta

    from emma_events import counts
    from emma_events.cascade import Cascade
    from emma_events.dates import utc_now
    from emma_events.domain import MemberEvent, Parent
    from emma_events.layout import event_item
    from emma_events.stores import Stores

    member, doomed, kept = new_member(), create_type(100, "doomed"), create_type(100, "kept")
    now = utc_now().replace(minute=0, second=0, microsecond=0)
    seed_events(member, doomed, 1, at=now)
    seed_events(member, kept, 2, at=now, first_id=2_000_000)
    assert delete_type(100, doomed).status == 200
    store, parent = Stores.of_this_container().cascades, Parent("event_type", 100, doomed)
    page, _ = store.parent_event_keys(parent, str(member % 16), None, 10)
    scope = counts.scope_of(doomed)
    wanted = counts.items_of(page, scope)
    stale = list(store._batch_get({"PK": {"S": pk}, "SK": {"S": sk}} for pk, sk in wanted).values())
    assert store.settle_counts(parent, page, lambda: True)
    other_hour = now - timedelta(hours=1) if now.hour else now + timedelta(hours=1)
    late = MemberEvent(100, 3_000_000, member, doomed, other_hour, other_hour, None, None, None)
    dynamodb.put_item(TableName=store.table_name, Item=event_item(late))
    for key, added in counts.increments([late]).items():
        dynamodb.update_item(**counts.update(store.table_name, key, added))

    again = [store._settle(run) for run in counts.settlements(store.table_name, stale, scope)]

    assert again == [{f"100#M#{member}"}]  # cancelled: read again
    run_to_end(Cascade(store, time_margin_ms=1000), parent)
    assert count_of(member) == 2
    assert not [i for i in table_items() if i["SK"]["S"].startswith(f"C#{doomed:016d}")]


def test_a_member_with_years_of_a_type_s_counts_is_settled_in_one_step(dynamodb: Any, table_items: Any) -> None:
    """Its type's count items are settled 49 at a time, as many transactions as they take (a day a year for more
    than a year: 400 day items and their months and years), none of them a failure."""
    from datetime import UTC, datetime, timedelta

    from emma_events import counts
    from emma_events.domain import MemberEvent
    from emma_events.layout import event_item

    member, doomed, kept = new_member(), create_type(100, "doomed"), create_type(100, "kept")
    first = datetime(2024, 1, 1, 12, tzinfo=UTC)
    days = [first + timedelta(days=day) for day in range(400)]
    events = [MemberEvent(100, 1_000_000 + n, member, doomed, at, at, None, None, None) for n, at in enumerate(days)]
    items = [event_item(event) for event in events]  # and their counts as the API keeps them, written at once
    items += [
        {"PK": {"S": pk}, "SK": {"S": sk}} | {name: {"N": str(n)} for name, n in added.items()}
        for (pk, sk), added in counts.increments(events).items()
    ]
    for start in range(0, len(items), 25):
        batch = [{"PutRequest": {"Item": item}} for item in items[start : start + 25]]
        dynamodb.batch_write_item(RequestItems={os.environ["TABLE_NAME"]: batch})
    seed_events(member, kept, 2, at=first, first_id=2_000_000)
    driver = CascadeDriver()

    assert delete_type(100, doomed).status == 200
    driver.drain()

    assert_cascaded(table_items, doomed)
    assert count_of(member) == 2
    assert not [i for i in table_items() if i["SK"]["S"].startswith(f"C#{doomed:016d}")]
    delivered = [record["eventID"] for record in driver.delivered]
    assert len(delivered) == len(set(delivered))  # no record delivered twice: no step failed


def test_the_ranges_of_a_batch_are_deleted_side_by_side(
    dynamodb: Any, table_items: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch's records are ranges of a cascade: each is stepped in a thread of its own (one after another, the
    first range's read would wait for the others in vain)."""
    from emma_events.cascade_store import CascadeStore

    member, doomed = new_member(), create_type(100, "doomed")
    seed_events(member, doomed, 30)
    batch = 10  # the mapping's BatchSize: the first batch of the cascade's 17 cursors
    together = threading.Barrier(batch, timeout=10)
    reads = iter(range(10**6))
    read = CascadeStore.parent_event_keys

    def meeting(self: CascadeStore, *args: Any) -> Any:
        if next(reads) < batch:
            together.wait()  # every range of the batch has begun its first read
        return read(self, *args)

    monkeypatch.setattr(CascadeStore, "parent_event_keys", meeting)
    driver = CascadeDriver()
    delete_type(100, doomed)
    driver.drain()

    assert not together.broken
    assert max(len(records) for records in driver.invocations) == batch
    assert_cascaded(table_items, doomed)


def test_a_step_delivered_again_leaves_its_range_s_chain_as_it_is(dynamodb: Any, table_items: Any) -> None:
    """A range's record delivered twice (the stream retries from the first failure of a batch, successes after it
    too): the second step deletes what is left and writes no checkpoint over the first's, so that the range goes
    on as one chain of steps."""
    from emma_events.cascade import Cascade
    from emma_events.cascade_store import CascadeStore
    from emma_events.domain import Parent
    from emma_events.stores import Stores

    member, doomed = new_member(), create_type(100, "doomed")
    seed_events(member, doomed, 40)
    store = Stores.of_this_container().cascades
    parent, part = Parent("event_type", 100, doomed), str(member % 16)
    store.begin(parent, settled_at=0)
    cursor_key = store._cursor_key(parent, part)
    first = CascadeStore.cascade_of(dynamodb.get_item(TableName=store.table_name, Key=cursor_key)["Item"])
    cascade = Cascade(store, time_margin_ms=1000, page_size=10)

    cascade.step(first, BudgetContext(checks=1))  # one page, then a checkpoint
    saved = dynamodb.get_item(TableName=store.table_name, Key=cursor_key)["Item"]
    cascade.step(first, BudgetContext(checks=1))  # the same record again: the next page (the first is gone)

    assert dynamodb.get_item(TableName=store.table_name, Key=cursor_key)["Item"] == saved
    assert int(saved["steps"]["N"]) == 1
    assert len(events_of(table_items, event_type_id=doomed)) == 20  # what either step read is deleted

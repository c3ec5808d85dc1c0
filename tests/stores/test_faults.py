"""DynamoDB throttling and transient errors, injected at the HTTP layer of botocore: the SDK's own retries
run, then the request either succeeds or the client gets 503 with Retry-After, and nothing is half-written."""

from __future__ import annotations

from typing import Any

import pytest
from helpers import assert_problem, create_type, delete_type, entities, events_of, new_member, post_events, seed_events
from streams import CascadeDriver

from devtools.testing.events import api_event
from devtools.testing.in_process import invoke

# The faults are injected into moto itself: the fast tier only.
pytestmark = pytest.mark.moto_only


def throttle(
    monkeypatch: pytest.MonkeyPatch, action: str, times: int, code: str = "ThrottlingException"
) -> dict[str, int]:
    """Make moto answer the next ``times`` calls of ``action`` (e.g. ``transact_write_items``) with a 400
    throttling error, before it touches any data: the SDK sees what DynamoDB would send and retries."""
    from moto.core.exceptions import JsonRESTError
    from moto.dynamodb.responses import DynamoHandler

    state = {"left": times, "calls": 0}
    original = getattr(DynamoHandler, action)

    def throttled(self: Any) -> Any:
        state["calls"] += 1
        if state["left"] > 0:
            state["left"] -= 1
            raise JsonRESTError(code, "Rate of requests exceeds the allowed throughput.")
        return original(self)

    monkeypatch.setattr(DynamoHandler, action, throttled)
    return state


@pytest.fixture(autouse=True)
def sdk_backoff_without_waiting(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The SDK's retries run as they would (same count, same decisions), without sleeping through its backoff."""
    import types

    import botocore.endpoint

    waits: list[float] = []
    monkeypatch.setattr(botocore.endpoint, "time", types.SimpleNamespace(sleep=waits.append))
    return waits


@pytest.fixture
def stores_client(dynamodb: Any) -> Any:
    from emma_events import stores

    return stores.client()


def stored(table_items: Any) -> list[Any]:
    return entities(table_items, "member_event")


def test_a_throttled_write_that_the_sdk_retries_succeeds(
    stores_client: Any, table_items: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    member, click = new_member(), create_type(100, "click")
    state = throttle(monkeypatch, "transact_write_items", times=2)

    result = post_events(100, [{"member_id": member, "event_type_id": click}] * 3)

    assert result.status == 200, result.body
    assert state["calls"] == 3  # two throttled attempts, then the SDK's third went through
    assert len(stored(table_items)) == 3


@pytest.mark.parametrize("code", ["ThrottlingException", "ProvisionedThroughputExceededException"])
def test_throttling_beyond_the_sdk_retries_is_503_and_writes_nothing(
    stores_client: Any, table_items: Any, code: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    member, click = new_member(), create_type(100, "click")
    state = throttle(monkeypatch, "transact_write_items", times=100, code=code)

    result = post_events(100, [{"member_id": member, "event_type_id": click}] * 3)

    assert_problem(result, 503)
    assert result.headers["Retry-After"] == "1"
    # botocore's retries (at most the first attempt and max_attempts (4) retries), as many as fit the invocation
    assert 1 < state["calls"] <= 5
    assert stored(table_items) == []


def test_a_throttled_cascade_is_retried_by_the_stream_and_completes(
    stores_client: Any, table_items: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    member, doomed = new_member(), create_type(100, "doomed")
    seed_events(member, doomed, 60)
    driver = CascadeDriver()
    delete_type(100, doomed)
    throttle(monkeypatch, "batch_write_item", times=9)  # more than one call survives: 5 attempts each

    driver.drain()

    assert events_of(table_items, event_type_id=doomed) == []


def test_unprocessed_items_are_retried_until_deleted(stores_client: Any, table_items: Any) -> None:
    from emma_events.stores import cascades

    member, doomed = new_member(), create_type(100, "doomed")
    seed_events(member, doomed, 30)
    keys = [{"PK": i["PK"], "SK": i["SK"]} for i in events_of(table_items, event_type_id=doomed)]
    original = stores_client.batch_write_item
    calls = {"n": 0}

    def half_processed(**kwargs: Any) -> Any:
        calls["n"] += 1
        requests = next(iter(kwargs["RequestItems"].values()))
        table = next(iter(kwargs["RequestItems"]))
        if calls["n"] == 1 and len(requests) > 1:
            original(RequestItems={table: requests[: len(requests) // 2]})
            return {"UnprocessedItems": {table: requests[len(requests) // 2 :]}}
        return original(**kwargs)

    stores_client.batch_write_item = half_processed
    try:
        assert cascades().delete_keys(keys) == 30
    finally:
        stores_client.batch_write_item = original
    assert events_of(table_items, event_type_id=doomed) == []
    assert calls["n"] == 3  # 25 (half unprocessed), the other half again, then the last 5


def conflict(monkeypatch: pytest.MonkeyPatch, should_conflict: Any) -> dict[str, int]:
    """Make moto cancel the transactions ``should_conflict(call_number)`` picks with ``TransactionConflict``
    reasons, before touching any data, as DynamoDB cancels concurrent transactions on one item (ConditionChecks
    included). Neither moto nor DynamoDB Local produces conflicts: both serialize transactions."""
    import json as json_module

    from moto.dynamodb.exceptions import TransactionCanceledException
    from moto.dynamodb.responses import DynamoHandler

    state = {"calls": 0, "conflicts": 0}
    original = DynamoHandler.transact_write_items

    def conflicting(self: Any) -> Any:
        state["calls"] += 1
        if should_conflict(state["calls"]):
            state["conflicts"] += 1
            body = self.body if isinstance(self.body, dict) else json_module.loads(self.body)
            size = len(body["TransactItems"])
            raise TransactionCanceledException([("TransactionConflict", "Transaction is ongoing", None)] * size)
        return original(self)

    monkeypatch.setattr(DynamoHandler, "transact_write_items", conflicting)
    return state


def test_a_conflicting_transaction_is_retried_with_the_same_ids(
    stores_client: Any, table_items: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    member, click = new_member(), create_type(100, "click")
    state = conflict(monkeypatch, lambda call: call <= 3)

    result = post_events(100, [{"member_id": member, "event_type_id": click}] * 3)

    assert result.status == 200, result.body
    assert state["conflicts"] == 3
    assert [e["event_id"] for e in result.body] == [1, 2, 3]  # no range of ids burnt per attempt
    assert len(stored(table_items)) == 3


def test_a_burst_of_posts_for_one_type_all_succeed_despite_conflicts(
    stores_client: Any, table_items: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """50 concurrent POSTs for one type (the usage plan allows bursts of 180); a third of the transactions are
    cancelled as DynamoDB cancels concurrent ones on the same type item."""
    import random
    import threading

    from devtools.testing.in_process import LambdaContext

    # 50 invocations share one in-process moto here and wait for each other; on Lambda each has its own time.
    monkeypatch.setattr(LambdaContext, "get_remaining_time_in_millis", lambda self: 60_000)
    member, click = new_member(), create_type(100, "click")
    chance = random.Random(7)  # noqa: S311 - a reproducible test, not a secret
    state = conflict(monkeypatch, lambda call: chance.random() < 1 / 3)
    statuses: list[int] = []
    start = threading.Barrier(50)

    def poster() -> None:
        start.wait()
        statuses.append(post_events(100, [{"member_id": member, "event_type_id": click}] * 2).status)

    threads = [threading.Thread(target=poster) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert statuses == [200] * 50
    assert state["conflicts"] > 10
    ids = sorted(int(item["event_id"]["N"]) for item in stored(table_items))
    assert ids == list(range(1, 101))  # every event once, and no id burnt by a retry


@pytest.mark.parametrize("seconds_left", [7.0, 3.0])
def test_a_slow_database_is_a_503_before_the_function_times_out(
    stores_client: Any, table_items: Any, monkeypatch: pytest.MonkeyPatch, seconds_left: float
) -> None:
    """The SDK alone would retry for up to ~20 s, past the function's timeout (API Gateway would then answer 502
    and never the documented 503). Its attempts stop when one could not end within the invocation's time."""
    import time

    from devtools.testing.in_process import LambdaContext, load_function

    class Hurried(LambdaContext):
        def get_remaining_time_in_millis(self) -> int:
            return int(seconds_left * 1000)

    member, click = new_member(), create_type(100, "click")
    state = throttle(monkeypatch, "transact_write_items", times=100)
    event = api_event_for_post(member, click)
    started = time.monotonic()
    response = load_function("create_member_events").lambda_handler(event, Hurried())
    elapsed = time.monotonic() - started

    headers = {
        **(response.get("headers") or {}),
        **{k: v[-1] for k, v in (response.get("multiValueHeaders") or {}).items()},
    }
    assert response["statusCode"] == 503, response
    assert headers["Retry-After"] == "1"
    assert elapsed < seconds_left - 0.5
    assert state["calls"] < 5  # stopped before the SDK's own limit
    assert stored(table_items) == []


def api_event_for_post(member: int, event_type: int) -> dict[str, Any]:
    event = api_event("create_member_events", body={"events": [{"member_id": member, "event_type_id": event_type}]})
    event["headers"].pop("Idempotency-Key")
    event["multiValueHeaders"].pop("Idempotency-Key")
    return event


def lose_the_first_answer(monkeypatch: pytest.MonkeyPatch, client: Any, operation: str) -> dict[str, int]:
    """The first ``operation`` call is written, but its answer is lost: the SDK sends the same request again (as
    botocore does on a read timeout, with the same ClientRequestToken, which moto ignores)."""
    state = {"sent": 0, "reads_after": 0}  # reads_after: GetItem calls after the resend (none: its failed condition
    original = client._make_api_call  # returned the item as it found it)

    def resent(name: str, params: dict[str, Any]) -> Any:
        if name == operation and state["sent"] == 0:
            state["sent"] += 1
            original(name, params)  # written; the answer never arrives
        if name == operation:
            state["sent"] += 1
        elif name == "GetItem" and state["sent"] >= 2:
            state["reads_after"] += 1
        return original(name, params)

    monkeypatch.setattr(client, "_make_api_call", resent)
    return state


def test_a_lost_answer_to_creating_a_type_is_still_a_success(
    stores_client: Any, table_items: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = lose_the_first_answer(monkeypatch, stores_client, "TransactWriteItems")
    created = invoke("create_event_type", api_event("create_event_type"))
    assert created.status == 200, created.body
    assert (state["sent"], state["reads_after"]) == (2, 0)
    types = entities(table_items, "event_type")
    assert [int(t["event_type_id"]["N"]) for t in types] == [created.body["event_type_id"]]


def test_a_lost_answer_to_adding_a_member_is_still_added(
    stores_client: Any, table_items: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = lose_the_first_answer(monkeypatch, stores_client, "TransactWriteItems")
    added = invoke("add_member", api_event("add_member"))
    assert added.status == 200, added.body
    assert added.body["added"] is True
    assert (state["sent"], state["reads_after"]) == (2, 0)
    assert len(entities(table_items, "member")) == 1


def test_a_lost_answer_to_posting_events_writes_them_once(
    stores_client: Any, table_items: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    member, click = new_member(), create_type(100, "click")
    state = lose_the_first_answer(monkeypatch, stores_client, "TransactWriteItems")
    result = post_events(100, [{"member_id": member, "event_type_id": click}] * 3)
    assert result.status == 200, result.body
    assert (state["sent"], state["reads_after"]) == (2, 0)
    assert sorted(int(i["event_id"]["N"]) for i in stored(table_items)) == [e["event_id"] for e in result.body]


def test_a_lost_answer_to_renaming_a_type_is_still_renamed(
    stores_client: Any, table_items: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    type_id = create_type(100, "click")
    state = lose_the_first_answer(monkeypatch, stores_client, "TransactWriteItems")
    body = {"event_type": "tap", "display_name": "Tap"}
    renamed = invoke("update_event_type", api_event("update_event_type", path={"event_type_id": type_id}, body=body))
    assert renamed.status == 200, renamed.body
    assert (renamed.body["event_type"], renamed.body["display_name"]) == ("tap", "Tap")
    assert (state["sent"], state["reads_after"]) == (2, 0)
    assert [t["event_type"]["S"] for t in entities(table_items, "event_type")] == ["tap"]
    assert create_type(100, "click")  # the old name was freed


def test_a_lost_answer_to_deleting_a_type_is_still_deleted(
    stores_client: Any, table_items: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    type_id = create_type(100, "click")
    state = lose_the_first_answer(monkeypatch, stores_client, "TransactWriteItems")
    deleted = delete_type(100, type_id)
    assert deleted.status == 200, deleted.body
    assert deleted.body is True
    assert (state["sent"], state["reads_after"]) == (2, 0)
    assert entities(table_items, "event_type") == []
    assert delete_type(100, type_id).status == 404  # a later delete of it is still a 404


def test_a_lost_answer_to_deleting_a_member_is_still_deleted(
    stores_client: Any, table_items: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    member = new_member()
    state = lose_the_first_answer(monkeypatch, stores_client, "TransactWriteItems")
    deleted = invoke("delete_member", api_event("delete_member", path={"member_id": member}))
    assert deleted.status == 200, deleted.body
    assert (state["sent"], state["reads_after"]) == (2, 0)
    assert entities(table_items, "member") == []
    assert new_member() != member  # the email was freed (and ids are never reused)


def test_a_members_index_still_being_built_is_a_503_not_a_500(monkeypatch: pytest.MonkeyPatch, dynamodb: Any) -> None:
    """A deploy that adds the Members index leaves it backfilling for a while on AWS (no emulator shows it):
    DynamoDB refuses its Queries with a ValidationException, which the listing answers 503 with Retry-After."""
    from moto.core.exceptions import JsonRESTError
    from moto.dynamodb.responses import DynamoHandler

    new_member()
    original = DynamoHandler.query

    def backfilling(self: Any) -> Any:
        if self.body.get("IndexName") == "Members":  # moto keeps the parsed request here
            raise JsonRESTError("ValidationException", "Cannot read from backfilling global secondary index: Members")
        return original(self)

    monkeypatch.setattr(DynamoHandler, "query", backfilling)
    result = invoke("list_members", api_event("list_members"))
    assert_problem(result, 503)
    assert "Retry-After" in result.headers
    assert invoke("list_members", api_event("list_members", query={"count": "true"})).body == 1

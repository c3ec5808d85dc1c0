"""Every recorded member event on EventBridge: PutEvents batching, retries of refused entries, and the stream
consumer's report of what could not be published (the HTTP test of the whole path is in test_local_stack_http)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from streams import FakeEventBridge

from devtools.testing.events import load_event
from devtools.testing.in_process import LambdaContext, load_function
from emma_events import publisher
from emma_events.publisher import MAX_CALL_BYTES, Publisher, PublishFailed, batches, entry, entry_size


def numbered(count: int, padding: int = 0) -> list[dict[str, Any]]:
    return [entry("Member Event Recorded", {"event_id": n, "pad": "x" * padding}, "bus") for n in range(count)]


def test_entries_go_out_ten_to_a_call_in_order() -> None:
    groups = list(batches(numbered(25)))
    assert [len(g) for g in groups] == [10, 10, 5]
    assert [json.loads(e["Detail"])["event_id"] for g in groups for e in g] == list(range(25))


def test_a_call_stays_under_256_kb_of_entries() -> None:
    entries = numbered(10, padding=32_000)  # ten events with 32 KB of attributes: ~320 KB in all
    groups = list(batches(entries))
    assert len(groups) == 2
    assert all(sum(entry_size(e) for e in g) < MAX_CALL_BYTES for g in groups)
    assert entry_size(entries[0]) == len("emma-events") + len("Member Event Recorded") + len(entries[0]["Detail"])


def test_a_batch_of_100_goes_out_in_ten_calls_side_by_side() -> None:
    """A stream batch of 100 records (the mapping's BatchSize) costs one call's latency, not ten."""
    import threading

    together = threading.Barrier(publisher.CALLS_IN_FLIGHT, timeout=10)

    class Concurrent(FakeEventBridge):
        def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:
            together.wait()  # every call has started before any is answered
            return super().put_events(Entries)

    client = Concurrent()
    assert Publisher(client, retry_delay_s=0).publish(numbered(100)) == 10
    sent = sorted(json.loads(e["Detail"])["event_id"] for call in client.calls for e in call)
    assert sent == list(range(100))


def test_a_call_that_fails_outright_fails_its_own_entries_only() -> None:
    """PutEvents throttled past the SDK's retries for one call of a batch: that call's 10 entries are refused (their
    records go back to the stream), the other calls' are published."""
    from botocore.exceptions import ClientError

    class Throttled(FakeEventBridge):
        def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:
            if json.loads(Entries[0]["Detail"])["event_id"] == 10:
                raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, "PutEvents")
            return super().put_events(Entries)

    client = Throttled()
    with pytest.raises(PublishFailed) as failed:
        Publisher(client, retry_delay_s=0).publish(numbered(30))
    assert sorted(json.loads(item["Detail"])["event_id"] for item, _ in failed.value.failed) == list(range(10, 20))
    assert {code for _, code in failed.value.failed} == {"ThrottlingException"}
    published = sorted(json.loads(e["Detail"])["event_id"] for call in client.calls for e in call)
    assert published == [*range(10), *range(20, 30)]


def test_refused_entries_are_sent_again_alone_and_in_order() -> None:
    client = FakeEventBridge(refuse=lambda call, item: call == 1 and json.loads(item["Detail"])["event_id"] in (1, 3))
    calls = Publisher(client, retry_delay_s=0).publish(numbered(5))
    assert calls == 2
    assert [json.loads(e["Detail"])["event_id"] for e in client.calls[1]] == [1, 3]


def test_entries_refused_on_every_attempt_raise_naming_them() -> None:
    client = FakeEventBridge(refuse=lambda call, item: json.loads(item["Detail"])["event_id"] == 2)
    with pytest.raises(PublishFailed) as failed:
        Publisher(client, retry_delay_s=0).publish(numbered(4))
    assert [json.loads(item["Detail"])["event_id"] for item, _ in failed.value.failed] == [2]
    assert [code for _, code in failed.value.failed] == ["ThrottlingException"]
    assert len(client.calls) == publisher.PUT_EVENTS_CALLS


def test_retries_wait_exponentially_with_jitter(monkeypatch: pytest.MonkeyPatch) -> None:
    """Publishers that were refused together do not retry in step: each wait is a draw under the doubling bound."""
    from emma_events import retry

    waits: list[float] = []
    monkeypatch.setattr(retry.time, "sleep", waits.append)
    for _ in range(20):
        client = FakeEventBridge(refuse=lambda call, item: call < 3)  # refused twice, then accepted
        assert Publisher(client, retry_delay_s=0.1).publish(numbered(1)) == 3
    first, second = waits[0::2], waits[1::2]
    assert all(0 <= w <= 0.1 for w in first)
    assert all(0 <= w <= 0.2 for w in second)
    assert len(set(first)) > 1  # not one fixed delay shared by every publisher


def records_of(count: int) -> dict[str, Any]:
    """The events/ stream record, ``count`` times, each its own event and sequence number."""
    template = load_event("publish_events")["Records"][0]
    records = []
    for n in range(1, count + 1):
        record = json.loads(json.dumps(template))
        record["dynamodb"]["NewImage"]["event_id"] = {"N": str(n)}
        record["dynamodb"]["SequenceNumber"] = f"{n:024d}"
        records.append(record)
    return {"Records": records}


@pytest.mark.moto_only  # the consumer's stats read and write the table; the events' types are not in it
def test_the_stream_consumer_publishes_each_event_as_the_api_returns_it(
    dynamodb: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = FakeEventBridge()
    module = load_function("publish_events")
    monkeypatch.setattr(module, "publisher", Publisher(client, retry_delay_s=0))

    answer = module.lambda_handler(records_of(3), LambdaContext(function_name="publish"))

    assert answer == {"batchItemFailures": []}
    (sent,) = client.calls  # three records, one PutEvents call
    assert [(e["Source"], e["DetailType"], e["EventBusName"]) for e in sent] == [
        ("emma-events", "Member Event Recorded", "default")
    ] * 3
    assert json.loads(sent[0]["Detail"]) == {
        "event_id": 1,
        "account_id": 100,
        "member_id": 1,
        "event_type_id": 1,
        "event_timestamp": "@D:2026-11-26T12:00:00",
        "inserted_at": "@D:2026-11-26T12:00:00",
        "event_monetary_value": 19.99,
        "mailing_id": None,
        "attributes": {"sku": "A-1"},
    }


@pytest.mark.moto_only
def test_records_whose_events_were_not_published_are_reported_for_the_stream_to_retry(
    dynamodb: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = FakeEventBridge(refuse=lambda call, item: json.loads(item["Detail"])["event_id"] == 2)
    module = load_function("publish_events")
    monkeypatch.setattr(module, "publisher", Publisher(client, retry_delay_s=0))

    answer = module.lambda_handler(records_of(3), LambdaContext(function_name="publish"))

    assert answer == {"batchItemFailures": [{"itemIdentifier": f"{2:024d}"}]}

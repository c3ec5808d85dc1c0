"""The API's metrics: one CloudWatch embedded-metric document per request, written with the logs (no API call),
with the business counts and the request's outcome, and the account id as a property, never a dimension."""

from __future__ import annotations

import json
from typing import Any

import pytest
from helpers import add_member, create_type, new_member, post_events

from devtools.testing.events import api_event
from devtools.testing.in_process import invoke

pytestmark = pytest.mark.stores  # on moto, then again on DynamoDB Local


def documents(output: str) -> list[dict[str, Any]]:
    """The embedded-metric documents among the lines a function printed."""
    lines = [json.loads(line) for line in output.splitlines() if line.startswith('{"_aws"')]
    return [line for line in lines if "CloudWatchMetrics" in line["_aws"]]


def counted(document: dict[str, Any]) -> dict[str, float]:
    (directive,) = document["_aws"]["CloudWatchMetrics"]
    return {m["Name"]: sum(document[m["Name"]]) for m in directive["Metrics"]}


def last_request(capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    *_, document = documents(capsys.readouterr().out)
    return document


def test_recorded_events_are_counted_once_with_the_account_as_a_property(
    dynamodb: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    member, click = new_member(), create_type(100, "click")
    capsys.readouterr()
    key = {"Idempotency-Key": "metrics-1"}

    assert post_events(100, [{"member_id": member, "event_type_id": click}] * 3, key).status == 200
    first = last_request(capsys)
    assert post_events(100, [{"member_id": member, "event_type_id": click}] * 3, key).status == 200
    replayed = last_request(capsys)

    assert counted(first) == {"EventsRecorded": 3, "Requests2xx": 1}
    assert counted(replayed) == {"Requests2xx": 1}  # the retry recorded nothing
    assert first["account_id"] == "100"
    (directive,) = first["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == "EmmaEvents"
    assert directive["Dimensions"] == [["service"]]  # never the account: one metric per account would cost dearly


def test_types_and_members_are_counted_when_created_or_deleted(
    dynamodb: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    type_id = create_type(100, "purchase")
    assert counted(last_request(capsys)) == {"EventTypesCreated": 1, "Requests2xx": 1}
    invoke("delete_event_type", api_event("delete_event_type", path={"account_id": 100, "event_type_id": type_id}))
    assert counted(last_request(capsys)) == {"EventTypesDeleted": 1, "Requests2xx": 1}
    add_member(100, "grace@example.com")
    assert counted(last_request(capsys)) == {"MembersAdded": 1, "Requests2xx": 1}
    add_member(100, "grace@example.com")  # the same email: the existing member, nothing added
    assert counted(last_request(capsys)) == {"Requests2xx": 1}


def test_each_request_is_counted_by_its_outcome(
    dynamodb: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from emma_events.event_type_store import EventTypeStore

    unknown = api_event("get_event_type", path={"account_id": 100, "event_type_id": 999})
    assert invoke("get_event_type", unknown).status == 404
    assert counted(last_request(capsys)) == {"Requests4xx": 1}

    foreign = api_event("get_event_type", path={"account_id": 100}, authorized_account=200)
    assert invoke("get_event_type", foreign).status == 403  # refused before the resolver runs
    assert counted(last_request(capsys)) == {"Requests4xx": 1}

    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(EventTypeStore, "get_event_type", broken)
    assert invoke("get_event_type", unknown).status == 500
    assert counted(last_request(capsys)) == {"Requests5xx": 1}


def test_a_metrics_document_that_cannot_be_written_never_fails_the_request(
    dynamodb: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Powertools keeps one metric set per process: calls running at once in one process (the in-process tests
    do) can empty it under each other, and writing an empty set raises. The answer stays the request's own."""
    from aws_lambda_powertools.metrics import SchemaValidationError

    from emma_events import observability

    def emptied(*args: Any, **kwargs: Any) -> None:
        raise SchemaValidationError("Must contain at least one metric.")

    monkeypatch.setattr(observability.metrics.provider, "serialize_metric_set", emptied)  # where the emptied set raises
    created = invoke("create_event_type", api_event("create_event_type"))
    assert created.status == 200

"""The end-to-end tier: the API over HTTP at any base URL, the local stack by default, a deployed stage with
``make test-deployed API_URL=… API_KEYS=account:public:private``. It writes only names and addresses tagged with
the run's id and deletes them, so it can run against a stage that holds real data."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from devtools.testing.stage import Stage

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stage(request: pytest.FixtureRequest) -> Iterator[Stage]:
    given = Stage.from_environment()
    if given is not None:
        yield given
        return
    from devtools.testing.stack_process import TEST_KEYS

    local = request.getfixturevalue("api_stack")
    yield Stage(local.base_url, 1089, TEST_KEYS[1089])


def problem(reply: Any, status: int) -> dict[str, Any]:
    assert reply.status == status, reply.text
    assert reply.content_type.startswith("application/problem+json"), reply.headers
    body: dict[str, Any] = reply.json
    assert body["status"] == status
    return body


@pytest.fixture
def event_type(stage: Stage) -> Iterator[dict[str, Any]]:
    created = stage.request("POST", "/events", {"event_type": f"{stage.run}-purchase", "display_name": "E2E"})
    assert created.status == 200, created.text
    yield created.json
    stage.request("DELETE", f"/events/{created.json['event_type_id']}")  # already gone when the test deleted it


@pytest.fixture
def member(stage: Stage) -> Iterator[dict[str, Any]]:
    email = f"{stage.run}@example.com"
    added = stage.request("POST", "/members/add", {"email": email})
    assert added.status == 200, added.text
    # A member that was there before is somebody else's: never record events on it, never delete it.
    assert added.json["added"] is True, f"{email} already exists on the stage: not this run's to use"
    yield {"member_id": added.json["member_id"], "email": email}
    stage.request("DELETE", f"/members/{added.json['member_id']}")


def test_an_event_type_lives_and_dies(stage: Stage, event_type: dict[str, Any]) -> None:
    type_id = event_type["event_type_id"]
    assert event_type["account_id"] == stage.account
    assert re.fullmatch(r"@D:\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", event_type["created_at"])
    assert stage.request("GET", f"/events/{type_id}").json == event_type
    assert problem(stage.request("POST", "/events", {"event_type": event_type["event_type"], "display_name": "x"}), 400)
    renamed = stage.request("PUT", f"/events/{type_id}", {"event_type": f"{stage.run}-order", "display_name": "O"})
    assert renamed.status == 200, renamed.text
    assert renamed.json["event_type"] == f"{stage.run}-order"
    assert stage.request("DELETE", f"/events/{type_id}").json is True
    problem(stage.request("GET", f"/events/{type_id}"), 404)


def test_events_are_recorded_once_listed_paged_and_erased_with_their_member(
    stage: Stage, event_type: dict[str, Any], member: dict[str, Any]
) -> None:
    events = [
        {"email": member["email"], "event_type": event_type["event_type"], "attributes": {"run": stage.run}},
        {"member_id": member["member_id"], "event_type_id": event_type["event_type_id"], "mailing_id": 42},
    ]
    key = {"Idempotency-Key": f"{stage.run}-post"}
    posted = stage.request("POST", "/events/members", {"events": events}, headers=key)
    assert posted.status == 200, posted.text
    assert [e["member_id"] for e in posted.json] == [member["member_id"]] * 2
    again = stage.request("POST", "/events/members", {"events": events}, headers=key)
    assert [e["event_id"] for e in again.json] == [e["event_id"] for e in posted.json]  # exactly once

    listing = f"/events/members/{member['member_id']}"
    assert stage.request("GET", f"{listing}?count=true").json == 2
    first = stage.request("GET", f"{listing}?end=1")
    link = re.search(r"<([^>]+)>", first.headers["link"]).group(1)
    cursor = parse_qs(urlparse(link).query)["cursor"][0]
    rest = stage.request("GET", f"{listing}?cursor={cursor}&limit=1")
    assert [e["event_id"] for e in first.json + rest.json] == sorted(e["event_id"] for e in posted.json)

    forged = base64.urlsafe_b64encode(json.dumps({"a": "EV#~~~~", "f": "x"}).encode()).decode().rstrip("=")
    assert problem(stage.request("GET", f"{listing}?cursor={forged}"), 400)["errors"][0]["field"] == "query.cursor"

    assert stage.request("DELETE", f"/members/{member['member_id']}").json is True
    problem(stage.request("GET", f"/members/{member['member_id']}"), 404)
    replay = stage.request("POST", "/events/members", {"events": events}, headers=key)
    problem(replay, 400)  # erased is erased, the replay included: as the same request sent fresh
    assert "attributes" not in replay.text


def test_errors_are_problem_documents(stage: Stage) -> None:
    errors = problem(stage.request("POST", "/events", {"event_type": ""}), 400)["errors"]
    assert {e["field"] for e in errors} == {"body.event_type", "body.display_name"}
    problem(stage.request("GET", "/events", credentials=("nobody", "wrong")), 401)
    problem(stage.request("GET", "/events", credentials=None), 401)
    problem(stage.request("GET", f"//{stage.account + 1}/events"), 403)  # another account's path, valid keys


def test_bodies_past_each_limit_are_413_and_change_nothing(stage: Stage) -> None:
    """The function's 1 MB (a problem document), Lambda's 6 MB (API Gateway's own answer: AWS documents none, so
    this is where a stage shows which), each for an otherwise valid batch that would record nothing."""
    function = stage.request("POST", "/events/members", {"events": [], "pad": "x" * (1024 * 1024)})
    assert "1048576 bytes" in problem(function, 413)["detail"]
    lambda_ = stage.request("POST", "/events/members", {"events": [], "pad": "x" * (7 * 1024 * 1024)})
    assert lambda_.status == 413, lambda_.text
    assert lambda_.json == {"message": "Request Too Long"} or lambda_.json["status"] == 413

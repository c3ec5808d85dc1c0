"""The local stack over real HTTP: SAM's API Gateway emulation, our worker runtime, the embedded DynamoDB."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest

from devtools.testing.patience import seconds
from devtools.testing.stack_process import INDEX_LAG_S, TEST_KEYS, RunningStack, dynamodb_client

pytestmark = pytest.mark.stores  # on moto, then again on DynamoDB Local

#: The accounts ``account`` hands out, across the run's processes (they share one stack).
ACCOUNTS = range(1000, 1080)


@pytest.fixture(scope="module")
def stack(api_stack: RunningStack) -> RunningStack:
    return api_stack


@pytest.fixture
def account(run_counter: Any) -> int:
    """A fresh account id per test: tests share the stack but never each other's data."""
    number = run_counter("test_http-accounts", ACCOUNTS.start)
    assert number in ACCOUNTS, f"more tests than accounts {ACCOUNTS}"
    return number


def create(stack: RunningStack, account: int, name: str = "purchase") -> Any:
    return stack.request("POST", f"/{account}/events", {"event_type": name, "display_name": name.title()})


def test_the_event_type_lifecycle_over_http(stack: RunningStack, account: int) -> None:
    created = create(stack, account)
    assert created.status == 200, created.text
    assert created.content_type == "application/json"
    type_id = created.json["event_type_id"]
    assert created.json["created_at"].startswith("@D:")

    listed = stack.request("GET", f"/{account}/events")
    assert listed.status == 200
    assert listed.json == [created.json]

    got = stack.request("GET", f"/{account}/events/{type_id}")
    assert got.json == created.json

    renamed = stack.request("PUT", f"/{account}/events/{type_id}", {"event_type": "order", "display_name": "Order"})
    assert renamed.status == 200
    assert renamed.json["event_type"] == "order"

    deleted = stack.request("DELETE", f"/{account}/events/{type_id}")
    assert deleted.status == 200
    assert deleted.text == "true"
    assert stack.request("GET", f"/{account}/events/{type_id}").status == 404
    assert stack.request("GET", f"/{account}/events").json == []


def test_paging_and_count_over_http(stack: RunningStack, account: int) -> None:
    for n in range(3):
        create(stack, account, f"type-{n}")
    assert stack.request("GET", f"/{account}/events?count=true").json == 3
    assert [t["event_type"] for t in stack.request("GET", f"/{account}/events?start=1&end=2").json] == ["type-1"]
    assert stack.request("GET", f"/{account}/events?start=2&end=1").status == 400


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("POST", "/{a}/events", {"event_type": "x"}, 400),
        ("GET", "/{a}/events/abc", None, 400),
        ("GET", "/{a}/events/424242", None, 404),
        ("PUT", "/{a}/events/424242", {"event_type": "x", "display_name": "x"}, 404),
        ("DELETE", "/{a}/events/424242", None, 404),
    ],
)
def test_errors_are_problem_json_over_http(
    stack: RunningStack, account: int, method: str, path: str, body: Any, status: int
) -> None:
    reply = stack.request(method, path.format(a=account), body)
    assert reply.status == status, reply.text
    assert reply.content_type == "application/problem+json"
    assert reply.json["status"] == status


def test_a_body_without_content_type_is_read_as_json(stack: RunningStack, account: int) -> None:
    reply = stack.request(
        "POST", f"/{account}/events", raw=b'{"event_type": "a", "display_name": "A"}', headers={"Content-Type": ""}
    )
    assert reply.status == 200, reply.text


def test_a_form_encoded_body_is_415(stack: RunningStack, account: int) -> None:
    reply = stack.request(
        "POST",
        f"/{account}/events",
        raw=b"event_type=a&display_name=A",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert reply.status == 415
    assert reply.content_type == "application/problem+json"


def test_malformed_json_is_400_naming_the_body(stack: RunningStack, account: int) -> None:
    reply = stack.request("POST", f"/{account}/events", raw=b"{nope")
    assert reply.status == 400
    assert reply.json["errors"][0]["field"] == "body"


def test_a_route_that_does_not_exist_is_answered_by_the_gateway(stack: RunningStack) -> None:
    reply = stack.request("GET", "/100/nothing-here")
    # API Gateway's "Missing Authentication Token", customized by the template's GatewayResponses: a 501, which
    # Emma's clients raise on (EmmaPython reads a 404 as "no such thing": Member.save would drop its fields)
    assert reply.status == 501
    assert reply.content_type == "application/problem+json"
    assert reply.json["type"] == "urn:emma-events:problem:not-implemented"
    assert stack.request("GET", "/100/groups").status == 501  # Emma's, not served here
    assert stack.request("PATCH", "/100/events").status == 501
    # Flask would serve HEAD for every GET route; API Gateway has no HEAD method on them: its missing route.
    head = stack.request("HEAD", "/100/events")
    assert (head.status, head.headers["content-type"]) == (501, "application/problem+json")


def test_a_refused_key_is_one_info_line_in_the_log_not_an_error(stack: RunningStack) -> None:
    logged = len(stack.log())
    assert stack.request("GET", "/100/events", auth=("nobody", "wrong")).status == 401
    assert stack.request("GET", "/1000/events", auth=TEST_KEYS[100]).status == 403  # another account's path
    new_lines = stack.log()[logged:]
    assert "GET /100/events -> 401" in new_lines
    assert "GET /1000/events -> 403" in new_lines
    assert "Traceback" not in new_lines
    assert " ERROR " not in new_lines


def test_parallel_creations_all_succeed_with_distinct_ids(stack: RunningStack, account: int) -> None:
    replies: list[Any] = [None] * 12

    def run(index: int) -> None:
        replies[index] = create(stack, account, f"parallel-{index}")

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(replies))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [r.status for r in replies] == [200] * 12
    assert len({r.json["event_type_id"] for r in replies}) == 12
    assert stack.request("GET", f"/{account}/events?count=true").json == 12


def test_parallel_creations_of_one_name_exactly_one_wins(stack: RunningStack, account: int) -> None:
    replies: list[Any] = [None] * 6
    barrier = threading.Barrier(len(replies))

    def run(index: int) -> None:
        barrier.wait()
        replies[index] = create(stack, account, "contested")

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(replies))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(r.status for r in replies) == [200] + [400] * 5
    assert stack.request("GET", f"/{account}/events?count=true").json == 1


def test_members_and_member_events_over_http(stack: RunningStack, account: int) -> None:
    type_id = create(stack, account).json["event_type_id"]
    added = stack.request("POST", f"/{account}/members/add", {"email": "Ada@Example.com", "fields": {"tier": "gold"}})
    assert added.status == 200, added.text
    member_id = added.json["member_id"]
    assert added.json == {"member_id": member_id, "added": True, "status": "a"}
    assert stack.request("POST", f"/{account}/members/add", {"email": "ada@example.com"}).json["added"] is False
    assert stack.request("GET", f"/{account}/members/{member_id}").json["fields"] == {"tier": "gold"}
    assert stack.request("GET", f"/{account}/members/email/ada%40example.com").json["member_id"] == member_id

    batch = [
        {"email": "ada@example.com", "event_type": "purchase", "event_monetary_value": 19.99, "event_timestamp": t}
        for t in ("2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z", "2026-01-03T00:00:00Z")
    ]
    posted = stack.request("POST", f"/{account}/events/members", {"events": batch}, headers={"Idempotency-Key": "h-1"})
    assert posted.status == 200, posted.text
    assert [e["event_monetary_value"] for e in posted.json] == [19.99] * 3
    assert all(e["event_type_id"] == type_id for e in posted.json)
    replay = stack.request("POST", f"/{account}/events/members", {"events": batch}, headers={"Idempotency-Key": "h-1"})
    assert replay.json == posted.json

    page = stack.request("GET", f"/{account}/events/members/{member_id}?end=2")
    assert [e["event_id"] for e in page.json] == [e["event_id"] for e in posted.json[:2]]
    link = page.headers["link"]
    assert link.startswith(f"</{account}/events/members/{member_id}?cursor="), link
    rest = stack.request("GET", link[1 : link.index(">")])
    assert [e["event_id"] for e in rest.json] == [posted.json[2]["event_id"]]
    assert "link" not in rest.headers
    assert stack.request("GET", f"/{account}/events/members/{member_id}?count=true").json == 3

    bad = stack.request(
        "POST", f"/{account}/events/members", {"events": [{"member_id": 999999, "event_type_id": type_id}]}
    )
    assert bad.status == 400
    assert bad.json["errors"][0]["field"] == "body.events.0.member_id"

    assert stack.request("DELETE", f"/{account}/members/{member_id}").text == "true"
    assert stack.request("GET", f"/{account}/members/{member_id}").status == 404


def test_deleting_a_type_or_member_removes_their_events_within_seconds(stack: RunningStack, account: int) -> None:
    import time

    doomed = create(stack, account, "doomed").json["event_type_id"]
    create(stack, account, "kept")
    ada = stack.request("POST", f"/{account}/members/add", {"email": "ada@example.com"}).json["member_id"]
    bob = stack.request("POST", f"/{account}/members/add", {"email": "bob@example.com"}).json["member_id"]
    for member in (ada, bob):
        events = [{"member_id": member, "event_type": name} for name in ("doomed", "kept", "doomed")]
        assert stack.request("POST", f"/{account}/events/members", {"events": events}).status == 200

    assert stack.request("DELETE", f"/{account}/events/{doomed}").status == 200
    assert stack.request("DELETE", f"/{account}/members/{bob}").status == 200

    deadline = time.monotonic() + seconds(15)
    while time.monotonic() < deadline:
        remaining = stack.request("GET", f"/{account}/events/members/{ada}").json
        if all(e["event_type_id"] != doomed for e in remaining):
            break
        time.sleep(0.2)
    assert [e["event_type_id"] != doomed for e in remaining] == [True], "\n".join(
        line for line in stack.log().splitlines() if "cascade" in line.lower() or "stream" in line.lower()
    )[-5000:]  # only "kept" is left
    assert stack.request("GET", f"/{account}/events/members/{bob}").status == 404

    # Bob's events are gone from the table too (read straight from the stack's embedded DynamoDB).
    client = dynamodb_client(stack.store_endpoint())

    def bobs_items() -> list[object]:
        return client.query(
            TableName="EventsTable",
            KeyConditionExpression="PK = :pk",
            ExpressionAttributeValues={":pk": {"S": f"{account}#M#{bob}"}},
        )["Items"]

    # a type's cascade waits once for its index (INDEX_LAG_S), in one stream lane; the local stack has one lane, so
    # Bob's cascade may queue behind that wait (on AWS: when its records hash to the same of the shard's ten lanes)
    deadline = time.monotonic() + seconds(15) + INDEX_LAG_S
    while bobs_items() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert bobs_items() == []


def test_the_stack_serves_the_openapi_document_and_swagger_ui_without_credentials(stack: RunningStack) -> None:
    import json

    from devtools.contract.openapi import DOCUMENT

    document = stack.request("GET", "/openapi.json", auth=None)
    assert document.status == 200
    assert document.json == json.loads(DOCUMENT.read_text())
    page = stack.request("GET", "/docs", auth=None)
    assert page.status == 200
    assert "SwaggerUIBundle" in page.text
    as_json = stack.request("GET", "/docs?format=json", auth=None)
    assert (as_json.status, as_json.content_type, as_json.json) == (200, "application/json", document.json)
    assert f"{stack.base_url}/docs" in stack.log()  # the banner lists it


def test_the_console_has_one_line_per_request_and_no_metrics(stack: RunningStack, account: int) -> None:
    create(stack, account, "logged")
    assert stack.request("GET", f"/{account}/events").status == 200
    log = stack.log()
    assert f"POST /{account}/events -> 200" in log
    assert f"GET /{account}/events -> 200" in log
    assert '"_aws"' not in log  # the functions' embedded metrics: only with --metrics


def test_a_body_that_is_not_utf8_is_a_400_not_a_server_error(stack: RunningStack, account: int) -> None:
    reply = stack.request("POST", f"/{account}/events", raw=b'{"event_type": "\xff\xfe"}')
    assert reply.status == 400, reply.text
    assert reply.content_type == "application/problem+json"


def published(stack: RunningStack, account: int, detail_type: str) -> list[dict[str, Any]]:
    """What the stack put on EventBridge for ``account``, with each ``Detail`` parsed."""
    reply = stack.request("GET", "/_local/eventbridge", auth=None)
    assert reply.status == 200, reply.text
    entries = [entry | {"Detail": json.loads(entry["Detail"])} for entry in reply.json]
    return [e for e in entries if e["DetailType"] == detail_type and e["Detail"]["account_id"] == account]


def wait_for(condition: Any, quiet_s: float = 15) -> Any:
    deadline = time.monotonic() + seconds(quiet_s)
    while not (found := condition()) and time.monotonic() < deadline:
        time.sleep(0.2)
    return found


def test_a_posted_event_comes_out_on_eventbridge_exactly_once_with_its_body(stack: RunningStack, account: int) -> None:
    create(stack, account, "purchase")
    ada = stack.request("POST", f"/{account}/members/add", {"email": "ada@example.com"}).json["member_id"]
    body = {"member_id": ada, "event_type": "purchase", "event_monetary_value": 19.99, "attributes": {"sku": "A-1"}}
    posted = stack.request("POST", f"/{account}/events/members", {"events": [body]})
    assert posted.status == 200, posted.text
    refused = stack.request("POST", f"/{account}/events/members", {"events": [body, body | {"member_id": ada + 99}]})
    assert refused.status == 400  # a rejected batch publishes nothing

    found = wait_for(lambda: published(stack, account, "Member Event Recorded"))
    time.sleep(2)  # anything published twice, or for the rejected batch, has arrived by now too
    found = published(stack, account, "Member Event Recorded")

    assert [entry["Detail"] for entry in found] == posted.json  # the event as the POST answered it, @D: dates
    assert found[0]["Source"] == "emma-events"
    assert found[0]["EventBusName"] == "EventBus"  # the bus the stack creates, by its logical id locally


def test_a_finished_cascade_is_announced_on_eventbridge(stack: RunningStack, account: int) -> None:
    doomed = create(stack, account, "doomed").json["event_type_id"]
    ada = stack.request("POST", f"/{account}/members/add", {"email": "ada@example.com"}).json["member_id"]
    events = [{"member_id": ada, "event_type_id": doomed}] * 3
    assert stack.request("POST", f"/{account}/events/members", {"events": events}).status == 200

    assert stack.request("DELETE", f"/{account}/events/{doomed}").status == 200
    # a type's cascade ends at least CASCADE_INDEX_LAG_SECONDS (INDEX_LAG_S) after the delete: no POST can write then
    types = wait_for(lambda: published(stack, account, "Event Type Deleted"), 15 + INDEX_LAG_S)
    assert [e["Detail"] for e in types] == [{"account_id": account, "event_type_id": doomed, "events_deleted": 3}]
    # the member only then: its cascade, side by side with the type's, would delete those events first
    assert stack.request("DELETE", f"/{account}/members/{ada}").status == 200
    members = wait_for(lambda: published(stack, account, "Member Deleted"))
    assert [e["Detail"]["member_id"] for e in members] == [ada]


@pytest.mark.parametrize("host", ["evil.example", "evil.example:3000", "127.0.0.1.nip.io", "localhost.evil.example"])
def test_a_host_the_stack_does_not_serve_is_421(stack: RunningStack, host: str) -> None:
    """A page whose DNS name was rebound to 127.0.0.1 sends its own name as Host: it reaches nothing."""
    for path in ("/_local/eventbridge", "/100/events"):
        reply = stack.request("GET", path, headers={"Host": host})
        assert reply.status == 421, (host, path, reply.text)
        assert reply.content_type == "application/problem+json"


def test_localhost_and_the_served_address_are_served(stack: RunningStack) -> None:
    port = stack.base_url.rsplit(":", 1)[1]
    for host in (f"localhost:{port}", "localhost", f"127.0.0.1:{port}"):
        assert stack.request("GET", "/_local/eventbridge", headers={"Host": host}).status == 200, host

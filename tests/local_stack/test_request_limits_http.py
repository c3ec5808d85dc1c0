"""What a request may cost, through the local stack: a body past API Gateway's 10 MB is refused from its
Content-Length before it is read, one past Lambda's 6 MB gets the 413 a deployed stage gives, and the function's
own limits (1 MB, the values a body may hold, ids in plain digits, schemas' cost) answer as in process; and the
review's other rows a client meets over HTTP (a schema's JSON types kept, addresses beyond ASCII)."""

from __future__ import annotations

import http.client
import json
import time
from typing import Any
from urllib.parse import urlsplit

import pytest

from devtools.testing.hostile_schemas import ROWS, batch, plan_of
from devtools.testing.patience import seconds
from devtools.testing.stack_process import RunningStack

pytestmark = pytest.mark.stores  # on moto, then again on DynamoDB Local

ACCOUNT = 1095


def _problem(reply: Any, status: int) -> dict[str, Any]:
    assert reply.status == status, (reply.status, reply.text[:300])
    assert reply.content_type == "application/problem+json", reply.headers
    body: dict[str, Any] = reply.json
    assert body["status"] == status
    return body


def test_a_body_past_10_mb_is_refused_before_it_is_read(api_stack: RunningStack) -> None:
    """Only the headers are sent: an answer proves the stack did not wait for the 200 MB they announce."""
    url = urlsplit(api_stack.base_url)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=seconds(30))
    started = time.monotonic()
    connection.putrequest("POST", f"/{ACCOUNT}/events/members")
    connection.putheader("Content-Type", "application/json")
    connection.putheader("Content-Length", str(200 * 1024 * 1024))
    connection.endheaders()
    connection.send(b'{"events": [')
    response = connection.getresponse()
    body = response.read().decode()
    connection.close()
    # API Gateway's own answer, as measured on a stage: plain text, which no gateway response customizes
    assert (response.status, body) == (413, "HTTP content length exceeded 10485760 bytes.")
    assert time.monotonic() - started < 10  # not the 30 s the client would wait for a stack reading on


def test_a_body_past_lambdas_6_mb_gets_api_gateways_413(api_stack: RunningStack) -> None:
    pad = "x" * (7 * 1024 * 1024)
    raw = json.dumps({"events": [], "pad": pad}).encode()
    reply = api_stack.request("POST", f"/{ACCOUNT}/events/members", raw=raw)
    assert (reply.status, reply.json) == (413, {"message": "Request Too Long"})  # as measured on a stage
    # without credentials the authorizer answers first, as on API Gateway (its event carries no body)
    assert api_stack.request("POST", f"/{ACCOUNT}/events/members", raw=raw, auth=None).status == 401


def test_a_body_past_the_functions_1_mb_is_a_413_naming_the_limit(api_stack: RunningStack) -> None:
    raw = json.dumps({"events": [], "pad": "x" * (1024 * 1024)}).encode()
    body = _problem(api_stack.request("POST", f"/{ACCOUNT}/events/members", raw=raw), 413)
    assert "1048576 bytes" in body["detail"]


@pytest.mark.parametrize("pad", ["[[]]", "[{}]", '[""]', "[0]"])
def test_a_body_of_too_many_values_is_a_400_whatever_its_shape(api_stack: RunningStack, pad: str) -> None:
    unit = pad[1:-1]
    filler = "[" + ",".join([unit] * 60_000) + "]"
    raw = ('{"events": [], "pad": ' + filler + "}").encode()
    body = _problem(api_stack.request("POST", f"/{ACCOUNT}/events/members", raw=raw), 400)
    assert body["errors"][0]["field"] == "body"
    assert "values and keys" in body["errors"][0]["message"]


@pytest.mark.parametrize("spelled", ["%2B1", "1%20", "%201", "01", "1.0"])
def test_an_id_in_the_url_is_plain_digits_through_the_stack(api_stack: RunningStack, spelled: str) -> None:
    added = api_stack.request("POST", f"/{ACCOUNT}/members/add", {"email": "plain@example.com"}).json["member_id"]
    assert api_stack.request("GET", f"/{ACCOUNT}/members/{added}").status == 200
    reply = api_stack.request("GET", f"/{ACCOUNT}/members/{spelled.replace('1', str(added))}")
    assert [e["field"] for e in _problem(reply, 400)["errors"]] == ["path.member_id"]


@pytest.mark.parametrize("row", sorted(ROWS))
def test_the_reviews_schema_attacks_are_refused_or_answered_in_time(api_stack: RunningStack, row: str) -> None:
    """Each attack through HTTP: the schema refused (400 naming it), or a batch at the limits answered 200 or 400
    well within the functions' timeout (a 502 would be a function that ran out of time or memory)."""
    from emma_events.attribute_schemas import BATCH_STRING_BYTES, BATCH_VALUES

    schema, plan = ROWS[row]
    declared = api_stack.request("POST", f"/{ACCOUNT}/events", {"event_type": row[:90], "display_name": "T",
                                                               "attributes_schema": schema})  # fmt: skip
    if declared.status == 400:
        assert [e["field"] for e in declared.json["errors"]] == ["body.attributes_schema"]
        return
    assert declared.status == 200, declared.text
    member = api_stack.request("POST", f"/{ACCOUNT}/members/add", {"email": "attack@example.com"}).json["member_id"]
    events = [
        {"member_id": member, "event_type_id": declared.json["event_type_id"], "attributes": attributes}
        for attributes in batch(schema, plan_of(plan), BATCH_VALUES - 500, BATCH_STRING_BYTES // 10 - 64)
    ]
    started = time.monotonic()
    posted = api_stack.request("POST", f"/{ACCOUNT}/events/members", {"events": events})
    assert posted.status in (200, 400), posted.text[:300]
    assert time.monotonic() - started < 5


def test_what_a_put_answers_is_what_is_stored(api_stack: RunningStack) -> None:
    typed = {"event_type": "typed", "display_name": "T"}
    created = api_stack.request("POST", f"/{ACCOUNT}/events", typed | {"attributes_schema": {"const": 0}})
    path = f"/{ACCOUNT}/events/{created.json['event_type_id']}"
    put = api_stack.request("PUT", path, typed | {"attributes_schema": {"const": False}})
    got = api_stack.request("GET", path).json
    assert put.json["attributes_schema"] == got["attributes_schema"]
    assert json.dumps(got["attributes_schema"]) == '{"const": false}'
    assert got["attributes_schema_version"] == 2


def test_two_addresses_meet_only_by_nfc_and_ascii_case(api_stack: RunningStack) -> None:
    kate = api_stack.request("POST", f"/{ACCOUNT}/members/add", {"email": "kate@example.com"}).json
    kelvin = api_stack.request("POST", f"/{ACCOUNT}/members/add", {"email": "\u212aate@example.com"}).json
    assert kelvin == {"member_id": kate["member_id"], "added": False, "status": "a"}  # NFC makes it "Kate"
    upper = api_stack.request("POST", f"/{ACCOUNT}/members/add", {"email": "\u00c9MILE@example.com"}).json
    lower = api_stack.request("POST", f"/{ACCOUNT}/members/add", {"email": "\u00e9mile@example.com"}).json
    assert (upper["added"], lower["added"]) == (True, True)
    assert upper["member_id"] != lower["member_id"]

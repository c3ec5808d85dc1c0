"""POST /{account_id}/events/members and GET /{account_id}/events/members/{member_id}."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from helpers import (
    assert_problem,
    create_type,
    delete_type,
    entities,
    list_events,
    new_member,
    post_events,
    seed_events,
    update_type,
)

from devtools.bench.capacity import CapacityMeter
from devtools.testing.events import api_event, load_event
from devtools.testing.in_process import invoke

pytestmark = pytest.mark.stores  # on moto, then again on DynamoDB Local

FIELDS = {
    "event_id",
    "account_id",
    "member_id",
    "event_type_id",
    "event_timestamp",
    "inserted_at",
    "event_monetary_value",
    "mailing_id",
    "attributes",
}


@pytest.fixture
def world(dynamodb: Any) -> dict[str, int]:
    """Account 100 with member ada (id in "ada") and types purchase and click."""
    return {
        "ada": new_member(100, "ada@example.com"),
        "bob": new_member(100, "bob@example.com"),
        "purchase": create_type(100, "purchase"),
        "click": create_type(100, "click"),
    }


def raw_event(member_id: int, event_type_id: int, monetary_literal: str) -> str:
    """A body with the monetary value written exactly as given (JSON literals Python would not produce)."""
    return (
        f'{{"events": [{{"member_id": {member_id}, "event_type_id": {event_type_id}, '
        f'"event_monetary_value": {monetary_literal}}}]}}'
    )


def stored_events(table_items: Any) -> list[dict[str, Any]]:
    return entities(table_items, "member_event")


# ---- POST: success --------------------------------------------------------------------------------------------


def test_the_event_file_posts_by_ids_and_by_names(world: dict[str, int]) -> None:
    result = invoke("create_member_events", load_event("create_member_events"))

    assert result.status == 200, result.body
    first, second = result.body
    assert set(first) == FIELDS
    assert first["member_id"] == world["ada"]
    assert first["event_type_id"] == world["purchase"]
    assert first["event_timestamp"] == "@D:2026-11-20T09:30:00"
    assert first["event_monetary_value"] == 19.99
    assert first["mailing_id"] == 42
    assert first["attributes"] == {"sku": "A-100", "quantity": 2}
    assert second["member_id"] == world["ada"]
    assert second["event_type_id"] == world["purchase"]
    assert second["event_monetary_value"] is None
    assert second["mailing_id"] is None
    assert second["attributes"] is None
    assert second["event_timestamp"] == second["inserted_at"]  # defaults to the time of insertion
    assert second["event_id"] > first["event_id"]


def test_events_come_back_in_request_order_with_integer_ids(world: dict[str, int]) -> None:
    events = [
        {"member_id": str(world["bob"]), "event_type_id": str(world["click"]), "mailing_id": "7"},
        {"email": "ada@example.com", "event_type": "purchase"},
        {
            "member_id": world["ada"],
            "email": "ADA@example.com",
            "event_type_id": world["purchase"],
            "event_type": "purchase",
        },
    ]
    result = post_events(100, events)
    assert result.status == 200, result.body
    assert [(e["member_id"], e["event_type_id"]) for e in result.body] == [
        (world["bob"], world["click"]),
        (world["ada"], world["purchase"]),
        (world["ada"], world["purchase"]),
    ]
    assert result.body[0]["mailing_id"] == 7
    ids = [e["event_id"] for e in result.body]
    assert ids == sorted(ids)
    assert len(set(ids)) == 3


def test_ten_events_are_accepted(world: dict[str, int], table_items: Any) -> None:
    events = [{"member_id": world["ada"], "event_type_id": world["click"]}] * 10
    assert post_events(100, events).status == 200
    assert len(stored_events(table_items)) == 10


@pytest.mark.parametrize(
    ("sent", "returned"),
    [
        ("19.99", 19.99),
        ("20", 20),
        ("0.1", 0.1),
        ("-5.5", -5.5),
        ("2.50", 2.5),
        ("1e-130", 1e-130),
        # Integral values are integers, as DynamoDB stores them (it trims trailing zeros): the same in the POST's
        # answer and in every listing. moto keeps "20.0", so only the reference tier catches a mismatch.
        ("1e3", 1000),
        ("20.0", 20),
        ("-0.0", 0),
    ],
)
def test_monetary_value_comes_back_as_dynamodb_keeps_it(world: dict[str, int], sent: str, returned: Any) -> None:
    raw = raw_event(world["ada"], world["purchase"], sent)
    event = api_event("create_member_events", raw_body=raw)
    event["headers"].pop("Idempotency-Key")
    posted = invoke("create_member_events", event)
    assert posted.status == 200, posted.body
    listed = list_events(100, world["ada"]).body
    for value in (posted.body[0]["event_monetary_value"], listed[0]["event_monetary_value"]):
        assert value == returned
        assert type(value) is type(returned)
        assert json.dumps(value) == json.dumps(returned)


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        ("2026-11-20T10:00:00+02:00", "@D:2026-11-20T08:00:00"),
        ("2026-11-20T10:00:00Z", "@D:2026-11-20T10:00:00"),
        ("2026-11-20T10:00:00", "@D:2026-11-20T10:00:00"),
        ("2026-11-20T10:00:00.750-05:00", "@D:2026-11-20T15:00:00"),
        ("@D:2026-11-20T10:00:00", "@D:2026-11-20T10:00:00"),
        ("2026-11-20", "@D:2026-11-20T00:00:00"),
    ],
)
def test_event_timestamps_are_parsed_and_returned_in_utc(world: dict[str, int], sent: str, stored: str) -> None:
    result = post_events(100, [{"member_id": world["ada"], "event_type_id": world["click"], "event_timestamp": sent}])
    assert result.status == 200, result.body
    assert result.body[0]["event_timestamp"] == stored


# ---- POST: validation, all or nothing ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body", [{}, {"events": None}, {"events": {}}, {"events": "x"}, {"events": []}, {"events": [{}] * 11}]
)
def test_events_must_be_a_list_of_1_to_10(world: dict[str, int], table_items: Any, body: Any) -> None:
    before = len(table_items())
    result = invoke("create_member_events", api_event("create_member_events", body=body))
    assert_problem(result, 400, "body.events")
    assert len(table_items()) == before


def in_ten_years() -> str:
    return (datetime.now(UTC) + timedelta(days=3650)).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"member_id": None}, "member_id"),
        ({"event_type_id": None}, "event_type_id"),
        ({"member_id": 0}, "member_id"),
        ({"member_id": -3}, "member_id"),
        ({"member_id": True}, "member_id"),
        ({"member_id": 1.5}, "member_id"),
        ({"member_id": "12a"}, "member_id"),
        ({"member_id": 2**53}, "member_id"),
        ({"email": "nope"}, "email"),
        ({"event_type": ""}, "event_type"),
        ({"mailing_id": "x"}, "mailing_id"),
        ({"event_monetary_value": "19.99"}, "event_monetary_value"),
        ({"event_monetary_value": True}, "event_monetary_value"),
        ({"event_monetary_value": 1e16}, "event_monetary_value"),
        ({"event_monetary_value": 1e-200}, "event_monetary_value"),  # below DynamoDB's smallest magnitude
        ({"event_monetary_value": -5e-131}, "event_monetary_value"),
        ({"attributes": [1, 2]}, "attributes"),
        ({"attributes": "text"}, "attributes"),
        ({"attributes": {"blob": "x" * 33_000}}, "attributes"),
        ({"attributes": {"a\u0000b": "x"}}, "attributes"),  # control characters, in keys and values, at any level
        ({"attributes": {"nested": [{"v": "x\u001f"}]}}, "attributes"),
        ({"event_timestamp": "yesterday"}, "event_timestamp"),
        ({"event_timestamp": 1700000000}, "event_timestamp"),
        ({"event_timestamp": "1969-12-31T23:59:59Z"}, "event_timestamp"),
        ({"event_timestamp": in_ten_years()}, "event_timestamp"),
    ],
)
def test_an_invalid_event_rejects_the_whole_batch_naming_index_and_field(
    world: dict[str, int], table_items: Any, patch: dict[str, Any], field: str
) -> None:
    good = {"member_id": world["ada"], "event_type_id": world["click"]}
    bad = {key: value for key, value in {**good, **patch}.items() if value is not None}
    before = len(table_items())

    result = post_events(100, [good, good, bad])

    assert_problem(result, 400, f"body.events.2.{field}")
    assert all(e["loc"][2] == 2 for e in result.body["errors"])
    assert len(table_items()) == before


def test_each_event_names_its_member_and_its_type_or_the_request_model_refuses_it() -> None:
    """The either-or rule is the request model's: refused before any lookup, each missing name as its own field."""
    from pydantic import ValidationError

    from emma_events.event_models import CreateMemberEventsRequest

    body = {"events": [{"email": "ada@example.com", "event_type": "click"}, {"attributes": {"a": 1}}]}
    with pytest.raises(ValidationError) as refused:
        CreateMemberEventsRequest.model_validate(body)

    assert [(e["loc"], e["type"], e["msg"]) for e in refused.value.errors()] == [
        (("events", 1, "member_id"), "missing", "member_id or email is required"),
        (("events", 1, "event_type_id"), "missing", "event_type_id or event_type is required"),
    ]


def test_deeply_nested_attributes_are_rejected(world: dict[str, int]) -> None:
    nested: dict[str, Any] = {}
    for _ in range(11):
        nested = {"a": nested}
    result = post_events(100, [{"member_id": world["ada"], "event_type_id": world["click"], "attributes": nested}])
    assert_problem(result, 400, "body.events.0.attributes")


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_rejected(world: dict[str, int], literal: str) -> None:
    raw = raw_event(world["ada"], world["click"], literal)
    event = api_event("create_member_events", raw_body=raw)
    assert_problem(invoke("create_member_events", event), 400, "body.events.0.event_monetary_value")


def test_unknown_members_and_types_are_listed_by_index_and_nothing_is_written(
    world: dict[str, int], table_items: Any
) -> None:
    before = len(stored_events(table_items))
    result = post_events(
        100,
        [
            {"member_id": world["ada"], "event_type_id": world["click"]},
            {"member_id": 999, "event_type_id": world["click"]},
            {"email": "nobody@example.com", "event_type": "purchase"},
            {"member_id": world["ada"], "event_type": "no-such-type"},
            {"member_id": world["ada"], "event_type_id": 999},
        ],
    )
    assert_problem(
        result,
        400,
        "body.events.1.member_id",
        "body.events.2.email",
        "body.events.3.event_type",
        "body.events.4.event_type_id",
    )
    assert "0" not in {str(e["loc"][2]) for e in result.body["errors"]}
    assert len(stored_events(table_items)) == before


def test_member_and_type_of_another_account_are_unknown(world: dict[str, int]) -> None:
    result = post_events(200, [{"member_id": world["ada"], "event_type_id": world["click"]}])
    assert_problem(result, 400, "body.events.0.member_id", "body.events.0.event_type_id")


def test_id_and_name_that_disagree_are_rejected(world: dict[str, int]) -> None:
    result = post_events(
        100,
        [
            {"member_id": world["bob"], "email": "ada@example.com", "event_type_id": world["click"]},
            {"member_id": world["ada"], "event_type_id": world["click"], "event_type": "purchase"},
        ],
    )
    assert_problem(result, 400, "body.events.0.member_id", "body.events.1.event_type_id")


def test_an_event_for_a_deleted_type_is_rejected(world: dict[str, int]) -> None:
    delete_type(100, world["click"])
    result = post_events(100, [{"member_id": world["ada"], "event_type_id": world["click"]}])
    assert_problem(result, 400, "body.events.0.event_type_id")


def test_a_member_deleted_between_lookup_and_write_is_caught_inside_dynamodb(
    world: dict[str, int], table_items: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from emma_events import stores

    client = stores.client()
    original = client.transact_write_items

    def delete_first(**kwargs: Any) -> Any:
        monkeypatch.setattr(client, "transact_write_items", original)
        path = {"account_id": 100, "member_id": world["ada"]}
        assert invoke("delete_member", api_event("delete_member", path=path)).status == 200
        return original(**kwargs)

    monkeypatch.setattr(client, "transact_write_items", delete_first)
    result = post_events(100, [{"email": "ada@example.com", "event_type_id": world["click"]}])
    assert_problem(result, 400, "body.events.0.email")
    assert stored_events(table_items) == []


# ---- POST: idempotency --------------------------------------------------------------------------------------


def test_a_retry_with_the_same_key_and_body_returns_the_first_answer_without_writing(
    world: dict[str, int], table_items: Any
) -> None:
    events = [{"member_id": world["ada"], "event_type_id": world["click"]}]
    first = post_events(100, events, {"Idempotency-Key": "k-1"})
    count = len(stored_events(table_items))

    # Same JSON, other key order and spacing: the same body.
    event = api_event(
        "create_member_events", raw_body=json.dumps({"events": [dict(reversed(events[0].items()))]}, indent=2)
    )
    event["headers"]["idempotency-key"] = event["headers"].pop("Idempotency-Key")  # header names are case-insensitive
    event["multiValueHeaders"] = {k: [v] for k, v in event["headers"].items()}
    event["headers"]["idempotency-key"] = "k-1"
    event["multiValueHeaders"]["idempotency-key"] = ["k-1"]
    from emma_events import stores

    meter = CapacityMeter(stores.client())
    retry = invoke("create_member_events", event)

    assert first.status == retry.status == 200
    assert retry.body == first.body
    assert len(stored_events(table_items)) == count
    assert meter.calls["GetItem"] == 0  # answered from the record its cancelled write found, not read again


def test_the_same_key_with_another_body_is_422(world: dict[str, int], table_items: Any) -> None:
    post_events(100, [{"member_id": world["ada"], "event_type_id": world["click"]}], {"Idempotency-Key": "k-2"})
    count = len(stored_events(table_items))
    other = post_events(100, [{"member_id": world["bob"], "event_type_id": world["click"]}], {"Idempotency-Key": "k-2"})
    assert_problem(other, 422)
    assert len(stored_events(table_items)) == count


def test_keys_are_per_account_and_requests_without_a_key_always_write(world: dict[str, int], table_items: Any) -> None:
    events = [{"member_id": world["ada"], "event_type_id": world["click"]}]
    a = post_events(100, events)
    b = post_events(100, events)
    assert a.body[0]["event_id"] != b.body[0]["event_id"]
    other_account = create_type(300, "click")
    member = new_member(300, "zed@example.com")
    post_events(100, events, {"Idempotency-Key": "shared"})
    third = post_events(300, [{"member_id": member, "event_type_id": other_account}], {"Idempotency-Key": "shared"})
    assert third.status == 200
    assert third.body[0]["account_id"] == 300


def test_a_failed_request_does_not_burn_its_key(world: dict[str, int]) -> None:
    bad = post_events(100, [{"member_id": 999, "event_type_id": world["click"]}], {"Idempotency-Key": "k-3"})
    assert bad.status == 400
    good = post_events(100, [{"member_id": 999, "event_type_id": world["click"]}], {"Idempotency-Key": "k-3"})
    assert good.status == 400  # still validated, not replayed
    ok = post_events(100, [{"member_id": world["ada"], "event_type_id": world["click"]}], {"Idempotency-Key": "k-4"})
    assert ok.status == 200


@pytest.mark.parametrize("erased", ["member", "type"])
@pytest.mark.parametrize("named_by", ["id", "name"])
def test_a_replay_never_answers_with_erased_data(
    world: dict[str, int], table_items: Any, erased: str, named_by: str
) -> None:
    """POST with a key, delete the member (or type), POST the same again: the answer a fresh request would get (400
    naming the unknown member or type), not the deleted events from the idempotency record."""
    if named_by == "id":
        events = [{"member_id": world["ada"], "event_type_id": world["click"], "attributes": {"secret": "s3cr3t"}}]
    else:
        events = [{"email": "ada@example.com", "event_type": "click", "attributes": {"secret": "s3cr3t"}}]
    assert post_events(100, events, {"Idempotency-Key": "erase-me"}).status == 200
    if erased == "member":
        path = {"account_id": 100, "member_id": world["ada"]}
        assert invoke("delete_member", api_event("delete_member", path=path)).status == 200
    else:
        assert delete_type(100, world["click"]).status == 200

    again = post_events(100, events, {"Idempotency-Key": "erase-me"})

    field = {("member", "id"): "member_id", ("member", "name"): "email"}.get((erased, named_by))
    field = field or {"id": "event_type_id", "name": "event_type"}[named_by]
    assert_problem(again, 400, f"body.events.0.{field}")
    assert "s3cr3t" not in json.dumps(again.body)


def test_an_expired_key_writes_again(world: dict[str, int], dynamodb: Any, table_items: Any) -> None:
    import os

    events = [{"member_id": world["ada"], "event_type_id": world["click"]}]
    first = post_events(100, events, {"Idempotency-Key": "k-5"})
    dynamodb.update_item(
        TableName=os.environ["TABLE_NAME"],
        Key={"PK": {"S": "100#IK#k-5"}, "SK": {"S": "IK"}},
        UpdateExpression="SET expires_at = :past",
        ExpressionAttributeValues={":past": {"N": "1000"}},
    )
    again = post_events(100, events, {"Idempotency-Key": "k-5"})
    assert again.status == 200
    assert again.body[0]["event_id"] != first.body[0]["event_id"]


def test_a_retry_of_a_post_recorded_where_releases_before_kept_records_is_answered_from_it(
    world: dict[str, int], dynamodb: Any, table_items: Any
) -> None:
    """Records now have partitions of their own; one written before the upgrade (the account's one ``#IK``
    partition) still answers its retries until it expires, and nothing is written twice."""
    import os

    events = [{"member_id": world["ada"], "event_type_id": world["click"]}] * 2
    first = post_events(100, events, {"Idempotency-Key": "k-old"})
    table = os.environ["TABLE_NAME"]
    record = dynamodb.get_item(TableName=table, Key={"PK": {"S": "100#IK#k-old"}, "SK": {"S": "IK"}})["Item"]
    dynamodb.delete_item(TableName=table, Key={"PK": {"S": "100#IK#k-old"}, "SK": {"S": "IK"}})
    dynamodb.put_item(TableName=table, Item=record | {"PK": {"S": "100#IK"}, "SK": {"S": "k-old"}})
    stored = len(stored_events(table_items))
    again = post_events(100, events, {"Idempotency-Key": "k-old"})
    assert (again.status, again.body) == (200, first.body)
    assert len(stored_events(table_items)) == stored


@pytest.mark.parametrize("key", ["", "has space", "x" * 256, "naïve"])
def test_a_malformed_idempotency_key_is_400(world: dict[str, int], key: str) -> None:
    result = post_events(100, [{"member_id": world["ada"], "event_type_id": world["click"]}], {"Idempotency-Key": key})
    assert_problem(result, 400)
    assert "idempotency" in json.dumps(result.body["errors"]).lower()


# ---- GET a member's events ----------------------------------------------------------------------------------


def post_at(world: dict[str, int], *stamps: str, type_name: str = "click", member: str = "ada") -> list[int]:
    events = [{"member_id": world[member], "event_type_id": world[type_name], "event_timestamp": s} for s in stamps]
    result = post_events(100, events)
    assert result.status == 200, result.body
    return [e["event_id"] for e in result.body]


def test_the_event_file_lists_a_members_events(world: dict[str, int]) -> None:
    post_at(world, "2026-01-01T00:00:00Z")
    result = invoke("list_member_events", load_event("list_member_events"))
    assert result.status == 200
    assert len(result.body) == 1
    assert set(result.body[0]) == FIELDS


def test_events_are_sorted_by_timestamp_then_id(world: dict[str, int]) -> None:
    late, early = post_at(world, "2026-03-01T00:00:00Z", "2026-01-01T00:00:00Z")
    same_a, same_b = post_at(world, "2026-02-01T00:00:00Z", "2026-02-01T00:00:00Z")
    post_at(world, "2026-01-15T00:00:00Z", member="bob")
    listed = list_events(100, world["ada"]).body
    assert [e["event_id"] for e in listed] == [early, same_a, same_b, late]
    descending = list_events(100, world["ada"], {"order": "desc"}).body
    assert [e["event_id"] for e in descending] == [late, same_b, same_a, early]


def test_an_unknown_member_is_404_and_a_member_without_events_is_empty(world: dict[str, int]) -> None:
    assert list_events(100, world["bob"]).body == []
    assert_problem(list_events(100, 999), 404)
    assert_problem(list_events(200, world["ada"]), 404)


def test_filters_by_type_and_time_range(world: dict[str, int]) -> None:
    jan, feb, mar = post_at(world, "2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z", "2026-03-01T00:00:00Z")
    (purchase,) = post_at(world, "2026-02-15T00:00:00Z", type_name="purchase")

    def ids(query: dict[str, str]) -> list[int]:
        result = list_events(100, world["ada"], query)
        assert result.status == 200, result.body
        return [e["event_id"] for e in result.body]

    assert ids({"event_type_id": str(world["purchase"])}) == [purchase]
    assert ids({"since": "2026-02-01T00:00:00Z"}) == [feb, purchase, mar]
    assert ids({"until": "@D:2026-02-01T00:00:00"}) == [jan, feb]
    assert ids({"since": "2026-01-15", "until": "2026-02-20", "event_type_id": str(world["click"])}) == [feb]
    assert list_events(100, world["ada"], {"count": "true", "since": "2026-02-01T00:00:00Z"}).body == 3


def test_emma_paging_with_start_end_and_count(world: dict[str, int]) -> None:
    ids = post_at(world, *[f"2026-01-0{d}T00:00:00Z" for d in range(1, 8)])
    assert [e["event_id"] for e in list_events(100, world["ada"], {"start": "2", "end": "5"}).body] == ids[2:5]
    assert list_events(100, world["ada"], {"start": "7"}).body == []
    count = list_events(100, world["ada"], {"count": "true"})
    assert count.status == 200
    assert count.body == 7


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"start": "5", "end": "5"}, "query.end"),
        ({"start": "0", "end": "501"}, "query.end"),
        ({"start": "x"}, "query.start"),
        ({"order": "sideways"}, "query.order"),
        ({"since": "soon"}, "query.since"),
        ({"event_type_id": "0"}, "query.event_type_id"),
        ({"cursor": "not-a-cursor"}, "query.cursor"),
        ({"limit": "10"}, "query.limit"),
    ],
)
def test_bad_listing_parameters_are_400_naming_them(world: dict[str, int], query: dict[str, str], field: str) -> None:
    assert_problem(list_events(100, world["ada"], query), 400, field)


def follow(world: dict[str, int], query: dict[str, str]) -> tuple[list[int], int]:
    """Walk the Link headers from the first page; returns every event id seen and the number of pages."""
    seen: list[int] = []
    pages = 0
    while True:
        result = list_events(100, world["ada"], query)
        assert result.status == 200, result.body
        pages += 1
        seen += [e["event_id"] for e in result.body]
        link = result.headers.get("Link")
        if link is None:
            return seen, pages
        match = re.fullmatch(r'<([^>]+)>; rel="next"', link)
        assert match, link
        url = urlparse(match.group(1))
        assert url.path == f"/v1/100/events/members/{world['ada']}"
        query = {k: v[0] for k, v in parse_qs(url.query).items()}


def test_the_cursor_in_the_link_header_walks_every_event_exactly_once(world: dict[str, int]) -> None:
    stamps = [f"2026-01-{d:02d}T00:00:00Z" for d in range(1, 24)]
    ids = post_at(world, *stamps[:10]) + post_at(world, *stamps[10:20]) + post_at(world, *stamps[20:])
    seen, pages = follow(world, {"start": "0", "end": "5"})
    assert seen == ids
    assert pages == 5
    newest_first, _ = follow(world, {"end": "4", "order": "desc"})
    assert newest_first == list(reversed(ids))


def test_the_cursor_keeps_the_filters(world: dict[str, int]) -> None:
    clicks = post_at(world, *[f"2026-01-0{d}T00:00:00Z" for d in range(1, 7)])
    post_at(world, "2026-01-03T12:00:00Z", type_name="purchase")
    seen, _ = follow(world, {"end": "2", "event_type_id": str(world["click"]), "since": "2026-01-02T00:00:00Z"})
    assert seen == clicks[1:]


def test_a_cursor_used_with_other_filters_is_rejected(world: dict[str, int]) -> None:
    post_at(world, "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z")
    link = list_events(100, world["ada"], {"end": "1"}).headers["Link"]
    cursor = parse_qs(urlparse(link[1 : link.index(">")]).query)["cursor"][0]
    assert list_events(100, world["ada"], {"cursor": cursor}).status == 200
    assert_problem(list_events(100, world["ada"], {"cursor": cursor, "order": "desc"}), 400, "query.cursor")
    assert_problem(list_events(100, world["ada"], {"cursor": cursor, "start": "1"}), 400, "query.cursor")


def test_the_last_page_has_no_link(world: dict[str, int]) -> None:
    post_at(world, "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z")
    assert "Link" not in list_events(100, world["ada"], {"end": "5"}).headers
    assert "Link" in list_events(100, world["ada"], {"end": "1"}).headers


def test_the_largest_valid_batch_is_valid_with_an_idempotency_key_too(world: dict[str, int], dynamodb: Any) -> None:
    """10 events whose attributes are at the 32 KB limit, all quotes and backslashes (each escaped once in the
    event's JSON): the idempotency record must still fit DynamoDB's 400 KB item, and a replay answers the same."""
    from emma_events.models import ATTRIBUTES_MAX_BYTES

    heavy = '"\\' * ((ATTRIBUTES_MAX_BYTES - 16) // 4)
    attributes = {"q": heavy}
    assert len(json.dumps(attributes, separators=(",", ":"), ensure_ascii=False)) <= ATTRIBUTES_MAX_BYTES
    events = [{"member_id": world["ada"], "event_type_id": world["click"], "attributes": attributes}] * 10
    first = post_events(100, events, {"Idempotency-Key": "the-largest-batch"})
    assert first.status == 200, first.body
    replay = post_events(100, events, {"Idempotency-Key": "the-largest-batch"})
    assert (replay.status, replay.body) == (200, first.body)


def test_no_page_passes_lambdas_6_mb_answer(world: dict[str, int], monkeypatch: pytest.MonkeyPatch) -> None:
    """120 events with quote-heavy attributes near the 32 KB limit: 500 of them would be a ~30 MB answer, which
    Lambda cannot return (API Gateway would answer 502). Pages stop under ~5.5 MB and link to the rest."""
    from devtools.testing.in_process import LambdaContext, load_function

    # The subject is the answer's size, not the deadline: moto reads these pages far slower than DynamoDB, and
    # on a machine busy with the other test processes a walk could pass the 15 s the functions have.
    monkeypatch.setattr(LambdaContext, "get_remaining_time_in_millis", lambda self: 60_000)

    seed_events(world["ada"], world["click"], 120, attributes={"q": '"' * 15_000})
    query = {"start": "0", "end": "500"}
    event = api_event("list_member_events", path={"member_id": world["ada"]}, query=query)
    raw = load_function("list_member_events").lambda_handler(event, LambdaContext())
    assert len(json.dumps(raw).encode()) < 5_600_000  # the whole answer Lambda returns
    assert 0 < len(json.loads(raw["body"])) < 120
    seen, pages = follow(world, {"end": "500"})
    assert (len(seen), len(set(seen))) == (120, 120)
    assert pages > 1
    assert list_events(100, world["ada"], {"count": "true"}).body == 120


def test_a_deleted_types_events_are_gone_at_once_from_every_read(world: dict[str, int]) -> None:
    """Before the cascade has deleted anything: listings, counts, filters and cursor pages leave the deleted
    type's events out, and a type re-created at once under the same name shows only its own new events."""
    post_at(world, *[f"2026-01-0{d}T00:00:00Z" for d in range(1, 7)], type_name="purchase")
    kept = post_at(world, "2026-01-01T12:00:00Z", "2026-01-05T12:00:00Z")
    assert delete_type(100, world["purchase"]).status == 200  # no cascade runs in this test

    assert [e["event_id"] for e in list_events(100, world["ada"]).body] == kept
    assert list_events(100, world["ada"], {"count": "true"}).body == 2
    assert list_events(100, world["ada"], {"event_type_id": str(world["purchase"])}).body == []
    assert list_events(100, world["ada"], {"event_type_id": str(world["purchase"]), "count": "true"}).body == 0
    seen, _ = follow(world, {"end": "1"})
    assert seen == kept
    again = create_type(100, "purchase")
    events = [{"member_id": world["ada"], "event_type_id": again, "event_timestamp": "2026-01-03T12:00:00Z"}]
    fresh = [e["event_id"] for e in post_events(100, events).body]
    assert [e["event_id"] for e in list_events(100, world["ada"]).body] == [kept[0], *fresh, kept[1]]
    assert list_events(100, world["ada"], {"event_type_id": str(again)}).body[0]["event_id"] == fresh[0]


def test_a_cursor_page_that_ends_at_the_last_event_links_to_nothing(world: dict[str, int]) -> None:
    """DynamoDB returns a LastEvaluatedKey whenever a Query stops at its Limit, even with nothing after it; moto
    does not, so only the reference tier shows a Link to an empty page when the Limit is the page size."""
    post_at(world, *[f"2026-01-0{d}T00:00:00Z" for d in range(1, 5)])
    first = list_events(100, world["ada"], {"end": "2"})
    cursor = parse_qs(urlparse(first.headers["Link"][1 : first.headers["Link"].index(">")]).query)["cursor"][0]
    last = list_events(100, world["ada"], {"cursor": cursor, "limit": "2"})
    assert len(last.body) == 2
    assert "Link" not in last.headers
    seen, pages = follow(world, {"end": "2"})
    assert (len(seen), pages) == (4, 2)


def test_a_filtered_cursor_walk_reaches_every_matching_event(world: dict[str, int]) -> None:
    """The type filter applies after the Query's Limit: a read window can hold no matching event at all. The walk
    must go on (a short or empty page links on) until every matching event is seen."""
    wanted = post_at(world, "2026-01-01T00:00:00Z", "2026-01-01T00:00:01Z")
    for day in range(2, 5):  # 30 events of another type between them
        post_at(world, *[f"2026-01-0{day}T00:00:{s:02d}Z" for s in range(10)], type_name="purchase")
    wanted += post_at(world, "2026-01-05T00:00:00Z", "2026-01-05T00:00:01Z", "2026-01-05T00:00:02Z")
    for size in ("1", "2", "3"):
        seen, _ = follow(world, {"end": size, "event_type_id": str(world["click"])})
        assert seen == wanted, size
        newest_first, _ = follow(world, {"end": size, "event_type_id": str(world["click"]), "order": "desc"})
        assert newest_first == list(reversed(wanted)), size


@pytest.mark.parametrize("start", [str(2**31 - 1), str(2**31), str(2**53 - 1)])
def test_a_start_beyond_any_page_is_an_empty_page(world: dict[str, int], start: str) -> None:
    """DynamoDB's Limit is a 32-bit integer (moto accepts more): no Limit is derived from ``start`` (a member's
    events refuse a start past 500: test_member_timeline.py)."""
    event = api_event("list_event_types", query={"start": start})
    assert (invoke("list_event_types", event).status, invoke("list_event_types", event).body) == (200, [])


def test_posts_racing_the_deletion_of_their_type_never_store_an_event_after_it(
    world: dict[str, int], dynamodb: Any, table_items: Any
) -> None:
    """Posts and a delete of their type run concurrently. Each post is all-or-nothing, a post that starts after
    the delete returned is refused, and every stored event of the type is in the ByType index for the cascade."""
    import os
    import threading
    import time

    deleted_at: list[float] = []
    outcomes: list[tuple[float, int, int]] = []  # (start time, status, events written)
    start = threading.Barrier(3)

    def poster() -> None:
        start.wait()
        for _ in range(12):
            began = time.monotonic()
            result = post_events(100, [{"member_id": world["ada"], "event_type": "purchase"}] * 3)
            outcomes.append((began, result.status, len(result.body) if result.status == 200 else 0))

    def deleter() -> None:
        start.wait()
        time.sleep(0.05)
        assert delete_type(100, world["purchase"]).status == 200
        deleted_at.append(time.monotonic())

    threads = [threading.Thread(target=poster), threading.Thread(target=poster), threading.Thread(target=deleter)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert {status for _, status, _ in outcomes} <= {200, 400}
    assert all(status == 400 for began, status, _ in outcomes if began > deleted_at[0])
    stored = [e for e in stored_events(table_items) if int(e["event_type_id"]["N"]) == world["purchase"]]
    assert len(stored) == sum(written for _, _, written in outcomes)
    indexed = dynamodb.query(
        TableName=os.environ["TABLE_NAME"],
        IndexName="ByType",
        KeyConditionExpression="GSI1PK = :pk",
        ExpressionAttributeValues={":pk": {"S": f"100#T#{world['purchase']}#{world['ada'] % 16}"}},
    )["Items"]
    assert len(indexed) == len(stored)


def test_a_post_after_a_rename_or_delete_answered_never_uses_the_old_name(world: dict[str, int]) -> None:
    """A POST by the old name after a rename or a delete answered is refused, whatever this container read."""
    by_name = [{"member_id": world["ada"], "event_type": "purchase"}]
    assert post_events(100, by_name).status == 200  # "purchase" known to this container now
    renamed = update_type(100, world["purchase"], {"event_type": "order"})
    assert renamed.status == 200, renamed.body
    assert_problem(post_events(100, by_name), 400, "body.events.0.event_type")
    assert post_events(100, [{"member_id": world["ada"], "event_type": "order"}]).status == 200
    assert delete_type(100, world["purchase"]).status == 200
    assert_problem(
        post_events(100, [{"member_id": world["ada"], "event_type": "order"}]), 400, "body.events.0.event_type"
    )


def test_a_read_of_the_types_slower_than_their_freshness_still_serves_its_request(
    world: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A container trusts a type for FRESH_FOR_S from its read's start; what a request has just read serves that
    request however long the read took (throttled, retried by the SDK), and is not read again and again."""
    import time

    from emma_events import event_batch, stores

    client = stores.client()
    original, reads = client.batch_get_item, []

    def slow(**kwargs: Any) -> Any:
        reads.append(1)
        time.sleep(event_batch.FRESH_FOR_S + 0.1)
        return original(**kwargs)

    monkeypatch.setattr(client, "batch_get_item", slow)
    result = post_events(100, [{"member_id": world["ada"], "event_type_id": world["click"]}])
    assert result.status == 200, result.body
    assert len(reads) == 1

"""The five event-type endpoints, driven through their handlers with the events/ files and variations."""

from __future__ import annotations

import base64
import json
import re
from typing import Any

import pytest
from botocore.exceptions import ClientError
from helpers import assert_problem, run_together

from devtools.testing.events import api_event, load_event
from devtools.testing.in_process import invoke

pytestmark = pytest.mark.stores  # on moto, then again on DynamoDB Local

EMMA_DATE = re.compile(r"^@D:\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$")
MAX_ID = 2**53 - 1


def create(account_id: int = 100, event_type: str = "purchase", display_name: str = "Purchase") -> Any:
    return invoke(
        "create_event_type",
        api_event(
            "create_event_type",
            path={"account_id": account_id},
            body={"event_type": event_type, "display_name": display_name},
        ),
    )


def get(account_id: int, event_type_id: Any) -> Any:
    return invoke(
        "get_event_type", api_event("get_event_type", path={"account_id": account_id, "event_type_id": event_type_id})
    )


def rename(account_id: int, event_type_id: int, event_type: str, display_name: str = "Renamed") -> Any:
    return invoke(
        "update_event_type",
        api_event(
            "update_event_type",
            path={"account_id": account_id, "event_type_id": event_type_id},
            body={"event_type": event_type, "display_name": display_name},
        ),
    )


def delete(account_id: int, event_type_id: int) -> Any:
    return invoke(
        "delete_event_type",
        api_event("delete_event_type", path={"account_id": account_id, "event_type_id": event_type_id}),
    )


def list_types(account_id: int = 100, query: dict[str, str] | None = None) -> Any:
    return invoke("list_event_types", api_event("list_event_types", path={"account_id": account_id}, query=query))


# ---- POST /{account_id}/events ---------------------------------------------------------------------------------


def test_create_returns_the_new_type_in_emma_shape(dynamodb: Any) -> None:
    result = invoke("create_event_type", load_event("create_event_type"))

    assert result.status == 200
    assert result.content_type == "application/json"
    assert set(result.body) == {"account_id", "created_at", "display_name", "event_type", "event_type_id"}
    assert result.body["account_id"] == 100
    assert result.body["event_type"] == "purchase"
    assert result.body["display_name"] == "Purchase"
    assert isinstance(result.body["event_type_id"], int)
    assert result.body["event_type_id"] > 0
    assert EMMA_DATE.match(result.body["created_at"])


def test_create_assigns_increasing_ids_per_account(dynamodb: Any) -> None:
    ids = [create(event_type=f"type-{n}").body["event_type_id"] for n in range(3)]
    assert ids == sorted(ids)
    assert len(set(ids)) == 3


def test_create_strips_surrounding_whitespace(dynamodb: Any) -> None:
    result = create(event_type="  purchase  ", display_name=" Purchase ")
    assert result.body["event_type"] == "purchase"
    assert result.body["display_name"] == "Purchase"


def test_create_ignores_unknown_fields(dynamodb: Any) -> None:
    body = {"event_type": "purchase", "display_name": "Purchase", "color": "blue"}
    result = invoke("create_event_type", api_event("create_event_type", body=body))
    assert result.status == 200
    assert "color" not in result.body


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"display_name": "Purchase"}, "body.event_type"),
        ({"event_type": "purchase"}, "body.display_name"),
        ({"event_type": "", "display_name": "Purchase"}, "body.event_type"),
        ({"event_type": "   ", "display_name": "Purchase"}, "body.event_type"),
        ({"event_type": "purchase", "display_name": ""}, "body.display_name"),
        ({"event_type": 5, "display_name": "Purchase"}, "body.event_type"),
        ({"event_type": ["a"], "display_name": "Purchase"}, "body.event_type"),
        ({"event_type": "purchase", "display_name": None}, "body.display_name"),
        ({"event_type": "x" * 101, "display_name": "Purchase"}, "body.event_type"),
        ({"event_type": "purchase", "display_name": "x" * 256}, "body.display_name"),
        ({"event_type": "pur\u0000chase", "display_name": "Purchase"}, "body.event_type"),
        ({"event_type": "purchase", "display_name": "bad\ud800"}, "body.display_name"),
    ],
)
def test_create_rejects_invalid_fields_naming_them(dynamodb: Any, table_items: Any, body: Any, field: str) -> None:
    result = invoke("create_event_type", api_event("create_event_type", body=body))
    assert_problem(result, 400, field)
    assert table_items() == []


def test_create_accepts_fields_at_their_documented_limits(dynamodb: Any) -> None:
    result = create(event_type="x" * 100, display_name="y" * 255)
    assert result.status == 200


@pytest.mark.parametrize("raw", ["{not json", "[]", '"purchase"', "null", ""])
def test_create_rejects_a_body_that_is_not_a_json_object(dynamodb: Any, table_items: Any, raw: str) -> None:
    result = invoke("create_event_type", api_event("create_event_type", raw_body=raw))
    assert_problem(result, 400)
    assert result.body["errors"]
    assert table_items() == []


def test_create_without_content_type_reads_json(dynamodb: Any) -> None:
    event = api_event("create_event_type")
    event["headers"].pop("Content-Type")
    event["multiValueHeaders"].pop("Content-Type")
    assert invoke("create_event_type", event).status == 200


def test_create_with_a_non_json_content_type_is_415(dynamodb: Any) -> None:
    result = invoke("create_event_type", api_event("create_event_type", headers={"Content-Type": "text/csv"}))
    assert_problem(result, 415)


def test_create_rejects_a_duplicate_event_type_with_400(dynamodb: Any, table_items: Any) -> None:
    assert create().status == 200
    before = len(table_items())

    result = create(display_name="Another display name")

    assert_problem(result, 400)
    assert "purchase" in result.body["detail"]
    assert len([t for t in list_types().body if t["event_type"] == "purchase"]) == 1
    # Only the id sequence moved: no second type, no second guard.
    assert len(table_items()) == before


def test_the_same_event_type_may_exist_in_two_accounts(dynamodb: Any) -> None:
    assert create(account_id=100).status == 200
    assert create(account_id=200).status == 200


@pytest.mark.parametrize("account_id", ["0", "-1", "abc", "1.5", str(MAX_ID + 1), "99999999999999999999999999"])
def test_an_account_id_that_is_not_a_positive_integer_is_400(dynamodb: Any, account_id: str) -> None:
    result = create(account_id=account_id)  # type: ignore[arg-type]
    assert_problem(result, 400, "path.account_id")


def test_the_largest_safe_account_id_is_accepted(dynamodb: Any) -> None:
    assert create(account_id=MAX_ID).status == 200


# ---- GET /{account_id}/events ------------------------------------------------------------------------------------


def test_list_is_empty_for_a_new_account(dynamodb: Any) -> None:
    result = invoke("list_event_types", load_event("list_event_types"))
    assert result.status == 200
    assert result.body == []


def test_list_orders_by_id_numerically(dynamodb: Any) -> None:
    # 12 types: "10" < "9" as strings, so this fails unless ids sort as numbers.
    for n in range(12):
        create(event_type=f"type-{n}")
    ids = [t["event_type_id"] for t in list_types().body]
    assert ids == sorted(ids)
    assert len(ids) == 12


def test_list_shows_only_the_accounts_own_types(dynamodb: Any) -> None:
    create(account_id=100, event_type="mine")
    create(account_id=200, event_type="theirs")
    assert [t["event_type"] for t in list_types(100).body] == ["mine"]
    assert [t["event_type"] for t in list_types(200).body] == ["theirs"]


def test_list_pages_with_start_and_end_and_counts(dynamodb: Any) -> None:
    for n in range(5):
        create(event_type=f"type-{n}")
    everything = list_types().body

    assert list_types(query={"start": "1", "end": "3"}).body == everything[1:3]
    assert list_types(query={"start": "4"}).body == everything[4:]
    assert list_types(query={"start": "9"}).body == []
    count = list_types(query={"count": "true"})
    assert count.status == 200
    assert count.body == 5


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"start": "-1"}, "query.start"),
        ({"start": "a"}, "query.start"),
        ({"start": "3", "end": "3"}, "query.end"),
        ({"start": "3", "end": "1"}, "query.end"),
        ({"start": "0", "end": "501"}, "query.end"),
        ({"count": "maybe"}, "query.count"),
    ],
)
def test_list_rejects_bad_paging_naming_the_parameter(dynamodb: Any, query: dict[str, str], field: str) -> None:
    assert_problem(list_types(query=query), 400, field)


def test_list_accepts_a_full_page_of_500(dynamodb: Any) -> None:
    assert list_types(query={"start": "0", "end": "500"}).status == 200


# ---- GET /{account_id}/events/{event_type_id} -------------------------------------------------------------------


def test_get_returns_the_type(dynamodb: Any) -> None:
    created = create().body
    result = invoke("get_event_type", api_event("get_event_type", path={"event_type_id": created["event_type_id"]}))
    assert result.status == 200
    assert result.body == created


def test_get_unknown_type_is_404(dynamodb: Any) -> None:
    assert_problem(get(100, 12345), 404)


def test_get_another_accounts_type_is_404(dynamodb: Any) -> None:
    created = create(account_id=100).body
    result = get(200, created["event_type_id"])
    assert_problem(result, 404)
    assert "purchase" not in str(result.body)


@pytest.mark.parametrize("event_type_id", ["0", "-5", "abc", str(MAX_ID + 1)])
def test_get_with_a_bad_event_type_id_is_400(dynamodb: Any, event_type_id: str) -> None:
    assert_problem(get(100, event_type_id), 400, "path.event_type_id")


# ---- PUT /{account_id}/events/{event_type_id} -------------------------------------------------------------------


def test_put_renames_the_type_and_frees_the_old_name(dynamodb: Any) -> None:
    created = create().body
    result = rename(100, created["event_type_id"], "order", "Order placed")

    assert result.status == 200
    assert result.body == {**created, "event_type": "order", "display_name": "Order placed"}
    assert get(100, created["event_type_id"]).body["event_type"] == "order"
    # The old name is free again, the new one is taken.
    assert create(event_type="purchase").status == 200
    assert_problem(create(event_type="order"), 400)


def test_put_with_the_event_from_events_dir(dynamodb: Any) -> None:
    create()  # id 1, as in events/update_event_type.json
    result = invoke("update_event_type", load_event("update_event_type"))
    assert result.status == 200
    assert result.body["event_type"] == "order"


def test_put_to_its_own_current_name_succeeds(dynamodb: Any) -> None:
    created = create().body
    result = rename(100, created["event_type_id"], "purchase", "New display")
    assert result.status == 200
    assert result.body["display_name"] == "New display"
    assert_problem(create(event_type="purchase"), 400)


def test_put_to_a_name_taken_by_another_type_is_400(dynamodb: Any) -> None:
    first = create(event_type="purchase").body
    create(event_type="order")

    assert_problem(rename(100, first["event_type_id"], "order"), 400)
    assert get(100, first["event_type_id"]).body["event_type"] == "purchase"


def test_put_unknown_type_is_404(dynamodb: Any, table_items: Any) -> None:
    assert_problem(rename(100, 77, "order"), 404)
    assert table_items() == []


def test_put_another_accounts_type_is_404(dynamodb: Any) -> None:
    created = create(account_id=100).body
    assert_problem(rename(200, created["event_type_id"], "hijacked"), 404)
    assert get(100, created["event_type_id"]).body["event_type"] == "purchase"


def test_put_requires_both_fields(dynamodb: Any) -> None:
    created = create().body
    event = api_event("update_event_type", path={"event_type_id": created["event_type_id"]}, body={"event_type": "x"})
    assert_problem(invoke("update_event_type", event), 400, "body.display_name")


# ---- DELETE /{account_id}/events/{event_type_id} ----------------------------------------------------------------


def test_delete_returns_true_and_frees_the_name(dynamodb: Any) -> None:
    created = create().body  # id 1, as in events/delete_event_type.json
    result = invoke("delete_event_type", load_event("delete_event_type"))

    assert result.status == 200
    assert result.body is True
    assert_problem(get(100, created["event_type_id"]), 404)
    assert create(event_type="purchase").status == 200


def test_delete_unknown_type_is_404(dynamodb: Any) -> None:
    assert_problem(delete(100, 5), 404)


def test_delete_another_accounts_type_is_404_and_keeps_it(dynamodb: Any) -> None:
    created = create(account_id=100).body
    assert_problem(delete(200, created["event_type_id"]), 404)
    assert get(100, created["event_type_id"]).status == 200


def test_ids_are_never_reused(dynamodb: Any) -> None:
    first = create().body["event_type_id"]
    delete(100, first)
    second = create().body["event_type_id"]
    assert second > first


def test_a_failed_create_does_not_reuse_or_leak_its_id(dynamodb: Any) -> None:
    a = create(event_type="a").body["event_type_id"]
    create(event_type="a")  # duplicate: 400, its id is skipped
    b = create(event_type="b").body["event_type_id"]
    assert b > a
    assert [t["event_type"] for t in list_types().body] == ["a", "b"]


# ---- routing and infrastructure errors --------------------------------------------------------------------------


def test_a_method_the_function_does_not_serve_is_404(dynamodb: Any) -> None:
    event = api_event("get_event_type")
    event["httpMethod"] = "PATCH"
    assert_problem(invoke("get_event_type", event), 404)


def test_throttling_after_retries_is_503_with_retry_after(dynamodb: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from emma_events import stores

    def throttled(**kwargs: Any) -> Any:
        raise ClientError(
            {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"}}, "GetItem"
        )

    monkeypatch.setattr(stores.client(), "get_item", throttled)
    result = get(100, 1)
    assert_problem(result, 503)
    assert result.headers["Retry-After"] == "1"


def test_an_unexpected_error_is_a_500_problem_without_internals(dynamodb: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from emma_events import stores

    def broken(**kwargs: Any) -> Any:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(stores.client(), "get_item", broken)
    result = get(100, 1)
    assert_problem(result, 500)
    assert "secret" not in str(result.body)


# ---- concurrency: uniqueness is enforced inside DynamoDB ---------------------------------------------------------


def test_two_concurrent_creations_of_one_name_exactly_one_wins(dynamodb: Any) -> None:
    for round_ in range(10):
        name = f"race-{round_}"
        results = run_together(lambda name=name: create(event_type=name), lambda name=name: create(event_type=name))
        assert sorted(r.status for r in results) == [200, 400]
        assert [t["event_type"] for t in list_types().body].count(name) == 1


def test_a_rename_racing_a_create_of_the_same_name_exactly_one_wins(dynamodb: Any) -> None:
    for round_ in range(10):
        target = f"target-{round_}"
        existing = create(event_type=f"old-{round_}").body
        renamed, created = run_together(
            lambda t=target, e=existing: rename(100, e["event_type_id"], t),
            lambda t=target: create(event_type=t),
        )
        assert sorted([renamed.status, created.status]) == [200, 400]
        holders = [t for t in list_types().body if t["event_type"] == target]
        assert len(holders) == 1
        # The name guard points at the winner: deleting the winner frees the name.
        delete(100, holders[0]["event_type_id"])
        assert create(event_type=target).status == 200


@pytest.mark.parametrize(
    "content_type", ["application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "text/plain"]
)
def test_a_declared_content_type_that_is_not_json_is_415(dynamodb: Any, table_items: Any, content_type: str) -> None:
    result = invoke("create_event_type", api_event("create_event_type", headers={"Content-Type": content_type}))
    assert_problem(result, 415)
    assert table_items() == []


def test_a_json_content_type_with_a_charset_is_accepted(dynamodb: Any) -> None:
    headers = {"Content-Type": "application/json; charset=utf-8"}
    assert invoke("create_event_type", api_event("create_event_type", headers=headers)).status == 200


def test_a_body_with_duplicate_keys_is_400(dynamodb: Any, table_items: Any) -> None:
    raw = '{"event_type": "a", "display_name": "A", "event_type": "b"}'
    result = invoke("create_event_type", api_event("create_event_type", raw_body=raw))
    assert_problem(result, 400, "body")
    assert "duplicate key" in result.body["errors"][0]["message"]
    assert table_items() == []


def test_a_body_over_one_megabyte_is_413(dynamodb: Any, table_items: Any) -> None:
    raw = json.dumps({"event_type": "a", "display_name": "A", "padding": "x" * (1024 * 1024)})
    result = invoke("create_event_type", api_event("create_event_type", raw_body=raw))
    assert_problem(result, 413)
    assert table_items() == []


@pytest.mark.parametrize("base64_encoded", [False, True])
def test_the_megabyte_counts_bytes_not_characters(dynamodb: Any, table_items: Any, base64_encoded: bool) -> None:
    """600,000 characters of two bytes each are 1.2 MB: over the limit, though fewer characters than bytes."""
    raw = json.dumps({"event_type": "a", "display_name": "A", "padding": "\u00e9" * 600_000}, ensure_ascii=False)
    event = api_event("create_event_type", raw_body=raw)
    if base64_encoded:
        event["body"], event["isBase64Encoded"] = base64.b64encode(raw.encode()).decode(), True
    assert_problem(invoke("create_event_type", event), 413)
    assert table_items() == []


def test_a_body_just_under_the_megabyte_is_read(dynamodb: Any) -> None:
    body = {"event_type": "a", "display_name": "A", "padding": ""}
    body["padding"] = "x" * (1024 * 1024 - len(json.dumps(body)))
    assert invoke("create_event_type", api_event("create_event_type", body=body)).status == 200


@pytest.mark.parametrize("media_type", ["APPLICATION/JSON", "Application/Json; charset=UTF-8"])
def test_media_types_are_case_insensitive(dynamodb: Any, media_type: str) -> None:
    """RFC 9110: a media type's name is case-insensitive."""
    result = invoke("create_event_type", api_event("create_event_type", headers={"Content-Type": media_type}))
    assert result.status == 200, result.body


def test_names_that_look_alike_are_one_name(dynamodb: Any) -> None:
    """ "café" written precomposed and decomposed: stored in NFC, so the second is a duplicate."""
    first = {"event_type": "caf\u00e9", "display_name": "Cafe\u0301"}
    created = invoke("create_event_type", api_event("create_event_type", body=first))
    assert created.status == 200, created.body
    assert (created.body["event_type"], created.body["display_name"]) == ("caf\u00e9", "Caf\u00e9")
    again = {"event_type": "cafe\u0301", "display_name": "x"}
    assert_problem(invoke("create_event_type", api_event("create_event_type", body=again)), 400)

"""The members endpoints: add (idempotent by email), get by id and by email, delete."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

import pytest
from helpers import add_member, assert_problem, create_type, new_member, post_events, run_together

from devtools.testing.events import api_event, load_event
from devtools.testing.in_process import invoke

pytestmark = pytest.mark.stores  # on moto, then again on DynamoDB Local


def get_member(account_id: int, member_id: Any) -> Any:
    return invoke("get_member", api_event("get_member", path={"account_id": account_id, "member_id": member_id}))


def get_by_email(account_id: int, email: str) -> Any:
    return invoke(
        "get_member_by_email", api_event("get_member_by_email", path={"account_id": account_id, "email": email})
    )


def test_add_creates_a_member(dynamodb: Any) -> None:
    result = invoke("add_member", load_event("add_member"))
    assert result.status == 200
    assert result.body == {"member_id": result.body["member_id"], "added": True, "status": "a"}
    assert isinstance(result.body["member_id"], int)


def test_add_returns_the_existing_member_for_the_same_email_in_any_case(dynamodb: Any) -> None:
    first = add_member(email="ada@example.com").body
    again = add_member(email="  ADA@Example.COM ").body
    assert again == {"member_id": first["member_id"], "added": False, "status": "a"}


def test_the_same_email_in_two_accounts_is_two_members(dynamodb: Any) -> None:
    assert add_member(100).body["added"] is True
    assert add_member(200).body["added"] is True


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "body.email"),
        ({"email": ""}, "body.email"),
        ({"email": "not-an-email"}, "body.email"),
        ({"email": "a@b@c.com"}, "body.email"),
        ({"email": 5}, "body.email"),
        ({"email": "x" * 250 + "@example.com"}, "body.email"),
        ({"email": "ok@example.com", "fields": []}, "body.fields"),
        ({"email": "ok@example.com", "fields": {"big": "x" * 40_000}}, "body.fields"),
    ],
)
def test_add_rejects_invalid_input_naming_the_field(dynamodb: Any, table_items: Any, body: Any, field: str) -> None:
    result = invoke("add_member", api_event("add_member", body=body))
    assert_problem(result, 400, field)
    assert table_items() == []


def test_get_returns_the_member_in_emma_shape(dynamodb: Any) -> None:
    member_id = add_member(fields={"first_name": "Ada"}).body["member_id"]
    result = get_member(100, member_id)
    assert result.status == 200
    assert result.body["member_id"] == member_id
    assert result.body["account_id"] == 100
    assert result.body["email"] == "ada@example.com"
    assert result.body["fields"] == {"first_name": "Ada"}
    assert result.body["status"] == "a"
    assert re.match(r"^@D:\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$", result.body["member_since"])


def test_get_unknown_or_other_accounts_member_is_404(dynamodb: Any) -> None:
    member_id = new_member(100)
    assert_problem(get_member(100, 999), 404)
    assert_problem(get_member(200, member_id), 404)
    assert_problem(get_member(100, "abc"), 400, "path.member_id")


def test_get_by_email_is_case_insensitive_and_url_decoded(dynamodb: Any) -> None:
    member_id = new_member(email="ada@example.com")
    assert get_by_email(100, "ADA@example.com").body["member_id"] == member_id
    assert get_by_email(100, "ada%40example.com").body["member_id"] == member_id
    assert_problem(get_by_email(100, "bob@example.com"), 404)
    assert_problem(get_by_email(200, "ada@example.com"), 404)
    assert_problem(get_by_email(100, "nonsense"), 400, "path.email")


def test_delete_removes_the_member_and_frees_its_email(dynamodb: Any) -> None:
    member_id = new_member()
    result = invoke("delete_member", api_event("delete_member", path={"member_id": member_id}))
    assert result.status == 200
    assert result.body is True
    assert_problem(get_member(100, member_id), 404)
    assert_problem(get_by_email(100, "ada@example.com"), 404)
    again = add_member().body
    assert again["added"] is True
    assert again["member_id"] > member_id


def test_delete_unknown_member_is_404(dynamodb: Any) -> None:
    assert_problem(invoke("delete_member", load_event("delete_member")), 404)


def test_concurrent_adds_of_one_email_yield_one_member(dynamodb: Any) -> None:
    for round_ in range(8):
        email = f"race-{round_}@example.com"
        results = run_together(*[lambda email=email: add_member(email=email) for _ in range(3)])
        assert all(r.status == 200 for r in results)
        assert len({r.body["member_id"] for r in results}) == 1
        assert sorted(r.body["added"] for r in results) == [False, False, True]


def test_an_email_with_more_than_64_octets_before_the_at_is_refused(dynamodb: Any) -> None:
    """RFC 5321 caps the local part at 64 octets."""
    assert add_member(email="a" * 64 + "@example.com").status == 200
    assert_problem(add_member(email="b" * 65 + "@example.com"), 400, "body.email")


@pytest.mark.parametrize(
    "fields",
    [
        {"a\u0000b": "x"},
        {"note": "x\u001fy"},
        {"deep": {"list": [{"k": "\u0007"}]}},
        {"deep": {"k\u007f": 1}},
    ],
)
def test_control_characters_are_refused_anywhere_in_fields(dynamodb: Any, fields: dict[str, Any]) -> None:
    assert_problem(add_member(fields=fields), 400, "body.fields")


def test_tabs_and_line_breaks_are_text_in_fields(dynamodb: Any) -> None:
    result = add_member(fields={"note": "line one\nline two\tand\r\n"})
    assert result.status == 200, result.body


@pytest.fixture
def validator_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every address given to email-validator (its import is ~20 ms of a cold start: docs/performance.md)."""
    import email_validator

    calls: list[str] = []
    real = email_validator.validate_email

    def counted(value: str, **options: Any) -> Any:
        calls.append(value)
        return real(value, **options)

    monkeypatch.setattr(email_validator, "validate_email", counted)
    return calls


def test_a_lookup_that_finds_its_member_never_runs_the_validator(dynamodb: Any, validator_calls: list[str]) -> None:
    new_member(100, "Ada.Lovelace@Example.com")
    assert validator_calls == ["Ada.Lovelace@Example.com"]  # adding validates, always
    validator_calls.clear()
    assert get_by_email(100, "ada.lovelace@EXAMPLE.com").status == 200
    ok = post_events(100, [{"email": "ADA.LOVELACE@example.com", "event_type_id": create_type(100)}])
    assert ok.status == 200, ok.body
    assert validator_calls == []


@pytest.mark.parametrize("address", ["nope", "a@b", "ada@@example.com", "ada@example..com"])
def test_an_address_that_is_not_one_is_still_a_400_naming_the_field(dynamodb: Any, address: str) -> None:
    assert_problem(get_by_email(100, quote(address, safe="")), 400, "path.email")
    result = post_events(100, [{"email": address, "event_type_id": create_type(100)}])
    assert_problem(result, 400, "body.events.0.email")
    assert result.body["errors"][0]["type"] == "value_error"


def test_a_valid_unknown_address_is_404_and_an_unknown_member_in_events(dynamodb: Any) -> None:
    assert_problem(get_by_email(100, "nobody@example.com"), 404)
    result = post_events(100, [{"email": "nobody@example.com", "event_type_id": create_type(100)}])
    assert result.body["errors"][0]["type"] == "unknown_member"


def test_an_address_beyond_ascii_is_normalized_before_the_lookup(dynamodb: Any) -> None:
    """Stored as email-validator normalizes it (NFC); found by its decomposed form too."""
    member = new_member(100, "jos\u00e9@example.com")
    assert get_by_email(100, quote("jose\u0301@example.com", safe="")).body["member_id"] == member
    ok = post_events(100, [{"email": "jose\u0301@EXAMPLE.com", "event_type_id": create_type(100)}])
    assert ok.status == 200, ok.body
    assert ok.body[0]["member_id"] == member

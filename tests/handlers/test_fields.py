"""Member fields, Emma's ``/fields``: the two default fields, fields created with unique shortcut names, listed
and counted with Emma paging."""

from __future__ import annotations

from typing import Any

import pytest
from helpers import assert_problem, examples, run_together, survives
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devtools.testing.events import api_event
from devtools.testing.in_process import invoke

pytestmark = pytest.mark.stores  # on moto, then again on DynamoDB Local

DEFAULTS = [("first_name", "First Name", 1), ("last_name", "Last Name", 2)]


def create_field(account_id: int, shortcut_name: str, **more: Any) -> Any:
    body = {"shortcut_name": shortcut_name, "display_name": shortcut_name.title(), **more}
    return invoke("create_field", api_event("create_field", path={"account_id": account_id}, body=body))


def list_fields(account_id: int, query: dict[str, str] | None = None) -> Any:
    return invoke("list_fields", api_event("list_fields", path={"account_id": account_id}, query=query))


def test_a_new_account_lists_emmas_two_default_fields_in_emmas_shape(dynamodb: Any) -> None:
    result = list_fields(100)
    assert result.status == 200
    assert [(f["shortcut_name"], f["display_name"], f["field_id"]) for f in result.body] == DEFAULTS
    assert result.body[0] == {
        "field_id": 1,
        "account_id": 100,
        "shortcut_name": "first_name",
        "display_name": "First Name",
        "field_type": "text",
        "widget_type": "text",
        "column_order": 1,
        "required": False,
        "short_display_name": None,
        "deleted_at": None,
        "options": None,
    }


def test_a_created_field_answers_its_id_and_is_listed_after_the_defaults(dynamodb: Any) -> None:
    created = create_field(100, "favorite_food", field_type="text[]", widget_type="check_multiple")
    assert (created.status, created.body) == (200, 3)
    assert create_field(100, "birthday", field_type="date", widget_type="date", column_order=9).body == 4
    listed = list_fields(100).body
    assert [f["shortcut_name"] for f in listed] == ["first_name", "last_name", "favorite_food", "birthday"]
    assert (listed[2]["field_type"], listed[2]["widget_type"]) == ("text[]", "check_multiple")
    assert (listed[2]["column_order"], listed[3]["column_order"]) == (3, 9)
    assert list_fields(100, {"count": "true"}).body == 4
    assert list_fields(100, {"count": "True"}).body == 4  # as EmmaPython sends it


@pytest.mark.parametrize("name", ["first_name", "last_name", "favorite_food"])
def test_a_shortcut_name_the_account_has_is_a_400(dynamodb: Any, table_items: Any, name: str) -> None:
    assert create_field(100, "favorite_food").status == 200
    result = survives(
        table_items, "create_field", api_event("create_field", body={"shortcut_name": name, "display_name": "X"})
    )
    assert_problem(result, 400, "body.shortcut_name")
    assert result.body["type"] == "urn:emma-events:problem:field-exists"


def test_of_two_concurrent_creations_of_one_name_exactly_one_wins(dynamodb: Any) -> None:
    results = run_together(*[lambda: create_field(100, "plan")] * 4)
    assert sorted(r.status for r in results) == [200, 400, 400, 400]
    assert [f["shortcut_name"] for f in list_fields(100).body].count("plan") == 1
    assert create_field(100, "next").body == 4  # ids are dense: the refused creations took none


def test_accounts_with_colliding_ids_and_names_never_see_each_others_fields(dynamodb: Any) -> None:
    assert create_field(1, "plan").body == 3
    assert create_field(10, "plan").body == 3  # the same id and name in another account
    assert create_field(10, "tier").body == 4
    assert [f["shortcut_name"] for f in list_fields(1).body] == ["first_name", "last_name", "plan"]
    assert {f["account_id"] for f in list_fields(10).body} == {10}
    assert list_fields(1, {"count": "true"}).body == 3


def test_emma_paging_runs_over_the_defaults_and_the_created_fields(dynamodb: Any) -> None:
    for name in ("a", "b", "c"):
        assert create_field(100, name).status == 200
    names = [f["shortcut_name"] for f in list_fields(100, {"start": "1", "end": "4"}).body]
    assert names == ["last_name", "a", "b"]
    assert [f["shortcut_name"] for f in list_fields(100, {"start": "3", "end": "9"}).body] == ["b", "c"]
    assert list_fields(100, {"start": "9"}).body == []
    assert_problem(list_fields(100, {"start": "0", "end": "501"}), 400, "query.end")


def test_an_account_creates_at_most_max_fields(dynamodb: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from emma_events import field_store

    monkeypatch.setattr(field_store, "MAX_FIELDS", 2)
    assert [create_field(100, name).status for name in ("a", "b")] == [200, 200]
    assert_problem(create_field(100, "c"), 400, "body.shortcut_name")
    assert list_fields(100, {"count": "true"}).body == 4


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"display_name": "X"}, "body.shortcut_name"),
        ({"shortcut_name": "", "display_name": "X"}, "body.shortcut_name"),
        ({"shortcut_name": "9lives", "display_name": "X"}, "body.shortcut_name"),
        ({"shortcut_name": "has space", "display_name": "X"}, "body.shortcut_name"),
        ({"shortcut_name": "x" * 65, "display_name": "X"}, "body.shortcut_name"),
        ({"shortcut_name": "ok"}, "body.display_name"),
        ({"shortcut_name": "ok", "display_name": "X", "field_type": "blob"}, "body.field_type"),
        ({"shortcut_name": "ok", "display_name": "X", "widget_type": "slider"}, "body.widget_type"),
        ({"shortcut_name": "ok", "display_name": "X", "column_order": 0}, "body.column_order"),
        ({"shortcut_name": "ok", "display_name": "X", "column_order": "1"}, "body.column_order"),
    ],
)
def test_an_invalid_field_is_a_400_naming_it(dynamodb: Any, table_items: Any, body: Any, field: str) -> None:
    assert_problem(survives(table_items, "create_field", api_event("create_field", body=body)), 400, field)


@settings(max_examples=examples(40), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    body=st.dictionaries(
        st.sampled_from(["shortcut_name", "display_name", "field_type", "widget_type", "column_order"]),
        st.none() | st.booleans() | st.integers() | st.text(max_size=80),
    )
)
def test_generated_bodies_are_created_or_refused_with_nothing_written(
    dynamodb: Any, table_items: Any, body: Any
) -> None:
    before = len(table_items())
    result = invoke("create_field", api_event("create_field", body=body))
    if result.status == 200:
        assert len(table_items()) > before
    else:
        assert_problem(result, 400)
        assert len(table_items()) == before

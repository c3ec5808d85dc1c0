"""``GET /{account_id}/members``: the account's members by id, Emma paging (``start``/``end``, ``count=true``), a
cursor past ``start`` 500, exact counts, and the upgrade of members added before the listing."""

from __future__ import annotations

import io
import itertools
import os
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from helpers import add_member, assert_problem, examples, new_member
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devtools.testing.events import api_event
from devtools.testing.in_process import invoke

pytestmark = pytest.mark.stores  # on moto, then again on DynamoDB Local


def list_members(account_id: int, query: dict[str, str] | None = None) -> Any:
    return invoke("list_members", api_event("list_members", path={"account_id": account_id}, query=query))


def ids(result: Any) -> list[int]:
    assert result.status == 200, result.body
    return [member["member_id"] for member in result.body]


def count(account_id: int) -> int:
    result = list_members(account_id, {"count": "true"})
    assert result.status == 200, result.body
    return int(result.body)


def delete_member(account_id: int, member_id: int) -> None:
    path = {"account_id": account_id, "member_id": member_id}
    assert invoke("delete_member", api_event("delete_member", path=path)).status == 200


def seed(count: int, account_id: int = 100, first_id: int = 1_000_000) -> list[int]:
    from devtools.testing.seeding import seed_members
    from emma_events.stores import Stores

    return seed_members(Stores.of_this_container(), count, account_id=account_id, first_id=first_id)


def test_members_are_listed_by_id_in_the_member_shape_and_counted(dynamodb: Any) -> None:
    assert list_members(100).body == []
    assert count(100) == 0
    first = new_member(100, "ada@example.com")
    added = [new_member(100, f"m{n}@example.com") for n in range(3)]
    listed = list_members(100).body
    assert [m["member_id"] for m in listed] == [first, *added]
    assert listed[0] | {"member_since": None} == {
        "member_id": first,
        "account_id": 100,
        "email": "ada@example.com",
        "fields": {},
        "status": "a",
        "member_since": None,
    }
    assert listed[0]["member_since"].startswith("@D:")
    assert count(100) == 4
    assert add_member(100, "ADA@example.com").body["added"] is False  # the same member: counted once
    delete_member(100, added[1])
    again = invoke("delete_member", api_event("delete_member", path={"account_id": 100, "member_id": added[1]}))
    assert again.status == 404  # gone: taken off the count once
    assert ids(list_members(100)) == [first, added[0], added[2]]
    assert count(100) == 3


def test_accounts_with_colliding_member_ids_never_see_each_others_members(dynamodb: Any) -> None:
    one, ten = new_member(1, "ada@example.com"), new_member(10, "ada@example.com")
    assert one == ten  # ids are per account: these collide on purpose
    new_member(10, "bob@example.com")
    assert [m["account_id"] for m in list_members(1).body] == [1]
    assert (count(1), count(10)) == (1, 2)


#: A fresh account for each generated example (the table is the test's, shared by its examples).
_accounts = itertools.count(10_000)


@settings(max_examples=examples(15), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    size=st.integers(0, 70),
    deleted=st.sets(st.integers(0, 69)),
    start=st.integers(0, 80),
    length=st.integers(1, 40),
)
def test_any_page_of_any_account_is_the_slice_of_its_members_by_id(
    dynamodb: Any, size: int, deleted: set[int], start: int, length: int
) -> None:
    """Members deleted unevenly over the shards (a shard emptied, another full) still make whole pages."""
    account = next(_accounts)
    present = seed(size, account, first_id=1)
    for position in sorted(deleted & set(range(size))):
        delete_member(account, present[position])
    alive = [member for position, member in enumerate(present) if position not in deleted]
    assert (
        ids(list_members(account, {"start": str(start), "end": str(start + length)})) == alive[start : start + length]
    )
    assert count(account) == len(alive)


def test_a_page_stops_at_end_and_start_past_500_points_to_the_cursor(dynamodb: Any) -> None:
    seed(12)
    assert ids(list_members(100, {"start": "3", "end": "6"})) == [1_000_003, 1_000_004, 1_000_005]
    assert ids(list_members(100, {"start": "500"})) == []
    deep = list_members(100, {"start": "501"})
    assert_problem(deep, 400, "query.start")
    assert "cursor" in deep.body["errors"][0]["message"]
    assert_problem(list_members(100, {"start": "0", "end": "501"}), 400, "query.end")


def test_the_cursor_of_the_link_header_walks_every_member_once(dynamodb: Any) -> None:
    seed(23)
    seen: list[int] = []
    result = list_members(100, {"start": "0", "end": "5"})
    while True:
        seen += ids(result)
        link = result.headers.get("Link")
        if link is None:
            break
        query = parse_qs(urlsplit(link[1 : link.index(">")]).query)
        assert query["limit"] == ["5"]
        result = list_members(100, {"cursor": query["cursor"][0], "limit": "5"})
    assert seen == list(range(1_000_000, 1_000_023))


@pytest.mark.parametrize("cursor", ["nope", "eyJhIjoieCIsImYiOiIwIn0"])
def test_a_cursor_not_made_here_is_a_400(dynamodb: Any, cursor: str) -> None:
    assert_problem(list_members(100, {"cursor": cursor, "limit": "5"}), 400, "query.cursor")


def test_a_forged_cursor_of_the_right_listing_but_no_member_id_is_a_400(dynamodb: Any) -> None:
    from emma_events.paging import encode_cursor

    for after in ("x", "1" * 17, "-1", "٣"):
        forged = encode_cursor(after, (100,))
        assert_problem(list_members(100, {"cursor": forged, "limit": "5"}), 400, "query.cursor")


def added_before_the_listing(dynamodb: Any, member_id: int, email: str) -> None:
    """A member as a release before the listing wrote it: no ``Members`` key, not counted."""
    from emma_events import layout
    from emma_events.dates import utc_now
    from emma_events.domain import Member

    item = layout.member_item(Member(100, member_id, email, {}, "a", utc_now()))
    del item["GSI3PK"], item["GSI3SK"]
    guard = layout.email_key(100, email) | {"member_id": {"N": str(member_id)}}
    for written in (item, guard):
        dynamodb.put_item(TableName=os.environ["TABLE_NAME"], Item=written)


def index_members(dynamodb: Any) -> tuple[int, str]:
    from ops.index_members import main

    out = io.StringIO()
    code = main(["--table", os.environ["TABLE_NAME"]], out, client=dynamodb)
    return code, out.getvalue()


def test_members_added_before_the_listing_are_indexed_and_counted_once_by_the_upgrade(dynamodb: Any) -> None:
    for member_id in (7, 8, 9):
        added_before_the_listing(dynamodb, member_id, f"old{member_id}@example.com")
    new = new_member(100, "new@example.com")
    assert (ids(list_members(100)), count(100)) == ([new], 1)
    delete_member(100, 9)  # not counted yet: its delete takes nothing off the count
    assert count(100) == 1
    assert index_members(dynamodb) == (0, "2 member(s) indexed, 0 refused\n")
    assert (ids(list_members(100)), count(100)) == (sorted([7, 8, new]), 3)
    assert index_members(dynamodb) == (0, "0 member(s) indexed, 0 refused\n")  # run again: nothing twice
    delete_member(100, 8)
    assert (ids(list_members(100)), count(100)) == (sorted([7, new]), 2)


def test_the_listings_queries_side_by_side_keep_the_invocations_deadline(dynamodb: Any) -> None:
    """The 16 Queries run in worker threads: the deadline (a context variable of the invocation) holds there too,
    so a listing out of time is a 503 with Retry-After, not a function timed out by the SDK's retries."""
    from emma_events.deadline import set_deadline
    from emma_events.errors import ServiceUnavailable
    from emma_events.stores import members

    seed(3)
    set_deadline(0.0)
    try:
        with pytest.raises(ServiceUnavailable):
            members().list_members(100, limit=10)
    finally:
        set_deadline(None)
    assert [m.member_id for m in members().list_members(100, limit=10)[0]] == [1_000_000, 1_000_001, 1_000_002]

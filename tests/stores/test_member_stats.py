"""A member's stats per event type: count, exact value, first and last, through writes, replays, deletes, cascades
and the upgrade of events recorded before; and the exact sums they rest on."""

from __future__ import annotations

import io
import itertools
import os
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal, localcontext
from typing import Any

import pytest
from helpers import assert_problem, create_type, delete_type, examples, new_member, post_events
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from streams import CascadeDriver

from devtools.testing.events import api_event
from devtools.testing.in_process import invoke

BASE = datetime(2026, 3, 1, 12, tzinfo=UTC)
#: Values as clients send them: money, a value at each end of the range accepted, negatives, zero.
VALUES = st.one_of(
    st.none(),
    st.integers(-(10**15), 10**15),
    st.decimals(min_value=-10_000, max_value=10_000, places=2).map(float),
    st.floats(min_value=-1e15, max_value=1e15, allow_nan=False).filter(lambda v: v == 0 or abs(v) >= 1e-130),
    st.sampled_from([1e-130, -1e-130, 1e15, 0.1, 0.2, 5e-324 * 0]),
)


ACCOUNTS = itertools.count(900)


def emma(moment: datetime) -> str:
    return f"@D:{moment:%Y-%m-%dT%H:%M:%S}"


def stats(account_id: int, member_id: int) -> Any:
    path = {"account_id": account_id, "member_id": member_id}
    return invoke("get_member_event_stats", api_event("get_member_event_stats", path=path))


def expected(posted: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The stats of ``posted`` events, brute force: as the events were stored (a value's decimal text)."""
    by_type: dict[int, list[dict[str, Any]]] = {}
    for event in posted:
        by_type.setdefault(event["event_type_id"], []).append(event)
    answer = []
    for type_id, events in sorted(by_type.items()):
        with localcontext(prec=400):  # exact: 1e15 + 1e-130 has 146 digits
            value = sum(
                (Decimal(repr(e["event_monetary_value"])) for e in events if "event_monetary_value" in e), Decimal(0)
            )
            text = "0" if not value else format(value.normalize(), "f")
        times = sorted(e["event_timestamp"] for e in events)
        answer.append(
            {
                "event_type_id": type_id,
                "count": len(events),
                "value": text,
                "first": times[0],
                "last": times[-1],
            }
        )
    return answer


@pytest.mark.stores
def test_stats_per_type_are_exact_through_replays_and_leave_out_a_deleted_type(dynamodb: Any, table_items: Any) -> None:
    member, other = new_member(100, "ada@example.com"), new_member(100, "bob@example.com")
    a, b = create_type(100, "a"), create_type(100, "b")
    posted = [
        {"member_id": member, "event_type_id": a, "event_timestamp": emma(BASE), "event_monetary_value": 0.1},
        {"member_id": member, "event_type_id": a, "event_timestamp": emma(BASE - timedelta(days=400))},
        {
            "member_id": member,
            "event_type_id": a,
            "event_timestamp": emma(BASE + timedelta(hours=5)),
            "event_monetary_value": 0.2,
        },
        {"member_id": member, "event_type_id": b, "event_timestamp": emma(BASE), "event_monetary_value": 1e15},
        {"member_id": member, "event_type_id": b, "event_timestamp": emma(BASE), "event_monetary_value": 1e-130},
        {"member_id": member, "event_type_id": b, "event_timestamp": emma(BASE), "event_monetary_value": -3},
    ]
    assert post_events(100, posted, {"Idempotency-Key": "k-1"}).status == 200
    assert post_events(100, posted, {"Idempotency-Key": "k-1"}).status == 200  # a replay: counted once
    assert post_events(100, [{"member_id": other, "event_type_id": b, "event_monetary_value": 7}]).status == 200
    answer = stats(100, member)
    assert answer.status == 200, answer.body
    assert answer.body == expected(posted)
    assert answer.body[0]["value"] == "0.3"  # decimal, as stored: not 0.30000000000000004
    assert answer.body[1]["value"] == "999999999999997." + "0" * 129 + "1"
    assert answer.body[0]["first"] == emma(BASE - timedelta(days=400))  # out of order: the earliest

    driver = CascadeDriver()
    assert delete_type(100, b).status == 200
    assert stats(100, member).body == expected(posted[:3])  # at once, before its cascade
    driver.drain()
    assert stats(100, member).body == expected(posted[:3])
    assert not [i for i in table_items() if i["SK"]["S"] == f"CT#{b:016d}"], "the type's totals items are gone"
    assert stats(100, other).body == []


@pytest.mark.stores
def test_stats_of_a_member_not_in_the_account_are_a_404_even_when_its_id_exists_elsewhere(dynamodb: Any) -> None:
    theirs = new_member(101, "ada@example.com")
    assert post_events(101, [{"member_id": theirs, "event_type_id": create_type(101, "a")}]).status == 200
    assert new_member(100, "eve@example.com") == theirs  # the same id in both accounts, on purpose
    assert stats(100, theirs).body == []
    assert_problem(stats(100, theirs + 1), 404)
    assert_problem(invoke("get_member_event_stats", api_event("get_member_event_stats", path={"member_id": "x"})), 400)


@pytest.mark.stores
@settings(max_examples=examples(12), deadline=None, suppress_health_check=list(HealthCheck))
@given(events=st.lists(st.tuples(st.integers(0, 2), st.integers(-3000, 3000), VALUES), min_size=1, max_size=10))
def test_stats_match_a_brute_force_count_of_generated_events(dynamodb: Any, events: list[Any]) -> None:
    account = next(ACCOUNTS)  # a new account per example: the table is the test's
    member = new_member(account, "ada@example.com")
    types = [create_type(account, name) for name in ("a", "b", "c")]
    posted = []
    for kind, hours, value in events:
        event = {
            "member_id": member,
            "event_type_id": types[kind],
            "event_timestamp": emma(BASE + timedelta(hours=hours)),
        }
        if value is not None:
            event["event_monetary_value"] = value
        posted.append(event)
    answer = post_events(account, posted)
    assert answer.status == 200, answer.body
    # what was stored is what the answer echoes (1e3 is stored as 1000): the stats add those
    for event, stored in zip(posted, answer.body, strict=True):
        if "event_monetary_value" in event:
            event["event_monetary_value"] = stored["event_monetary_value"]
    assert stats(account, member).body == expected(posted)


def strip_tallies(table_items: Any, dynamodb: Any) -> None:
    """Make the table what a release before this one left: events without their mark, no totals, no value sums."""
    band = re.compile(r"^[dm]\d\dv-?\d+$")
    for item in table_items():
        key = {"PK": item["PK"], "SK": item["SK"]}
        if item["SK"]["S"].startswith("CT#") or "#TS#" in item["PK"]["S"] or "#RL#" in item["PK"]["S"]:
            dynamodb.delete_item(TableName=os.environ["TABLE_NAME"], Key=key)
        elif "tallied" in item:
            dynamodb.update_item(TableName=os.environ["TABLE_NAME"], Key=key, UpdateExpression="REMOVE tallied")
        elif names := [name for name in item if band.match(name)]:
            dynamodb.update_item(
                TableName=os.environ["TABLE_NAME"],
                Key=key,
                UpdateExpression="REMOVE " + ", ".join(f"#a{i}" for i in range(len(names))),
                ExpressionAttributeNames={f"#a{i}": name for i, name in enumerate(names)},
            )


def tally_events(dynamodb: Any) -> tuple[int, str]:
    from ops.tally_events import main

    out = io.StringIO()
    return main(["--table", os.environ["TABLE_NAME"]], out=out, client=dynamodb), out.getvalue()


@pytest.mark.stores
def test_events_recorded_before_stats_are_tallied_once_by_the_upgrade(dynamodb: Any, table_items: Any) -> None:
    member = new_member()
    kind = create_type(100, "a")
    posted = [
        {
            "member_id": member,
            "event_type_id": kind,
            "event_timestamp": emma(BASE + timedelta(days=d)),
            "event_monetary_value": 2.5,
        }
        for d in (0, 1, 40)
    ]
    assert post_events(100, posted).status == 200
    strip_tallies(table_items, dynamodb)
    assert stats(100, member).body == []
    assert tally_events(dynamodb) == (0, "3 event(s) tallied, 0 refused\n")
    assert stats(100, member).body == expected(posted)
    assert tally_events(dynamodb) == (0, "0 event(s) tallied, 0 refused\n")  # run again: nothing twice
    assert stats(100, member).body == expected(posted)
    path = {"account_id": 100, "event_type_id": kind}
    query = {"since": emma(BASE), "until": emma(BASE + timedelta(days=59)), "interval": "month"}
    months = invoke("get_event_type_stats", api_event("get_event_type_stats", path=path, query=query)).body
    assert [(m["count"], m["value"]) for m in months] == [(2, "5"), (1, "2.5")]  # its type's stats too, once
    counted = {i["SK"]["S"]: i for i in table_items() if i["SK"]["S"] == f"C#{kind:016d}#M#2026-03"}
    assert counted[f"C#{kind:016d}#M#2026-03"]["d02v0"] == {"N": "2"}  # the day's value, 2.5: bands 0 and -1


@given(values=st.lists(VALUES.filter(lambda v: v is not None), max_size=40))
def test_banded_sums_are_exact_and_fit_a_dynamodb_number(values: list[Any]) -> None:
    from emma_events import sums

    added: dict[int, int] = {}
    for value in values:
        for band, part in sums.bands(value).items():
            assert abs(part) < 10**sums.WIDTH
            added[band] = added.get(band, 0) + part
    with localcontext(prec=400):
        exact = sum((Decimal(repr(v)) for v in values), Decimal(0))
    assert sums.add(added.items()) == exact
    assert Decimal(sums.text(sums.add(added.items()))) == exact

"""Saved searches: Emma's endpoints and criteria with event terms, evaluated exactly (a brute force over the raw
events decides), through replays, deletes and their cascades; confined to their account; hostile criteria."""

from __future__ import annotations

import calendar
import itertools
import json
import time
import tracemalloc
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from helpers import add_member, assert_problem, create_type, delete_type, examples, new_member, post_events, survives
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from streams import CascadeDriver

from devtools.testing.events import api_event
from devtools.testing.in_process import invoke

ACCOUNTS = itertools.count(3000)
TYPES = ("a", "b", "c")
COLORS = ("red", "Red", "blue")
#: Now, for the whole test: the searches' "in last" windows and the brute force's agree on today.
NOW = datetime.now(UTC).replace(microsecond=0)
TODAY = NOW.date()


@pytest.fixture(autouse=True)
def fixed_now(monkeypatch: pytest.MonkeyPatch) -> None:
    import emma_events.search_store

    monkeypatch.setattr(emma_events.search_store, "utc_now", lambda: NOW)


def search_event(account_id: int, criteria: Any, name: str = "s") -> dict[str, Any]:
    """A POST /searches without the events/ file's Idempotency-Key (each call a new request)."""
    event = api_event("create_search", path={"account_id": account_id}, body={"name": name, "criteria": criteria})
    event["headers"].pop("Idempotency-Key", None)
    event["multiValueHeaders"].pop("Idempotency-Key", None)
    return event


def search(account_id: int, criteria: Any, name: str = "s") -> Any:
    return invoke("create_search", search_event(account_id, criteria, name))


def members_of(account_id: int, search_id: int, query: dict[str, str] | None = None) -> Any:
    path = {"account_id": account_id, "search_id": search_id}
    return invoke("list_search_members", api_event("list_search_members", path=path, query=query or {}))


def get_search(account_id: int, search_id: int) -> Any:
    return invoke("get_search", api_event("get_search", path={"account_id": account_id, "search_id": search_id}))


# ---- the brute force: the criteria over the raw events ---------------------------------------------------------


def month_back(today: date, months: int) -> date:
    """The day after the same day ``months`` months before (clamped to the month's end), stepping one at a time."""
    year, month = today.year, today.month
    for _ in range(months):
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    return date(year, month, min(today.day, calendar.monthrange(year, month)[1])) + timedelta(days=1)


def window_days(how: str, args: list[Any]) -> tuple[date, date]:
    if how == "between":
        return date.fromisoformat(args[0]), date.fromisoformat(args[1])
    ((unit, amount),) = args[0].items()
    if unit == "day":
        return TODAY - timedelta(days=amount - 1), TODAY
    if unit == "week":
        return TODAY - timedelta(days=7 * amount - 1), TODAY
    return month_back(TODAY, amount * (12 if unit == "year" else 1)), TODAY


def brute(criteria: list[Any], world: dict[str, Any]) -> set[int]:
    head = criteria[0]
    if head in ("and", "or"):
        parts = [brute(part, world) for part in criteria[1:]]
        return set.intersection(*parts) if head == "and" else set.union(*parts)
    if head == "not":
        return set(world["members"]) - brute(criteria[1], world)
    kind, _, name = head.partition(":")
    members = world["members"]
    if kind == "member_since":
        first, last = window_days(criteria[1], criteria[2:])
        return {m for m, info in members.items() if first <= info["since"] <= last}
    if kind == "member_field":
        op, wanted = criteria[1], criteria[2]
        found = set()
        for m, info in members.items():
            value = info["fields"].get(name)
            if not isinstance(value, str):
                continue
            text, wanted_texts = value.casefold(), [w.casefold() for w in (wanted if op == "in" else [wanted])]
            if (op == "contains" and wanted_texts[0] in text) or (op != "contains" and text in wanted_texts):
                found.add(m)
        return found
    events = [e for e in world["events"] if e["type"] == name and e["member"] in members]
    if kind == "event":
        if len(criteria) > 1:
            first, last = window_days(criteria[1], criteria[2:])
            events = [e for e in events if first <= e["day"] <= last]
        return {e["member"] for e in events}
    op, arity = criteria[1], 2 if criteria[1] == "between" else 1
    bounds = [Decimal(repr(b)) for b in criteria[2 : 2 + arity]]
    if len(criteria) > 2 + arity:
        ((how, args),) = criteria[2 + arity].items()
        first, last = window_days(how, args if how == "between" else [args])
        events = [e for e in events if first <= e["day"] <= last]
    found = set()
    for m in members:
        mine = [e for e in events if e["member"] == m]
        amount = Decimal(len(mine)) if kind == "event_count" else sum((e["value"] for e in mine), Decimal(0))
        if (
            (op == "eq" and amount == bounds[0])
            or (op == "gt" and amount > bounds[0])
            or (op == "lt" and amount < bounds[0])
            or (op == "between" and bounds[0] <= amount <= bounds[1])
        ):
            found.add(m)
    return found


# ---- generated worlds and criteria -----------------------------------------------------------------------------

DAYS = st.integers(-35, 2)


def windows(draw: Any) -> list[Any]:
    if draw(st.booleans()):
        unit = draw(st.sampled_from(["day", "week", "month"]))
        return ["in last", {unit: draw(st.integers(1, {"day": 12, "week": 2, "month": 1}[unit]))}]
    first = TODAY + timedelta(days=draw(st.integers(-14, 2)))
    return ["between", f"{first}", f"{first + timedelta(days=draw(st.integers(0, 8)))}"]


@st.composite
def terms(draw: Any) -> list[Any]:
    name = draw(st.sampled_from(TYPES))
    kind = draw(st.sampled_from(["event", "event_count", "event_value", "member_since", "member_field"]))
    if kind == "event":
        return [f"event:{name}", *(windows(draw) if draw(st.booleans()) else [])]
    if kind == "member_since":
        return ["member_since", *windows(draw)]
    if kind == "member_field":
        op = draw(st.sampled_from(["eq", "contains", "in"]))
        value = draw(st.sampled_from(["red", "RED", "e", "blue"]))
        return ["member_field:color", op, [value, "blue"] if op == "in" else value]
    numbers = st.integers(0, 3) if kind == "event_count" else st.sampled_from([0, 5, 10.5, -1, 0.3])
    op = draw(st.sampled_from(["eq", "gt", "lt", "between"]))
    bounds = sorted(draw(st.lists(numbers, min_size=2, max_size=2)))[: 2 if op == "between" else 1]
    term = [f"{kind}:{name}", op, *bounds]
    if draw(st.booleans()):
        how, *args = windows(draw)
        term.append({how: args if how == "between" else args[0]})
    return term


CRITERIA = st.recursive(
    terms(),
    lambda inner: st.one_of(
        st.tuples(st.sampled_from(["and", "or"]), st.lists(inner, min_size=1, max_size=3)).map(lambda t: [t[0], *t[1]]),
        inner.map(lambda c: ["not", c]),
    ),
    max_leaves=6,
)
EVENTS = st.lists(
    st.tuples(
        st.integers(0, 3),  # member
        st.integers(0, 2),  # type
        DAYS,
        st.sampled_from([0, 23]),  # hours at either end of a UTC day
        st.sampled_from(["Z", "+05:30", "-08:00", "@D"]),  # as sent: a zone's clock, or Emma's UTC
        st.one_of(st.none(), st.sampled_from([5, 0.1, 0.2, 10.5, -1])),
    ),
    max_size=24,
)


@pytest.mark.stores
@settings(max_examples=examples(10), deadline=None, suppress_health_check=list(HealthCheck))
@given(
    events=EVENTS,
    searches=st.lists(CRITERIA, min_size=1, max_size=3),
    replay=st.booleans(),
    gone_member=st.none() | st.integers(0, 3),
    gone_type=st.none() | st.integers(0, 2),
    drained=st.booleans(),
)
def test_searches_match_a_brute_force_over_the_raw_events(
    dynamodb: Any,
    events: list[Any],
    searches: list[Any],
    replay: bool,
    gone_member: int | None,
    gone_type: int | None,
    drained: bool,
) -> None:
    account = next(ACCOUNTS)
    ids, members = [], {}
    for n in range(4):
        fields = {"color": COLORS[n % 3]} if n < 3 else {}
        answer = add_member(account, f"m{n}@example.com", fields)
        ids.append(answer.body["member_id"])
        members[ids[-1]] = {"fields": fields, "since": TODAY}
    types = [create_type(account, name) for name in TYPES]
    world: dict[str, Any] = {"members": members, "events": []}
    for batch, start in enumerate(range(0, len(events), 10)):
        posted = []
        for member, kind, day, hour, zone, value in events[start : start + 10]:
            moment = datetime.combine(TODAY + timedelta(days=day), datetime.min.time(), UTC) + timedelta(hours=hour)
            sent = f"@D:{moment:%Y-%m-%dT%H:%M:%S}" if zone == "@D" else f"{moment:%Y-%m-%dT%H:%M:%S}{zone}"
            event = {"member_id": ids[member], "event_type_id": types[kind], "event_timestamp": sent}
            if value is not None:
                event["event_monetary_value"] = value
            posted.append(event)
        key = {"Idempotency-Key": f"k-{batch}"}
        answer = post_events(account, posted, key)
        assert answer.status == 200, answer.body
        if replay:
            assert post_events(account, posted, key).status == 200  # once, however often it is sent
        for stored in answer.body:
            world["events"].append(
                {
                    "member": stored["member_id"],
                    "type": TYPES[types.index(stored["event_type_id"])],
                    "day": date.fromisoformat(stored["event_timestamp"][3:13]),
                    "value": Decimal(repr(stored.get("event_monetary_value") or 0)),
                }
            )
    saved = []
    for criteria in searches:
        answer = search(account, criteria if len(saved) % 2 else json.dumps(criteria))  # either form
        assert answer.status == 200, answer.body
        saved.append((answer.body, criteria))
    cascade = CascadeDriver()
    if gone_member is not None:
        path = {"account_id": account, "member_id": ids[gone_member]}
        assert invoke("delete_member", api_event("delete_member", path=path)).status == 200
        del members[ids[gone_member]]
    if gone_type is not None:
        assert delete_type(account, types[gone_type]).status == 200
        world["events"] = [e for e in world["events"] if e["type"] != TYPES[gone_type]]
    if drained:
        cascade.drain()  # the deleted's events gone too; else still there, and left out all the same
    for search_id, criteria in saved:
        expected = sorted(brute(criteria, world))
        answer = members_of(account, search_id)
        assert answer.status == 200, answer.body
        assert [m["member_id"] for m in answer.body] == expected, criteria
        assert members_of(account, search_id, {"count": "true"}).body == len(expected)
        assert get_search(account, search_id).body["active_count"] == len(expected)


@pytest.mark.stores
def test_saved_searches_are_emmas_shape_and_pages(dynamodb: Any) -> None:
    ids = [new_member(100, f"m{n}@example.com") for n in range(7)]
    kind = create_type(100, "purchase")
    assert post_events(100, [{"member_id": m, "event_type_id": kind} for m in ids[1:]]).status == 200
    criteria = ["event:purchase", "in last", {"day": 30}]
    created = search(100, criteria, "Bought lately")
    assert created.status == 200
    assert created.body == 1  # the new search's id, bare
    assert get_search(100, 1).body == {
        "search_id": 1,
        "account_id": 100,
        "name": "Bought lately",
        "criteria": json.dumps(criteria, separators=(",", ":")),
        "active_count": 0,
        "last_run_at": None,
        "deleted_at": None,
        "optout_count": 0,
        "error_count": 0,
    }
    page = members_of(100, 1, {"start": "2", "end": "4"})
    assert [m["member_id"] for m in page.body] == ids[3:5]
    assert page.body[0].keys() == {"member_id", "account_id", "email", "fields", "status", "member_since"}
    shown = get_search(100, 1).body
    assert (shown["active_count"], shown["last_run_at"]) == (6, f"@D:{NOW:%Y-%m-%dT%H:%M:%S}")
    listed = invoke("list_searches", api_event("list_searches", path={"account_id": 100}))
    assert [s["search_id"] for s in listed.body] == [1]
    changes = {"name": "Never bought", "criteria": ["not", criteria]}
    path = {"account_id": 100, "search_id": 1}
    assert invoke("update_search", api_event("update_search", path=path, body=changes)).body is True
    assert [m["member_id"] for m in members_of(100, 1).body] == ids[:1]
    assert invoke("delete_search", api_event("delete_search", path=path)).body is True
    assert_problem(get_search(100, 1), 404)
    assert_problem(members_of(100, 1), 404)
    assert_problem(invoke("delete_search", api_event("delete_search", path=path)), 404)
    assert_problem(invoke("update_search", api_event("update_search", path=path, body=changes)), 404)


@pytest.mark.stores
@pytest.mark.parametrize(
    ("criteria", "field"),
    [
        (["and", ["event:purchase"], ["event_count:purchase", "gt"]], "body.criteria.2.1"),
        (["or", ["event:nope"]], "body.criteria.1.0"),  # a type the account does not have
        (["event:purchase", "in last", {"day": 367}], "body.criteria.2.day"),
        (["event:purchase", "between", "2026-01-01", "2025-01-01"], "body.criteria.3"),
        (["event_value:purchase", "eq", 1, {"in last": {"fortnight": 1}}], "body.criteria.3.in last"),
        (["member_field:color", "in", []], "body.criteria.2"),
        (["member_score", "gt", 1], "body.criteria.0"),
        (["not"], "body.criteria"),
        ("[not json", "body.criteria"),
        ([["and"]], "body.criteria"),
        (["event_count:purchase", [], 1], "body.criteria.1"),  # an operator that is not a text
        (["event:purchase", "between", "2026-W01-1", "2026-01-10"], "body.criteria.2"),  # an ISO week date
        (["member_field:color", "eq", "\ud800"], "body.criteria.2"),  # DynamoDB cannot store it
        (["event:pur\u0000chase"], "body.criteria.0"),
        (["member_field:n", "eq", float("nan")], "body.criteria.2"),
        (["or", *[["member_field:c", "in", ["x" * 999] * 2]] * 20], "body.criteria"),  # 40 KB of text
    ],
)
def test_invalid_criteria_are_a_400_naming_the_part_at_fault(dynamodb: Any, criteria: Any, field: str) -> None:
    create_type(100, "purchase")
    answer = search(100, criteria)
    assert_problem(answer, 400)
    assert [e["field"] for e in answer.body["errors"]] == [field]


@pytest.mark.stores
def test_an_accounts_searches_and_members_never_meet_anothers(dynamodb: Any) -> None:
    """Account 101 has search 1, member 1 and type "purchase" too (colliding ids, on purpose)."""
    for account in (100, 101):
        member = new_member(account, "ada@example.com")
        assert (
            post_events(account, [{"member_id": member, "event_type_id": create_type(account, "purchase")}]).status
            == 200
        )
    assert search(100, ["event:purchase"]).body == search(101, ["not", ["event:purchase"]]).body == 1
    assert [m["account_id"] for m in members_of(100, 1).body] == [100]
    assert members_of(101, 1).body == []
    assert get_search(101, 1).body["criteria"] == '["not",["event:purchase"]]'
    create_type(102, "other")
    assert_problem(search(102, ["event:purchase"]), 400)  # another account's type is unknown here
    assert_problem(get_search(102, 1), 404)


#: What criteria are made of, for hostile ones to be made of too.
WORDS = ("and", "or", "not", "event:purchase", "event_count:purchase", "event_value:purchase", "member_field:x")
WORDS += ("in last", "between", "eq", "gt", "in", "contains", "member_since", "2026-01-01")


@st.composite
def hostile(draw: Any) -> Any:
    leaf = st.one_of(
        st.text(max_size=30),
        st.integers(),
        st.floats(allow_nan=True),
        st.none(),
        st.booleans(),
        st.sampled_from(WORDS),
        st.dictionaries(st.sampled_from(["day", "year", "in last", "between"]), st.integers(-5, 10**9), max_size=2),
    )
    return draw(st.recursive(leaf, lambda inner: st.lists(inner, max_size=6), max_leaves=60))


@pytest.mark.stores
@settings(max_examples=examples(40), deadline=None, suppress_health_check=list(HealthCheck))
@given(criteria=st.one_of(hostile(), hostile().map(json.dumps)))
def test_hostile_criteria_get_a_4xx_or_a_search_and_change_nothing_else(
    dynamodb: Any, table_items: Any, criteria: Any
) -> None:
    if get_search(100, 1).status == 404:  # the first example: a type its terms may name
        create_type(100, "purchase")
        assert search(100, ["event:purchase"]).body == 1
    event = search_event(100, criteria, "x")
    tracemalloc.start()
    started = time.process_time()
    try:
        answer = survives(table_items, "create_search", event)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert time.process_time() - started < 0.5, criteria  # bounded work, whatever was sent: CPU
    assert peak < 16 * 2**20, (peak, criteria)  # and memory
    if answer.status == 200:
        assert members_of(100, answer.body).status == 200


@pytest.mark.stores
def test_a_window_at_its_bounds_and_the_terms_cost_bounds(dynamodb: Any) -> None:
    create_type(100, "purchase")
    long = ["or", *[["event:purchase", "in last", {"year": 1}]] * 4]  # 4 x 366 days: within 1,500
    assert search(100, long).status == 200
    assert_problem(search(100, ["or", *[["event:purchase", "in last", {"year": 1}]] * 5]), 400)
    deep: Any = ["event:purchase"]
    for _ in range(8):
        deep = ["not", deep]
    assert search(100, deep).status == 200
    assert_problem(search(100, ["not", deep]), 400)
    assert_problem(search(100, ["or", *[["event:purchase"]] * 33]), 400)


@pytest.mark.stores
def test_a_value_term_is_exact_past_28_digits(dynamodb: Any) -> None:
    member, kind = new_member(100, "ada@example.com"), create_type(100, "purchase")
    values = [1e15, 1e-20]  # 1000000000000000.00000000000000000001: 36 digits
    assert (
        post_events(
            100, [{"member_id": member, "event_type_id": kind, "event_monetary_value": v} for v in values]
        ).status
        == 200
    )
    for criteria, expected in (
        (["event_value:purchase", "gt", 1e15], [member]),
        (["event_value:purchase", "eq", 1e15], []),
        (["event_value:purchase", "gt", 1e15, {"in last": {"day": 1}}], [member]),
    ):
        created = search(100, criteria)
        assert [m["member_id"] for m in members_of(100, created.body).body] == expected, criteria


@pytest.mark.stores
def test_a_search_past_what_a_request_may_read_runs_outside_it_and_changes_nothing_else(
    dynamodb: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import emma_events.search_store
    from devtools.testing.in_process import LambdaContext, load_function
    from emma_events import stores
    from emma_events.api import ANSWER_MARGIN_S

    ids = [new_member(100, f"m{n}@example.com") for n in range(6)]
    kind = create_type(100, "purchase")
    assert post_events(100, [{"member_id": m, "event_type_id": kind} for m in ids]).status == 200
    for _ in range(3):
        assert search(100, ["not", ["event:purchase"]]).body >= 1
    assert members_of(100, 1).body == []
    before = get_search(100, 1).body
    monkeypatch.setattr(emma_events.search_store, "RUN_ITEMS", 10)  # the 6 index entries, then 6 members: 12
    assert_problem(members_of(100, 1), 503)  # search-running: its runs are made outside (test_search_runs.py)
    assert get_search(100, 1).body == before  # its last run still the one that ran
    monkeypatch.setattr(emma_events.search_store, "RUN_ITEMS", 12)
    assert members_of(100, 2, {"count": "true"}).body == 0
    # The invocation's own deadline: with 6.9 s left, the run stops while the client may still write (it starts no
    # attempt with under 5.5 s left), so the search goes outside rather than answering a 503 of the client's.
    path = {"account_id": 100, "search_id": 3}
    event = api_event("list_search_members", path=path, query={})
    context = LambdaContext("list_search_members", deadline=time.time() + 6.9 + ANSWER_MARGIN_S)
    answer = load_function("list_search_members").lambda_handler(event, context)
    assert (answer["statusCode"], json.loads(answer["body"])["type"]) == (503, "urn:emma-events:problem:search-running")
    assert stores.searches().get_search(100, 3).runs_outside


@pytest.mark.stores
def test_new_criteria_forget_the_last_runs_figures(dynamodb: Any) -> None:
    kind = create_type(100, "purchase")
    member = new_member(100, "ada@example.com")
    assert post_events(100, [{"member_id": member, "event_type_id": kind}]).status == 200
    assert search(100, ["event:purchase"]).body == 1
    assert members_of(100, 1, {"count": "true"}).body == 1
    path = {"account_id": 100, "search_id": 1}
    assert invoke("update_search", api_event("update_search", path=path, body={"name": "renamed"})).body is True
    assert get_search(100, 1).body["active_count"] == 1  # a new name: the same search
    changed = {"criteria": ["not", ["event:purchase"]]}
    assert invoke("update_search", api_event("update_search", path=path, body=changed)).body is True
    assert (get_search(100, 1).body["active_count"], get_search(100, 1).body["last_run_at"]) == (0, None)


@pytest.mark.stores
def test_a_search_posted_again_with_its_key_is_made_once(dynamodb: Any) -> None:
    create_type(100, "purchase")

    def post(criteria: Any) -> Any:
        event = search_event(100, criteria)
        event["headers"]["Idempotency-Key"] = "search-1"
        event["multiValueHeaders"]["Idempotency-Key"] = ["search-1"]
        return invoke("create_search", event)

    assert post(["event:purchase"]).body == 1
    assert post(["event:purchase"]).body == 1  # a resend after a lost answer: the same search
    listed = invoke("list_searches", api_event("list_searches", path={"account_id": 100}))
    assert [s["search_id"] for s in listed.body] == [1]
    assert_problem(post(["not", ["event:purchase"]]), 422)  # the key with another body
    assert search(100, ["event:purchase"]).body == 2  # without a key, a new one (a resend takes no id)
    assert delete_type(100, 1).status == 200
    assert post(["event:purchase"]).body == 1  # a resend after its type is gone: still its search, not a 400


@pytest.mark.stores
def test_a_key_used_by_the_other_post_is_a_422_either_way(dynamodb: Any) -> None:
    """One key space for both POSTs: a body valid for both (extra fields are ignored) is still another request."""
    member, kind = new_member(100, "ada@example.com"), create_type(100, "purchase")
    body = {"name": "s", "criteria": ["event:purchase"], "events": [{"member_id": member, "event_type_id": kind}]}
    searched = api_event("create_search", path={"account_id": 100}, body=body)
    posted = api_event("create_member_events", path={"account_id": 100}, body=body)
    for event in (searched, posted):
        event["headers"]["Idempotency-Key"] = "shared"
        event["multiValueHeaders"]["Idempotency-Key"] = ["shared"]
    assert invoke("create_search", searched).body == 1
    assert_problem(invoke("create_member_events", posted), 422)  # not a 500: the record holds a search

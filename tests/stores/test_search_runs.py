"""Large searches: past what a request may read, a search's runs are made outside it by the stream's consumer, and
its reads page from the last run (search_runs.py). Through the template's stream filter, on both stores."""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from helpers import assert_problem, create_type, new_member, post_events
from streams import CascadeDriver

from devtools.testing.events import api_event
from devtools.testing.in_process import invoke


def search(account_id: int, criteria: Any) -> Any:
    event = api_event("create_search", path={"account_id": account_id}, body={"name": "s", "criteria": criteria})
    event["headers"].pop("Idempotency-Key", None)
    event["multiValueHeaders"].pop("Idempotency-Key", None)
    return invoke("create_search", event)


def members_of(account_id: int, search_id: int, query: dict[str, str] | None = None) -> Any:
    path = {"account_id": account_id, "search_id": search_id}
    return invoke("list_search_members", api_event("list_search_members", path=path, query=query or {}))


def get_search(account_id: int, search_id: int) -> Any:
    return invoke("get_search", api_event("get_search", path={"account_id": account_id, "search_id": search_id}))


@pytest.fixture
def small(monkeypatch: pytest.MonkeyPatch) -> None:
    """A request may read 4 items, a chunk holds 3 ids: a handful of members make a large, many-chunk search."""
    import emma_events.search_runs
    import emma_events.search_store

    monkeypatch.setattr(emma_events.search_store, "RUN_ITEMS", 4)
    monkeypatch.setattr(emma_events.search_runs, "CHUNK_IDS", 3)


def world(account_id: int, members: int) -> list[int]:
    """``members`` members who bought once; the search of them (id 1). Their ids, sorted."""
    kind = create_type(account_id, "purchase")
    ids = [new_member(account_id, f"m{n}@example.com") for n in range(members)]
    assert post_events(account_id, [{"member_id": m, "event_type_id": kind} for m in ids]).status == 200
    assert search(account_id, ["event:purchase"]).body == 1
    return sorted(ids)


def asked() -> Any:
    """Account 100's search 1 read once, when large: the run its read asked for (a 503 meanwhile)."""
    from emma_events.stores import searches

    assert_problem(members_of(100, 1), 503)
    request = searches().runs.pending(100, 1)
    assert request is not None
    return request


def run_item(dynamodb: Any, account_id: int) -> dict[str, Any]:
    from emma_events import keys

    key = {"PK": {"S": keys.search_run_pk(account_id, 1)}, "SK": {"S": keys.SEARCH_RUN_SK}}
    return dynamodb.get_item(TableName=_table(), Key=key, ConsistentRead=True).get("Item", {})


def _table() -> str:
    return os.environ["TABLE_NAME"]


def later(monkeypatch: pytest.MonkeyPatch, seconds: float) -> None:
    """The runs' clock ``seconds`` ahead (the run item's times)."""
    import time

    import emma_events.search_runs

    now = time.time() + seconds
    monkeypatch.setattr(emma_events.search_runs, "clock", lambda: now)


def page_ids(account_id: int, query: dict[str, str] | None = None) -> list[int]:
    answer = members_of(account_id, 1, query)
    assert answer.status == 200, answer.body
    return [m["member_id"] for m in answer.body]


@pytest.mark.stores
def test_a_large_search_runs_outside_the_request_and_pages_from_its_run(dynamodb: Any, small: None) -> None:
    cascade = CascadeDriver()
    mine, theirs = world(100, 8), world(200, 5)  # both accounts' search 1: ids that collide on purpose
    running = members_of(100, 1)
    assert_problem(running, 503)
    assert (running.body["type"].endswith("search-running"), running.headers["Retry-After"]) == (True, "10")
    assert_problem(members_of(100, 1), 503)  # asked once: the run is on its way
    cascade.drain()
    runs = [r for r in cascade.delivered if r["dynamodb"]["NewImage"].get("entity", {}).get("S") == "search_run"]
    assert len(runs) == 1  # one request delivered, the run's own writes not
    assert members_of(100, 1, {"count": "true"}).body == 8
    for start, end in [(0, 8), (2, 7), (3, 6), (7, 20), (8, 9)]:
        page = members_of(100, 1, {"start": str(start), "end": str(end)}).body
        assert [m["member_id"] for m in page] == mine[start:end], (start, end)
    shown = get_search(100, 1).body
    assert (shown["active_count"], shown["last_run_at"] is not None) == (8, True)
    assert_problem(members_of(200, 1), 503)  # the other account's search 1 has a run of its own to make
    cascade.drain()
    assert [m["member_id"] for m in members_of(200, 1).body] == theirs


@pytest.mark.stores
def test_a_run_older_than_its_freshness_is_served_while_the_next_is_made(
    dynamodb: Any, small: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    import emma_events.search_runs as runs

    cascade = CascadeDriver()
    ids = world(100, 5)
    assert_problem(members_of(100, 1), 503)
    cascade.drain()
    first = run_item(dynamodb, 100)["run_id"]["S"]
    assert members_of(100, 1).body[0]["member_id"] == ids[0]
    assert "requested" not in run_item(dynamodb, 100)  # fresh: nothing asked
    newcomer = new_member(100, "new@example.com")
    assert post_events(100, [{"member_id": newcomer, "event_type_id": 1}]).status == 200
    later(monkeypatch, runs.FRESH_S + 1)
    assert members_of(100, 1, {"count": "true"}).body == 5  # the last run, while the next is made
    assert "requested" in run_item(dynamodb, 100)
    cascade.drain()
    assert run_item(dynamodb, 100)["run_id"]["S"] != first
    assert members_of(100, 1, {"count": "true"}).body == 6
    later(monkeypatch, runs.FRESH_S + runs.SERVED_S + 2)  # no run under a day old: none served
    assert_problem(members_of(100, 1), 503)


@pytest.mark.stores
def test_a_request_delivered_again_or_lost_makes_one_run(
    dynamodb: Any, small: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    import emma_events.search_runs as runs
    from emma_events.stores import searches

    ids = world(100, 5)
    request = asked()
    assert searches().run_outside(request, lambda: 60.0) == 5
    made = run_item(dynamodb, 100)
    newcomer = new_member(100, "new@example.com")  # the data changes before the record comes again
    assert post_events(100, [{"member_id": newcomer, "event_type_id": 1}]).status == 200
    assert searches().run_outside(request, lambda: 60.0) is None  # its request is gone: not run again
    assert run_item(dynamodb, 100) == made
    assert page_ids(100) == ids  # the chunks the run item points at, as the run wrote them
    later(monkeypatch, runs.FRESH_S + 1)
    assert page_ids(100) == ids  # served, and a run asked for
    lost = run_item(dynamodb, 100)["requested"]["S"]
    members_of(100, 1)
    assert run_item(dynamodb, 100)["requested"]["S"] == lost  # on its way: not asked twice
    later(monkeypatch, runs.FRESH_S + runs.UNCLAIMED_S + 2)  # never claimed (a lane far behind): asked again
    members_of(100, 1)
    assert run_item(dynamodb, 100)["requested"]["S"] != lost


@pytest.mark.stores
def test_a_run_waiting_for_the_containers_run_without_time_is_asked_anew(dynamodb: Any, small: None) -> None:
    import emma_events.search_outside as outside
    from emma_events.stores import searches

    world(100, 5)
    request = asked()
    answers: list[Any] = []
    with ThreadPoolExecutor(1) as pool:
        with outside._one_run:  # the container's run before it
            waiting = pool.submit(searches().run_outside, request, lambda: outside.MIN_RUN_S - 1.0)
            time.sleep(0.2)
            assert not waiting.done()  # one run at a time
        answers.append(waiting.result())
    assert answers == [None]
    again = searches().runs.pending(100, 1)
    assert again is not None
    assert again.run_id != request.run_id  # a new request: a new stream record
    assert searches().run_outside(again, lambda: 60.0) == 5


@pytest.mark.stores
def test_a_run_out_of_time_is_recorded_as_too_large_not_retried(
    dynamodb: Any, small: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    import emma_events.search_eval
    from emma_events.stores import searches

    world(100, 5)
    request = asked()
    # no reserve: the client's own refusal (no attempt with under 5.5 s left) is what stops it
    monkeypatch.setattr(emma_events.search_eval.Budget, "RESERVE_S", 0.0)
    assert searches().run_outside(request, lambda: 5.0) is None
    assert_problem(members_of(100, 1), 422)
    assert "requested" not in run_item(dynamodb, 100)


@pytest.mark.stores
def test_a_run_made_after_its_criteria_changed_is_not_theirs(
    dynamodb: Any, small: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    import emma_events.search_store
    from emma_events.stores import searches

    world(100, 5)
    request = asked()
    path = {"account_id": 100, "search_id": 1}
    changed = {"criteria": ["not", ["event:purchase"]]}
    assert invoke("update_search", api_event("update_search", path=path, body=changed)).body is True
    assert searches().run_outside(request, lambda: 60.0) == 5  # the old criteria's run, made
    assert (get_search(100, 1).body["active_count"], get_search(100, 1).body["last_run_at"]) == (0, None)
    monkeypatch.setattr(emma_events.search_store, "RUN_ITEMS", 100)
    assert members_of(100, 1).body == []  # the new criteria, in the request (not the old run's members)


@pytest.mark.stores
def test_a_search_too_large_even_outside_is_a_422_until_an_hour_passes(
    dynamodb: Any, small: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    import emma_events.search_runs as runs

    monkeypatch.setattr(runs, "OUTSIDE_ITEMS", 6)  # the 5 index entries and the 5 members: 10
    cascade = CascadeDriver()
    world(100, 5)
    assert_problem(members_of(100, 1), 503)
    cascade.drain()
    before = get_search(100, 1).body
    assert_problem(members_of(100, 1), 422)
    assert "requested" not in run_item(dynamodb, 100)  # not asked again within the hour
    assert get_search(100, 1).body == before
    later(monkeypatch, runs.FAILED_S + 1)
    monkeypatch.setattr(runs, "OUTSIDE_ITEMS", 1000)
    assert_problem(members_of(100, 1), 503)
    cascade.drain()
    assert members_of(100, 1, {"count": "true"}).body == 5


@pytest.mark.stores
def test_new_criteria_or_a_smaller_answer_run_in_the_request_again(
    dynamodb: Any, small: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    import emma_events.search_store
    from emma_events.stores import searches

    cascade = CascadeDriver()
    world(100, 5)
    assert_problem(members_of(100, 1), 503)
    cascade.drain()
    assert get_search(100, 1).body["active_count"] == 5
    path = {"account_id": 100, "search_id": 1}
    changed = {"criteria": ["event:purchase", "in last", {"day": 7}]}
    assert invoke("update_search", api_event("update_search", path=path, body=changed)).body is True
    assert searches().get_search(100, 1).runs_outside is False  # new criteria: in the request first
    assert_problem(members_of(100, 1), 503)  # still large: found so in the request, outside again
    monkeypatch.setattr(emma_events.search_store, "RUN_ITEMS", 100)  # now a run reads under half of it
    cascade.drain()
    assert members_of(100, 1, {"count": "true"}).body == 5  # from the run, which put it back in the request
    newcomer = new_member(100, "new@example.com")
    assert post_events(100, [{"member_id": newcomer, "event_type_id": 1}]).status == 200
    assert members_of(100, 1, {"count": "true"}).body == 6  # evaluated in the request: at once


@pytest.mark.stores
def test_an_accounts_runs_take_turns_and_leave_others_alone(dynamodb: Any, small: None) -> None:
    import emma_events.search_runs as runs
    from emma_events.stores import searches

    cascade = CascadeDriver()
    world(100, 5)
    for _ in range(runs.ACCOUNT_RUNS):  # searches 2, 3: the account's slots
        search(100, ["event:purchase"])
    world(200, 3)
    for search_id in range(1, runs.ACCOUNT_RUNS + 2):
        assert_problem(members_of(100, search_id), 503)
    asked_for = [searches().runs.pending(100, s) is not None for s in range(1, runs.ACCOUNT_RUNS + 2)]
    assert asked_for == [True] * runs.ACCOUNT_RUNS + [False]  # the last waits for a slot
    assert_problem(members_of(200, 1), 503)
    assert searches().runs.pending(200, 1) is not None  # another account's slots are its own
    cascade.drain()
    assert page_ids(200) == sorted(page_ids(200))
    last = runs.ACCOUNT_RUNS + 1
    assert_problem(members_of(100, last), 503)  # the runs made gave their slots back: asked now
    cascade.drain()
    assert members_of(100, last, {"count": "true"}).body == 5


@pytest.mark.stores
def test_a_run_that_crashes_is_tried_again_then_recorded_and_its_slot_freed(
    dynamodb: Any, small: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    import emma_events.search_outside
    import emma_events.search_runs as runs
    from emma_events.stores import searches

    world(100, 5)
    request = asked()

    class Crash(Exception):
        pass

    def crash(*_: Any) -> None:
        raise Crash  # the container dies mid-run: the mapping delivers the record again

    monkeypatch.setattr(emma_events.search_outside, "Evaluation", crash)
    for _ in range(runs.RUN_ATTEMPTS):
        with pytest.raises(Crash):
            searches().run_outside(request, lambda: 60.0)
    assert searches().run_outside(request, lambda: 60.0) is None  # begun twice: recorded, not run a third time
    assert_problem(members_of(100, 1), 422)
    slot = {"PK": {"S": "100#SRS"}, "SK": {"S": f"SLOT#{request.slot}"}}
    assert "Item" not in dynamodb.get_item(TableName=_table(), Key=slot)  # given back


@pytest.mark.stores
def test_a_run_that_waited_and_ran_out_of_time_is_asked_anew_not_failed(dynamodb: Any, small: None) -> None:
    import emma_events.search_outside as outside
    from emma_events.stores import searches

    world(100, 5)
    request = asked()
    left = iter([outside.MIN_RUN_S + 1.0, 5.0])  # enough to begin, then the run before it took the rest
    with ThreadPoolExecutor(1) as pool:
        with outside._one_run:
            waiting = pool.submit(searches().run_outside, request, lambda: next(left))
            time.sleep(0.2)
        assert waiting.result() is None
    again = searches().runs.pending(100, 1)
    assert again is not None
    assert again.run_id != request.run_id
    assert "failed_criteria" not in run_item(dynamodb, 100)

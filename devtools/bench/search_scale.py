"""Part of ``make bench``'s sixth phase: saved searches at a big account's size, on DynamoDB Local.

Two accounts of ``MEMBERS`` members are seeded with the same last 30 days of one type (each member did it on a
day of the window with the modelled account's odds), and one of them with three years of it before (ten times the
events): a search's reads must be the same for both, and grow with the members it finds (its answer), not with the
history. Each search is metered: Queries, items read by key (the members found, their count items), index entries
read by the Queries (one per member and day of the window: keys only, ~70 bytes each) and read units.

The modelled account (1M members, 10M events over three years: each member does the type on 9% of 30-day windows'
days... about 24% of members in any 30 days) costs the seeded figures per member found, times its members found.

Fails when a 30-day event term passes ``(members found x 2) items by key + one Query per day`` (a day's index key
read whole: one Query per 1 MB, ~15,000 members).
"""

from __future__ import annotations

import random
import time
from datetime import UTC, date, datetime, timedelta
from typing import Any

from emma_events import counts, keys

MEMBERS = 2_000
#: The modelled account: 1M members, 10M events over three years, one type.
MODELLED_MEMBERS = 1_000_000
MODELLED_EVENTS = 10_000_000
HISTORY_DAYS = 3 * 365
WINDOW = 30
#: A member's chance of doing the type on a given day, in the model: 10 events in 3 years.
DAILY = MODELLED_EVENTS / MODELLED_MEMBERS / HISTORY_DAYS
TODAY = date(2026, 6, 30)


def _count_items(account: int, type_id: int, member: int, days: list[date]) -> list[dict[str, Any]]:
    """A member's count items for an event of the type at noon of each of ``days``, as the POST's transactions leave
    them: ``counts.increments``' attributes, and the index key ``counts.update`` sets."""
    from emma_events.domain import MemberEvent

    noon = [datetime(day.year, day.month, day.day, 12, tzinfo=UTC) for day in days]
    events = [MemberEvent(account, n + 1, member, type_id, at, at, None, None, None) for n, at in enumerate(noon)]
    items = []
    for (pk, sk), added in counts.increments(events).items():
        item = {keys.PK: {"S": pk}, keys.SK: {"S": sk}} | {name: {"N": str(n)} for name, n in added.items()}
        indexed = keys.members_by_type_keys(pk, sk)
        if indexed:
            item[keys.MEMBERS_BY_TYPE_PK], item[keys.MEMBERS_BY_TYPE_SK] = {"S": indexed[0]}, {"S": indexed[1]}
        items.append(item)
    return items


def seed_account(stores: Any, account: int, size: int, *, history: bool) -> tuple[int, set[int]]:
    """The account's ``size`` members, type and count items; its type's id and the members active in the window."""
    from devtools.testing.seeding import seed_members

    members = seed_members(stores, size, account_id=account, first_id=1)
    type_id = stores.event_types.create_event_type(account, "purchase", "Purchase").event_type_id
    dice = random.Random(7)  # noqa: S311  (the same window in both accounts)
    older = random.Random(11)  # noqa: S311
    active, items = set(), []
    for member in members:
        days = [TODAY - timedelta(days=n) for n in range(WINDOW) if dice.random() < DAILY]
        if days:
            active.add(member)
        if history:
            days += [TODAY - timedelta(days=n) for n in range(WINDOW, HISTORY_DAYS) if older.random() < DAILY]
        if days:
            items += _count_items(account, type_id, member, days)
    for start in range(0, len(items), 25):
        pending = {stores.table_name: [{"PutRequest": {"Item": i}} for i in items[start : start + 25]]}
        while pending:
            pending = stores.client.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
    return type_id, active


SEARCHES: dict[str, list[Any]] = {
    "search: did it in the last 7 days": ["event:purchase", "in last", {"day": 7}],
    "search: did it in the last 30 days": ["event:purchase", "in last", {"day": WINDOW}],
    "search: twice or more in the last 30 days": ["event_count:purchase", "gt", 1, {"in last": {"day": WINDOW}}],
    "search: in the last 30 days, and a field": [
        "and",
        ["event:purchase", "in last", {"day": WINDOW}],
        ["member_field:n", "eq", 7],
    ],
    "search: not in the last 30 days (every member read)": ["not", ["event:purchase", "in last", {"day": WINDOW}]],
}


def searches_at_scale(stores: Any, figures_of: Any, size: int = MEMBERS) -> tuple[list[dict[str, Any]], list[str]]:
    """The rows of each search in accounts of ``size`` members at both histories, and modelled, and what failed
    (``figures_of(action)``)."""
    from emma_events import criteria
    from emma_events.api import ANSWER_MARGIN_S
    from emma_events.search_eval import Budget, Evaluation
    from emma_events.search_runs import OUTSIDE_ITEMS
    from emma_events.search_store import RUN_ITEMS

    request_run_s = API_TIMEOUT_S - ANSWER_MARGIN_S - Budget.RESERVE_S  # what a run in the request has of its time

    rows, failed = [], []
    accounts = {"30 days": 401, "3 years": 402}
    active = {}
    for name, account in accounts.items():
        _, active[name] = seed_account(stores, account, size, history=name == "3 years")
    store = stores.searches
    for operation, sent in SEARCHES.items():
        wanted = criteria.read(sent)
        row: dict[str, Any] = {"operation": operation, "sizes": {}}
        for name, account in accounts.items():
            found: list[Any] = []

            cpu: list[float] = []

            def run(account: int = account, found: list[Any] = found, tree: Any = wanted.tree, cpu: Any = cpu) -> None:
                started = time.process_time()  # this process's: the client's parsing and the evaluation
                found += Evaluation(store, account, TODAY, {"purchase"}, Budget(RUN_ITEMS)).members(tree)
                cpu.append(time.process_time() - started)

            figures = figures_of(run)
            figures["members_found"] = len(found)
            figures["cpu_ms"] = round(cpu[0] * 1000, 1)
            row["sizes"][name] = figures
        seeded, recent = row["sizes"]["3 years"], row["sizes"]["30 days"]
        if any(seeded[k] != recent[k] for k in ("round_trips", "items_fetched", "items_read")):
            failed.append(f"{operation}: its reads grow with the history")
        ratio = MODELLED_MEMBERS / size
        items = round((seeded["items_read"] + seeded["items_fetched"]) * ratio)
        row["sizes"]["modelled"] = {
            "members_found": round(seeded["members_found"] * ratio),
            "items_fetched": round(seeded["items_fetched"] * ratio),
            "index_entries_read": round(seeded["items_read"] * ratio),
            "read_units": round(seeded["read_units"] * ratio),
            # every call and item as dear as the seeded run's on average: an upper bound
            "cpu_s": round(seeded["cpu_ms"] * ratio / 1000, 1),
            "answer": f"{items:,} items: "
            + (
                f"in the request if its CPU fits the ~{request_run_s:.1f} s the request leaves the run, else outside"
                if items <= RUN_ITEMS
                else "run outside the request, then paged"
                if items <= OUTSIDE_ITEMS
                else f"422 (past a run's {OUTSIDE_ITEMS:,})"
            ),
            "queries": seeded["calls"].get("Query", 0) if sent[0] != "not" else "30 + the Members index read whole",
            "modelled": True,
        }
        if operation == "search: did it in the last 30 days":
            # the members found, twice, and the type's name guard; a Query per day
            budget = {"items_fetched": 2 * seeded["members_found"] + 1, "queries": WINDOW}
            row["budget"] = budget
            if seeded["items_fetched"] > budget["items_fetched"] or seeded["calls"].get("Query", 0) > WINDOW:
                failed.append(f"{operation} over its budget")
        rows.append(row)
    outside, missed = large_search(stores, figures_of, accounts["3 years"])
    return [*rows, outside], failed + missed


#: The API functions' Timeout (template.yaml's Globals).
API_TIMEOUT_S = 15
#: The consumer's memory (template.yaml) and what a run outside the request may fill of it.
CONSUMER_MB, MEMORY_SHARE = 1769, 0.75
#: Fewer items than this between the two runs measure the memory per item too coarsely to fail on (at small sizes
#: each of the 30 Queries' own memory weighs on few entries): the check is the default size's.
MEASURED_ITEMS = 500
#: A page of a large search: the run item, its chunks (at most two: one BatchGetItem), then the page's members
#: (a BatchGetItem per 100).
PAGE_TRIPS = 2


def large_search(stores: Any, figures_of: Any, account: int) -> tuple[dict[str, Any], list[str]]:
    """The 30-day term as a large search (search_runs.py): its run outside the request, metered; the memory its
    evaluation holds per item read (tracemalloc; the slope from the 7-day term's) and its transient peak; then a
    page from the middle of the run's answer. Fails when a page takes more than ``PAGE_TRIPS`` round trips and one
    per 100 members, or when a run of ``OUTSIDE_ITEMS`` items would fill more than ``MEMORY_SHARE`` of the
    consumer's memory at the bytes measured."""
    import tracemalloc
    from unittest import mock

    from emma_events import criteria, search_outside, search_runs
    from emma_events.search_eval import Budget, Evaluation

    store, wanted = stores.searches, criteria.read(SEARCHES["search: did it in the last 30 days"])
    search_id = store.create_search(account, "large", wanted)
    found: list[int | None] = []

    def run() -> None:
        store.runs.ask(account, search_id, wanted.text)
        request = store.runs.pending(account, search_id)
        assert request is not None
        found.append(store.run_outside(request, lambda: 600.0))

    noon = datetime(TODAY.year, TODAY.month, TODAY.day, 12, tzinfo=UTC)
    with mock.patch.object(search_outside, "utc_now", return_value=noon):  # the seeded world's today
        made = figures_of(run)

    def holding(tree: Any) -> tuple[list[Any], int, int, int]:
        """An evaluation's answer, the items it read, and the memory it holds and peaked at (tracemalloc)."""
        budget = Budget(search_runs.OUTSIDE_ITEMS)
        tracemalloc.start()
        answer = Evaluation(store, account, TODAY, {"purchase"}, budget).members(tree)
        kept, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return answer, budget.spent, kept, peak

    # per item: the slope between a smaller run (the 7-day term) and this one, so what any run holds cancels out
    _, few, kept_few, _ = holding(criteria.read(SEARCHES["search: did it in the last 7 days"]).tree)
    held, items_read, kept, peak = holding(wanted.tree)
    per_item, transient = (kept - kept_few) / max(1, items_read - few), peak - kept
    middle = slice(len(held) // 2, len(held) // 2 + 500)
    page = figures_of(lambda: store.run_search(account, search_id, wanted, middle, outside=True))
    most = round((per_item * search_runs.OUTSIDE_ITEMS + transient) / 2**20)
    row = {
        "operation": "large search: the 30-day term run outside, then a page from the middle",
        "run": made | {"members_found": found[0], "bytes_per_item": round(per_item), "transient_mb": transient / 2**20},
        "page": page,
        "outside_items_mb": most,
    }
    failed = []
    trips = PAGE_TRIPS + -(-len(held[middle]) // 100)
    if page["round_trips"] > trips:
        failed.append(f"a large search's page takes {page['round_trips']} round trips (budget {trips})")
    if most > CONSUMER_MB * MEMORY_SHARE and items_read - few >= MEASURED_ITEMS:
        failed.append(f"a run outside the request may fill {most} MB of the consumer's {CONSUMER_MB}")
    return row, failed

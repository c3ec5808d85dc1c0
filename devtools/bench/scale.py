"""Phase 6 of ``make bench``: a member's timeline at 10, 100,000 and 10,000,000 events.

Members of 10 and of 100,000 events are seeded on DynamoDB Local (straight into the table, in the API's own item
layout and counts), each with 10 events of a rare type after the rest, and every read of their timeline is run
through the store: pages (unfiltered, filtered by the common and by the rare type, newest first, a cursor page, a
page at ``start=500``) and counts (all, of a type, over a range that ends in the middle of two hours). Each is
metered: round trips, read units (the larger of what DynamoDB Local reports and the model of capacity.py, which
counts only what a call returns) and items read (``ScannedCount``, filtered-out items included).

The 10,000,000-event member is modelled from the same calls: which calls a read makes depends on the range's
shape, never on how many events there are (member_timeline.py), and what they read depends on the page's size
and on the density of events in the range's part-hours, the same for both big members: the 100,000 are seeded at
the density of 10,000,000 over three years (380 an hour). So its figures are the 100,000-event member's.

Fails when a page passes ``PAGE_BUDGET`` or a count ``COUNT_BUDGET``.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

#: (round trips, read units) of any page, and of any count.
PAGE_BUDGET = (3, 50.0)
COUNT_BUDGET = (4, 100.0)
#: An account's members: a page of 500 is one wave of 16 Queries side by side (one per shard of the index), and one
#: or two Queries more where shards fall short (members deleted unevenly); a count one BatchGetItem of the 64 count
#: items (strongly consistent: a unit each).
MEMBERS_PAGE_BUDGET = (18, 50.0)
MEMBERS_COUNT_BUDGET = (1, 64.0)
#: Accounts of 10 and ``big_account(big)`` members are seeded; one of ``MODELLED_ACCOUNT`` is modelled from the
#: same calls.
MODELLED_ACCOUNT = 1_000_000


def big_account(big: int) -> int:
    """The seeded big account: a twentieth of the big member's events, and at least two pages and a half."""
    return max(1_250, big // 20)


MODELLED = 10_000_000
#: Ten million events over three years: one every 9.47 s.
SPACING = timedelta(days=3 * 365) / MODELLED
FIRST = datetime(2026, 1, 1, tzinfo=UTC)
TABLE = "scale-bench"


def _seed(stores: Any, member: int, common: int, rare: int, size: int) -> datetime:
    """``size`` events of ``common`` from FIRST at SPACING, then 10 of ``rare``; the counts as the API keeps them.
    Returns the time of the last common event."""
    from emma_events import counts, layout
    from emma_events.domain import MemberEvent

    def event(n: int, type_id: int, at: datetime) -> MemberEvent:
        return MemberEvent(100, member * 10_000_000 + n, member, type_id, at, at, 1.5, None, {"sku": "ABC-1"})

    events = [event(n, common, FIRST + n * SPACING) for n in range(size)]
    last = events[-1].event_timestamp
    events += [event(size + n, rare, last + timedelta(minutes=n + 1)) for n in range(10)]
    for start in range(0, len(events), 25):
        batch = [{"PutRequest": {"Item": layout.event_item(e)}} for e in events[start : start + 25]]
        pending = {TABLE: batch}
        while pending:
            pending = stores.client.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
    for key, added in counts.increments(events).items():
        stores.client.update_item(**counts.update(TABLE, key, added))
    return last


def scale_benchmark(big: int = 100_000) -> dict[str, Any]:
    """Every read of a member's timeline at 10 and ``big`` events, metered; ``MODELLED`` from them."""
    import logging

    from devtools.bench.capacity import CapacityMeter
    from devtools.bench.search_scale import searches_at_scale
    from devtools.bench.stats_scale import type_stats_at_scale
    from devtools.local_stack.store import EmbeddedDynamoDB
    from devtools.local_stack.template import create_table_kwargs
    from emma_events.domain import EventFilter
    from emma_events.stores import Stores

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    embedded = EmbeddedDynamoDB(port=0, store="dynamodb-local")
    embedded.start()
    try:
        client = embedded.client()
        client.create_table(**create_table_kwargs(TABLE))
        stores = Stores(TABLE, client)
        common = stores.event_types.create_event_type(100, "common", "Common").event_type_id
        rare = stores.event_types.create_event_type(100, "rare", "Rare").event_type_id
        members = {}
        started = time.monotonic()
        for size, email in ((10, "small@example.com"), (big, "big@example.com")):
            member = stores.members.add_member(100, email, {})[0].member_id
            members[size] = (member, _seed(stores, member, common, rare, size))
        seeded = time.monotonic() - started
        meter = CapacityMeter(client)
        timeline = stores.member_events

        def reads(size: int) -> list[tuple[str, str, Any]]:
            member, last = members[size]

            def page(filters: EventFilter, offset: int = 0, after: str | None = None) -> Any:
                return lambda: timeline.member_events_page(100, member, filters, offset=offset, limit=500, after=after)

            def count(filters: EventFilter) -> Any:
                return lambda: timeline.count_member_events(100, member, filters)

            first = timeline.member_events_page(100, member, EventFilter(), offset=0, limit=500, after=None)
            middle = FIRST + (last - FIRST) / 2
            since = middle.replace(minute=17, second=3)
            until = last.replace(minute=41, second=9) - timedelta(hours=1)
            return [
                ("page", "first page (500)", page(EventFilter())),
                ("page", "first page, newest first", page(EventFilter(descending=True))),
                ("page", "cursor page (after 500)", page(EventFilter(), after=first.next_after)),
                ("page", "page at start=500", page(EventFilter(), offset=500)),
                ("page", "first page of the common type", page(EventFilter(common))),
                ("page", "first page of the rare type", page(EventFilter(rare))),
                ("count", "count", count(EventFilter())),
                ("count", "count of the rare type", count(EventFilter(rare))),
                ("count", "count, since/until inside two hours", count(EventFilter(None, since, until))),
                ("count", "count of a type, since/until inside two hours", count(EventFilter(common, since, until))),
            ]

        rows: dict[str, dict[str, Any]] = {}
        account_rows = accounts_at_scale(stores, meter, big_account(big))
        stats_rows, stats_failed = type_stats_at_scale(stores, lambda action: _figures(meter, action))
        searched = max(100, big // 50)  # members of each seeded account: 2,000 at the bench's size
        search_rows, search_failed = searches_at_scale(stores, lambda action: _figures(meter, action), searched)
        for size in members:
            for kind, name, action in reads(size):
                _metered(meter, rows, kind, name, size, action)
    finally:
        embedded.stop()
    failed = [*stats_failed, *search_failed]
    for row in rows.values():
        row["sizes"][str(MODELLED)] = dict(row["sizes"][str(big)], modelled=True)
        budget = PAGE_BUDGET if row["kind"] == "page" else COUNT_BUDGET
        row["budget"] = {"round_trips": budget[0], "read_units": budget[1]}
        for figures in row["sizes"].values():
            if figures["round_trips"] > budget[0] or figures["read_units"] > budget[1]:
                failed.append(f"{row['operation']} over its budget")
                break
    for row in account_rows:
        row["sizes"][str(MODELLED_ACCOUNT)] = dict(row["sizes"][str(big_account(big))], modelled=True)
        budget = MEMBERS_PAGE_BUDGET if row["kind"] == "page" else MEMBERS_COUNT_BUDGET
        row["budget"] = {"round_trips": budget[0], "read_units": budget[1]}
        if any(f["round_trips"] > budget[0] or f["read_units"] > budget[1] for f in row["sizes"].values()):
            failed.append(f"{row['operation']} over its budget")
    return {
        "sizes": [10, big, MODELLED],
        "accounts": {"sizes": [10, big_account(big), MODELLED_ACCOUNT], "operations": account_rows},
        "density_per_hour": round(timedelta(hours=1) / SPACING),
        "seed_seconds": round(seeded, 1),
        "operations": list(rows.values()),
        "type_stats": stats_rows,
        "searches": search_rows,
        "failed": sorted(set(failed)),
    }


def accounts_at_scale(stores: Any, meter: Any, big: int) -> list[dict[str, Any]]:
    """An account's members listed and counted at 10 and ``big`` members, metered (the listing's calls
    depend on the page's size and on how evenly the shards hold the page's members, never on the account's size:
    member_listing.py); and a page whose members are all in one shard (the others' deleted), the dearest shape."""
    from devtools.testing.seeding import seed_members
    from emma_events import keys

    # all in one shard, as if the others' members were deleted
    one_shard = [member_id for member_id in range(1, 20_000) if keys.member_shard(member_id) == 0][:520]
    seed_members(stores, ids=one_shard, account_id=300)
    rows: dict[str, dict[str, Any]] = {}
    for size, account in ((10, 201), (big, 202)):
        seed_members(stores, size, account_id=account, first_id=1)
        for kind, name, action in _account_reads(stores.members, account):
            _metered(meter, rows, kind, name, size, action)
    return list(rows.values())


def _metered(meter: Any, rows: dict[str, dict[str, Any]], kind: str, name: str, size: int, action: Any) -> None:
    """Run ``action`` metered, as the row ``name``'s figures at ``size``."""
    row = rows.setdefault(name, {"operation": name, "kind": kind, "sizes": {}})
    row["sizes"][str(size)] = _figures(meter, action)


def _figures(meter: Any, action: Any) -> dict[str, Any]:
    """``action``'s calls, read units and items read."""
    meter.reset()
    action()
    return {
        "round_trips": sum(meter.calls.values()),
        "calls": dict(sorted(meter.calls.items())),
        "read_units": round(max(meter.reads, meter.reported), 1),
        "items_read": meter.items_read,
        "items_fetched": meter.items_fetched,
    }


def _account_reads(listing: Any, account: int) -> list[tuple[str, str, Any]]:
    after = listing.list_members(account, limit=500)[1]
    return [
        ("page", "members: first page (500)", lambda: listing.list_members(account, limit=500)),
        ("page", "members: cursor page (after 500)", lambda: listing.list_members(account, limit=500, after=after)),
        ("page", "members: page at start=500", lambda: listing.list_members(account, offset=500, limit=500)),
        ("page", "members: page of one shard (15 empty)", lambda: listing.list_members(300, limit=500)),
        ("count", "members: count", lambda: listing.count_members(account)),
    ]


def _table(title: str, sizes: list[int], operations: list[dict[str, Any]]) -> None:
    print(title)
    width = max(len(r["operation"]) for r in operations)
    head = "  ".join(f"{f'{s:,}':>20}" for s in sizes)
    print(f"{'operation':<{width}}  budget     {head}   (round trips / read units / items read)")
    for row in operations:
        budget = f"{row['budget']['round_trips']}/{row['budget']['read_units']:.0f}"
        cells = "  ".join(
            f"{f['round_trips']:>4} / {f['read_units']:>5.1f} / {f['items_read']:>5}"
            for f in (row["sizes"][str(s)] for s in sizes)
        )
        print(f"{row['operation']:<{width}}  {budget:<9}  {cells}")


def report(scale: dict[str, Any]) -> None:
    sizes = scale["sizes"]
    _table(
        f"\n6. A member's timeline at {', '.join(f'{s:,}' for s in sizes)} events (DynamoDB Local; the last "
        f"modelled from the same calls at {scale['density_per_hour']} events an hour; seeded in "
        f"{scale['seed_seconds']} s)",
        sizes,
        scale["operations"],
    )
    accounts = scale["accounts"]
    _table(
        f"\n6b. An account's members at {', '.join(f'{s:,}' for s in accounts['sizes'])} members (the last modelled "
        "from the same calls; a page's Queries go side by side, one wave)",
        accounts["sizes"],
        accounts["operations"],
    )
    print(
        "\n6c. A type's stats: a year of a busy type's stats items (every quarter-hour holding events; the cost "
        "depends on the buckets and the items' size, not on the events)"
    )
    width = max(len(row["operation"]) for row in scale["type_stats"])
    for row in scale["type_stats"]:
        budget = f"budget {row['budget']}" if row["budget"] else ""
        print(
            f"  {row['operation']:<{width}}  {row['round_trips']} calls ({', '.join(row['calls'])}), "
            f"{row['read_units']:.1f} read units, {row['items_read']} items  {budget}"
        )
    print(
        "\n6d. Searches: accounts seeded with 30 days of a type, one with 3 years before (the same reads, or FAILED); "
        "1M members modelled (round trips / items by key / index entries / read units / found / CPU)"
    )
    evaluated = [row for row in scale["searches"] if "sizes" in row]
    width = max(len(row["operation"]) for row in evaluated)
    for row in evaluated:
        seeded, modelled = row["sizes"]["3 years"], row["sizes"]["modelled"]
        budget = f"  budget {row['budget']}" if row.get("budget") else ""
        print(
            f"  {row['operation']:<{width}}  {seeded['round_trips']} / {seeded['items_fetched']} / "
            f"{seeded['items_read']} / {seeded['read_units']:.0f} / {seeded['members_found']} / "
            f"{seeded['cpu_ms']} ms; at 1M: {modelled['answer']} (~{modelled['cpu_s']} s of CPU){budget}"
        )
    for row in scale["searches"]:
        if "run" in row:
            run, page = row["run"], row["page"]
            print(
                f"  {row['operation']}: the run {run['round_trips']} calls ({', '.join(run['calls'])}), "
                f"{run['members_found']} found, {run['bytes_per_item']} bytes held per item read, "
                f"{run['transient_mb']:.0f} MB at its peak more ({row['outside_items_mb']} MB for a run's most); "
                f"the page {page['round_trips']} calls "
                f"({', '.join(page['calls'])}), {page['read_units']:.1f} read units, whatever the answer's size"
            )
    for failure in scale["failed"]:
        print(f"  FAILED: {failure}")

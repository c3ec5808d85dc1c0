"""A large search's runs outside the request (docs/api.md, "Searches"; docs/data-model.md, "Large searches").

A search whose run reads more than a request may (``search_store.RUN_ITEMS`` items, or its time) is marked
``runs_outside``; its reads page from its last run, made by the table's stream consumer (functions/cascade_delete),
one at a time per container, within its 15 minutes:

- the run item (``<acct>#SR#<search>``, ``RUN``): the last run (``run_id``, its ``criteria`` text, ``at_epoch``
  when it began, its counts, its chunks' token and number); while a run is asked for, the request (``requested``,
  ``requested_at``, ``requested_criteria``, and ``asked`` until claimed: what the stream's filter lets through);
  a run that failed (``failed_criteria``, ``failed_at``);
- the run's member ids, sorted, ``CHUNK_IDS`` to an item (8 bytes each: one read unit, so a page of 500 reads at
  most two), each chunk a partition of its own, keyed by a token of the attempt that wrote it.

The consumer claims a request on condition it is still the request (a record delivered again, or asked again
since, is skipped), evaluates, writes the chunks under a fresh token, then points the run item at them on
condition the request is still its own. Every item expires (the table's TTL) two days after it is written.
"""

from __future__ import annotations

import secrets
import struct
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from emma_events import criteria as criteria_rules
from emma_events import keys
from emma_events.dates import utc_now
from emma_events.deadline import DeadlineReached, side_by_side, within
from emma_events.dynamo import Item, Table, attr_n, attr_s
from emma_events.errors import SearchRunning, SearchTooLarge, ValidationFailed
from emma_events.search_eval import Budget, Evaluation

if TYPE_CHECKING:
    from emma_events.search_store import SearchStore

#: Member ids per chunk item: 4,000 bytes and the keys, under 4 KB (one read unit); a page of 500 spans two.
CHUNK_IDS = 500
#: A run served older than this asks for a new one (each run of a large search writes its chunks again).
FRESH_S = 300
#: A run older than this is not served: the read answers ``SearchRunning`` until the new one is made.
SERVED_S = 86_400
#: A request claimed longer ago than the consumer's timeout (900 s): its run was lost, and a read asks again.
LOST_S = 960
#: A run waits for the container's run before it (one at a time: each may hold ~1 GB); with less time left than
#: this, it asks again instead (a new request, delivered anew).
MIN_RUN_S = 120
#: A run too large even outside a request answers 422 this long before one is tried again.
FAILED_S = 3_600
#: The table's TTL deletes a run's items this long after they are written (``expires_at``, epoch seconds).
EXPIRES_S = 2 * 86_400
#: What a run outside a request may read (items as ``search_eval.Budget`` counts them): ~1 GB of the consumer's
#: 1,769 MB at the ~725 bytes an evaluation holds per item read (``make bench``, 6d; docs/performance.md).
OUTSIDE_ITEMS = 1_500_000
#: Emma's member statuses, and the count of a search's run each one adds to.
STATUS_COUNTS = {"a": "active_count", "o": "optout_count", "e": "error_count"}


def status_counts(members: Sequence[Item]) -> dict[str, int]:
    """The counts by status of the members a run found (Emma's ``active_count``, ``optout_count``...)."""
    seen = Counter(item.get("status", {}).get("S") for item in members)
    return {name: seen[status] for status, name in STATUS_COUNTS.items()}


@dataclass(frozen=True)
class RunRequest:
    """A run asked for: of the search's criteria text when it was asked."""

    account_id: int
    search_id: int
    run_id: str
    criteria: str


def requested(new_image: Item | None) -> RunRequest | None:
    """The run a stream record of a run item asks for, or None (every other record)."""
    if not new_image or new_image.get("entity", {}).get("S") != "search_run" or "asked" not in new_image:
        return None
    return RunRequest(
        int(new_image["account_id"]["N"]),
        int(new_image["search_id"]["N"]),
        new_image["requested"]["S"],
        new_image["requested_criteria"]["S"],
    )


def _key(account_id: int, search_id: int) -> Item:
    return {keys.PK: attr_s(keys.search_run_pk(account_id, search_id)), keys.SK: attr_s(keys.SEARCH_RUN_SK)}


def _chunk_key(account_id: int, search_id: int, written: str, chunk: int) -> Item:
    pk = keys.search_chunk_pk(account_id, search_id, written, chunk)
    return {keys.PK: attr_s(pk), keys.SK: attr_s(keys.SEARCH_CHUNK_SK)}


def clock() -> float:
    """Now, in epoch seconds (what the run item's times are)."""
    return time.time()


#: One run at a time in a container (``run``).
_one_run = threading.Lock()


class SearchRuns(Table):
    """The runs of an account's large searches: read a page of the last one, ask for one, record one."""

    def page(self, account_id: int, search_id: int, criteria: str, page: slice) -> tuple[int, list[int]]:
        """How many members the last run of ``criteria`` found, and the ids of ``page``: 1 x GetItem + 1 x
        BatchGetItem of at most two chunks (+ 1 x UpdateItem asking for a run once the last is ``FRESH_S`` old).
        ``SearchRunning`` while there is none under a day old; ``SearchTooLarge`` for an hour after one failed."""
        item = self._item(_key(account_id, search_id)) or {}
        now = clock()
        ours = "run_id" in item and item["criteria"]["S"] == criteria
        age = now - float(item["at_epoch"]["N"]) if ours else None
        failed = item.get("failed_criteria", {}).get("S") == criteria and now - float(item["failed_at"]["N"]) < FAILED_S
        if failed and (age is None or age > SERVED_S):
            raise SearchTooLarge(
                f"The search reads more than a run may even outside a request ({OUTSIDE_ITEMS:,} items, or 14 "
                "minutes): narrow it (an event term's window, an `and` with an event term) (docs/api.md, "
                '"Searches").'
            )
        if not failed and (age is None or age > FRESH_S):
            self.ask(account_id, search_id, criteria)
        if age is None or age > SERVED_S:
            raise SearchRunning(
                "The search is large and runs outside the request; its members are ready in a minute or so "
                '(docs/api.md, "Searches").'
            )
        found = int(item["member_count"]["N"])
        written = item["written"]["S"]
        return found, self._page_ids(account_id, search_id, written, slice(page.start, min(page.stop, found)))

    def pending(self, account_id: int, search_id: int) -> RunRequest | None:
        """The run asked for and not made yet, if any (1 x GetItem)."""
        return requested(self._item(_key(account_id, search_id)))

    def _page_ids(self, account_id: int, search_id: int, written: str, page: slice) -> list[int]:
        if page.start >= page.stop:
            return []
        first, last = page.start // CHUNK_IDS, (page.stop - 1) // CHUNK_IDS
        wanted = [_chunk_key(account_id, search_id, written, n) for n in range(first, last + 1)]
        read = self._batch_get(wanted)
        ids: list[int] = []
        for key in wanted:
            chunk = read.get((key[keys.PK]["S"], key[keys.SK]["S"]))
            if chunk is None:  # expired: never under a day old, but not served wrong either
                raise SearchRunning("The search's last run is gone; a new one is on its way.")
            ids += _unpacked(chunk["ids"]["B"])
        skipped = first * CHUNK_IDS
        return ids[page.start - skipped : page.stop - skipped]

    def ask(self, account_id: int, search_id: int, criteria: str, again: RunRequest | None = None) -> bool:
        """Ask for a run (1 x UpdateItem), unless one is on its way: the stream delivers the request to the
        consumer. A request claimed longer ago than ``LOST_S`` is asked again; ``again``: this request is replaced
        (its consumer had no time for it)."""
        now = clock()
        values = {
            ":entity": attr_s("search_run"),
            ":account": attr_n(account_id),
            ":search": attr_n(search_id),
            ":run": attr_s(secrets.token_hex(6)),
            ":now": attr_n(round(now, 3)),
            ":criteria": attr_s(criteria),
            ":expires": attr_n(int(now) + EXPIRES_S),
        }
        if again is None:
            condition = "attribute_not_exists(requested) OR requested_at < :lost"
            values[":lost"] = attr_n(round(now - LOST_S, 3))
        else:
            condition, values[":old"] = "requested = :old", attr_s(again.run_id)
        return self._conditionally(
            self.client.update_item,
            Key=_key(account_id, search_id),
            UpdateExpression="SET entity = :entity, account_id = :account, search_id = :search, requested = :run, "
            "requested_at = :now, asked = :now, requested_criteria = :criteria, expires_at = :expires",
            ConditionExpression=condition,
            ExpressionAttributeValues=values,
        )

    def claim(self, request: RunRequest) -> bool:
        """The consumer begins ``request`` (1 x UpdateItem of ``requested_at``, from which ``LOST_S`` counts), on
        condition it is still the search's request: False for a record delivered again, or asked again since."""
        return self._conditionally(
            self.client.update_item,
            Key=_key(request.account_id, request.search_id),
            UpdateExpression="SET requested_at = :now REMOVE asked",  # no ``asked``: the stream's filter drops it
            ConditionExpression="requested = :run",
            ExpressionAttributeValues={":run": attr_s(request.run_id), ":now": attr_n(round(clock(), 3))},
        )

    def write_chunks(self, request: RunRequest, ids: list[int]) -> tuple[str, int]:
        """The run's ids, sorted, in chunks under a token of this attempt: 1 x BatchWriteItem per 25 chunks, side by
        side. The token and how many chunks."""
        written, expires = secrets.token_hex(4), attr_n(int(clock()) + EXPIRES_S)
        puts = [
            {
                "PutRequest": {
                    "Item": _chunk_key(request.account_id, request.search_id, written, n)
                    | {"ids": {"B": _packed(ids[start : start + CHUNK_IDS])}, "expires_at": expires}
                }
            }
            for n, start in enumerate(range(0, len(ids), CHUNK_IDS))
        ]
        side_by_side(self._batch_write, [puts[start : start + 25] for start in range(0, len(puts), 25)])
        return written, len(puts)

    def record(
        self, request: RunRequest, began: float, found: int, tally: dict[str, int], chunks: tuple[str, int]
    ) -> bool:
        """The run item points at this run's chunks (1 x UpdateItem), on condition that the request is still this
        run's: False when it is not (asked again since)."""
        figures = {"member_count": found, "chunks": chunks[1], **tally}
        return self._conditionally(
            self.client.update_item,
            Key=_key(request.account_id, request.search_id),
            UpdateExpression="SET run_id = :run, criteria = :criteria, at_epoch = :began, written = :written, "
            "expires_at = :expires, "
            + ", ".join(f"{name} = :{name}" for name in figures)
            + " REMOVE requested, requested_at, asked, requested_criteria, failed_criteria, failed_at",
            ConditionExpression="requested = :run",
            ExpressionAttributeValues={f":{name}": attr_n(value) for name, value in figures.items()}
            | {
                ":run": attr_s(request.run_id),
                ":criteria": attr_s(request.criteria),
                ":began": attr_n(round(began, 3)),
                ":written": attr_s(chunks[0]),
                ":expires": attr_n(int(clock()) + EXPIRES_S),
            },
        )

    def failed(self, request: RunRequest) -> bool:
        """The run could not be made (too large, out of time, or criteria today's rules refuse): recorded so that
        reads answer 422 for ``FAILED_S`` (1 x UpdateItem, on condition that the request is still this run's)."""
        return self._conditionally(
            self.client.update_item,
            Key=_key(request.account_id, request.search_id),
            UpdateExpression="SET failed_criteria = :criteria, failed_at = :now "
            "REMOVE requested, requested_at, asked, requested_criteria",
            ConditionExpression="requested = :run",
            ExpressionAttributeValues={
                ":run": attr_s(request.run_id),
                ":criteria": attr_s(request.criteria),
                ":now": attr_n(round(clock(), 3)),
            },
        )


def run(store: SearchStore, request: RunRequest, time_left: Callable[[], float], inside_items: int) -> int | None:
    """Make the run ``request`` asks for, in the consumer, after the container's run before it and within
    ``time_left()`` seconds: claim it, evaluate (search_eval.py, with the budget ``OUTSIDE_ITEMS``), write its
    chunks, point the run item at them, record it on the search (which goes back to runs in the request once a run
    reads at most half ``inside_items``). How many members it found; None when it was not ours to make, was asked
    again for want of time, or failed (recorded: reads answer 422)."""
    runs = store.runs
    waited = not _one_run.acquire(blocking=False)
    if waited:
        _one_run.acquire()
    try:
        if waited and time_left() < MIN_RUN_S:  # the runs before it took the time: delivered anew, as a new request
            runs.ask(request.account_id, request.search_id, request.criteria, again=request)
            return None
        return _make(store, request, time_left, inside_items)
    finally:
        _one_run.release()


def _make(store: SearchStore, request: RunRequest, time_left: Callable[[], float], inside_items: int) -> int | None:
    """Claim, evaluate, write the chunks, record (``run``'s steps, the container's run lock held)."""
    runs = store.runs
    if not runs.claim(request):
        return None
    began, started, budget = clock(), utc_now(), Budget(OUTSIDE_ITEMS)
    found = None
    try:
        with within(time_left()):  # the evaluation stops in time to write what it found (its Budget)
            parsed = criteria_rules.read(request.criteria)
            names = {term.type_name for term in parsed.event_terms()}
            found = Evaluation(store, request.account_id, started.date(), names, budget).members(parsed.tree)
    except (SearchTooLarge, ValidationFailed, DeadlineReached):
        pass
    if found is None:
        runs.failed(request)
        return None
    ids = [int(item["member_id"]["N"]) for item in found]
    tally = status_counts(found)
    del found  # the ids are what the chunks need: the items' memory goes before they are written
    if runs.record(request, began, len(ids), tally, runs.write_chunks(request, ids)):
        inside = budget.spent <= inside_items // 2
        store.record_run(request.account_id, request.search_id, request.criteria, tally, started, inside)
    return len(ids)


def _packed(ids: list[int]) -> bytes:
    return struct.pack(f">{len(ids)}Q", *ids)


def _unpacked(data: bytes) -> list[int]:
    return list(struct.unpack(f">{len(data) // 8}Q", data))

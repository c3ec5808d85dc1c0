"""A large search's runs outside the request (docs/api.md, "Searches"; docs/data-model.md, "Large searches").

A search whose run reads more than a request may (``search_store.RUN_ITEMS`` items, or its time) is marked
``runs_outside``; its reads page from its last run, made by the table's stream consumer (functions/cascade_delete),
one at a time per container, within its 15 minutes:

- the run item (``<acct>#SR#<search>``, ``RUN``): the last run (``run_id``, its ``criteria`` text, ``at_epoch``
  when it began, its counts, its chunks' token); while a run is asked for, the request (``requested``,
  ``requested_until``, ``requested_criteria``, ``attempts``, and ``asked`` until claimed: what the stream's filter
  lets through);
  a run that failed (``failed_criteria``, ``failed_at``);
- the run's member ids, sorted, ``CHUNK_IDS`` to an item (8 bytes each: one read unit, so a page of 500 reads at
  most two), each chunk a partition of its own, keyed by a token of the attempt that wrote it;
- the account's run slots (``<acct>#SRS``, ``SLOT#<n>``): a request holds one until its run is recorded or
  failed, or its hold lapses.

The consumer claims a request on condition it is still the request (a record delivered again, or asked again
since, is skipped), evaluates, writes the chunks under a fresh token, then points the run item at them on
condition the request is still its own. Every item expires (the table's TTL) two days after it is written.
"""

from __future__ import annotations

import secrets
import struct
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from emma_events import keys
from emma_events.deadline import side_by_side
from emma_events.dynamo import Item, Table, attr_n, attr_s
from emma_events.errors import SearchRunning, SearchTooLarge
from emma_events.transactions import Cancelled, Part, transact

#: Member ids per chunk item: 4,000 bytes and the keys, under 4 KB (one read unit); a page of 500 spans two.
CHUNK_IDS = 500
#: A run served older than this asks for a new one (each run of a large search writes its chunks again).
FRESH_S = 300
#: A run older than this is not served: the read answers ``SearchRunning`` until the new one is made.
SERVED_S = 86_400
#: A request (and its slot) held this long once claimed, longer than the consumer's 900 s: past it, the run was
#: lost, and a read asks again.
LOST_S = 960
#: ... and this long before it is claimed (the stream's lane may be behind; its iterator-age alarm says so).
UNCLAIMED_S = 3_600
#: A run begun this many times (each crashed, or ran out of memory) is recorded as failed rather than retried.
RUN_ATTEMPTS = 2
#: Runs of one account on their way at once: a tenant's many large searches take turns, not the consumer's lanes.
ACCOUNT_RUNS = 2
#: A run too large even outside a request answers 422 this long before one is tried again.
FAILED_S = 3_600
#: The table's TTL deletes a run's items this long after they are written (``expires_at``, epoch seconds).
EXPIRES_S = 2 * 86_400
#: What a run outside a request may read (items as ``search_eval.Budget`` counts them): ~1 GB of the consumer's
#: 1,769 MB at the ~660-725 bytes an evaluation holds per item read (``make bench``, 6d; docs/performance.md).
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
    slot: int = 0


def requested(new_image: Item | None) -> RunRequest | None:
    """The run a stream record of a run item asks for, or None (every other record)."""
    if not new_image or new_image.get("entity", {}).get("S") != "search_run" or "asked" not in new_image:
        return None
    return RunRequest(
        int(new_image["account_id"]["N"]),
        int(new_image["search_id"]["N"]),
        new_image["requested"]["S"],
        new_image["requested_criteria"]["S"],
        int(new_image.get("slot", {}).get("N", 0)),
    )


def _key(account_id: int, search_id: int) -> Item:
    return {keys.PK: attr_s(keys.search_run_pk(account_id, search_id)), keys.SK: attr_s(keys.SEARCH_RUN_SK)}


def _chunk_key(account_id: int, search_id: int, written: str, chunk: int) -> Item:
    pk = keys.search_chunk_pk(account_id, search_id, written, chunk)
    return {keys.PK: attr_s(pk), keys.SK: attr_s(keys.SEARCH_CHUNK_SK)}


def _slot_key(account_id: int, slot: int) -> Item:
    return {keys.PK: attr_s(keys.search_slots_pk(account_id)), keys.SK: attr_s(f"SLOT#{slot}")}


def clock() -> float:
    """Now, in epoch seconds (what the run item's times are)."""
    return time.time()


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
                "The search is large and runs outside the request; its members are ready once its run is made (a "
                'minute or so; longer while the account\'s other large searches run) (docs/api.md, "Searches").'
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
        """Ask for a run, unless one is on its way, holding one of the account's ``ACCOUNT_RUNS`` slots (1 x
        TransactWriteItems per slot tried): the stream delivers the request to the consumer. A request and its slot
        are held ``UNCLAIMED_S`` until claimed, then ``LOST_S``; past that, taken again. ``again``: this request is
        replaced (its consumer had no time for it), in its slot if it still holds it. False when nothing was asked
        (on its way, or every slot held: a later read asks)."""
        now, run = clock(), attr_s(secrets.token_hex(6))
        values = {":entity": attr_s("search_run"), ":account": attr_n(account_id), ":search": attr_n(search_id)}
        values |= {":run": run, ":now": attr_n(round(now, 3)), ":criteria": attr_s(criteria)}
        values |= {":until": attr_n(round(now + UNCLAIMED_S, 3)), ":expires": attr_n(int(now) + EXPIRES_S)}
        mine = {":old": attr_s(again.run_id)} if again else {}
        condition = "requested = :old" if again else "attribute_not_exists(requested) OR requested_until < :now"
        slots = list(range(ACCOUNT_RUNS))
        if again:  # its own slot first
            slots.sort(key=lambda slot: slot != again.slot)
        for slot in slots:
            ask = {
                "TableName": self.table_name,
                "Key": _key(account_id, search_id),
                "UpdateExpression": "SET entity = :entity, account_id = :account, search_id = :search, "
                "requested = :run, requested_until = :until, asked = :now, requested_criteria = :criteria, "
                "attempts = :zero, expires_at = :expires, slot = :slot",
                "ConditionExpression": condition,
                "ExpressionAttributeValues": values | mine | {":slot": attr_n(slot), ":zero": attr_n(0)},
            }
            ours = again is not None and slot == again.slot
            hold = {
                "TableName": self.table_name,
                "Key": _slot_key(account_id, slot),
                "UpdateExpression": "SET run = :run, held_until = :until, expires_at = :expires",
                "ConditionExpression": "run = :old" if ours else "attribute_not_exists(PK) OR held_until < :now",
                "ExpressionAttributeValues": {k: values[k] for k in (":run", ":until", ":expires")}
                | (mine if ours else {":now": values[":now"]}),
            }
            try:
                transact(self.client, [Part("run", {"Update": ask}), Part("slot", {"Update": hold})])
                return True
            except Cancelled as error:
                if error.failed("run"):  # on its way already
                    return False
        return False  # every slot held (or in a conflict): a later read asks again

    def claim(self, request: RunRequest) -> int | None:
        """The consumer begins ``request`` (1 x UpdateItem: held ``LOST_S`` from now, one attempt more; + 1 x
        UpdateItem of its slot's hold), on condition it is still the search's request; which attempt this is, or
        None (a record delivered again after its run was made, or asked again since)."""
        now = clock()
        until = attr_n(round(now + LOST_S, 3))
        claimed = self._conditionally(
            self.client.update_item,
            Key=_key(request.account_id, request.search_id),
            # no ``asked``: the stream's filter drops this write
            UpdateExpression="SET requested_until = :until ADD attempts :one REMOVE asked",
            ConditionExpression="requested = :run",
            ExpressionAttributeValues={":run": attr_s(request.run_id), ":until": until, ":one": attr_n(1)},
            ReturnValues="UPDATED_NEW",
        )
        if claimed is None:
            return None
        self._conditionally(
            self.client.update_item,
            Key=_slot_key(request.account_id, request.slot),
            UpdateExpression="SET held_until = :until",
            ConditionExpression="run = :run",
            ExpressionAttributeValues={":run": attr_s(request.run_id), ":until": until},
        )
        return int(claimed["Attributes"]["attempts"]["N"])

    def _release(self, request: RunRequest) -> None:
        """The request's slot, for the account's next run (1 x DeleteItem, on condition it is still its own)."""
        self._conditionally(
            self.client.delete_item,
            Key=_slot_key(request.account_id, request.slot),
            ConditionExpression="run = :run",
            ExpressionAttributeValues={":run": attr_s(request.run_id)},
        )

    def write_chunks(self, request: RunRequest, ids: list[int]) -> str:
        """The run's ids, sorted, in chunks under a token of this attempt: 1 x BatchWriteItem per 25 chunks, side by
        side. The token."""
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
        return written

    def record(self, request: RunRequest, began: float, found: int, tally: dict[str, int], written: str) -> bool:
        """The run item points at this run's chunks (1 x UpdateItem), on condition that the request is still this
        run's: False when it is not (asked again since)."""
        figures = {"member_count": found, **tally}
        recorded = (
            self._conditionally(
                self.client.update_item,
                Key=_key(request.account_id, request.search_id),
                UpdateExpression="SET run_id = :run, criteria = :criteria, at_epoch = :began, written = :written, "
                "expires_at = :expires, "
                + ", ".join(f"{name} = :{name}" for name in figures)
                + " REMOVE requested, requested_until, asked, requested_criteria, attempts, failed_criteria, failed_at",
                ConditionExpression="requested = :run",
                ExpressionAttributeValues={f":{name}": attr_n(value) for name, value in figures.items()}
                | {
                    ":run": attr_s(request.run_id),
                    ":criteria": attr_s(request.criteria),
                    ":began": attr_n(round(began, 3)),
                    ":written": attr_s(written),
                    ":expires": attr_n(int(clock()) + EXPIRES_S),
                },
            )
            is not None
        )
        self._release(request)  # its own, or none: a run superseded gives back the slot it held
        return recorded

    def failed(self, request: RunRequest) -> bool:
        """The run could not be made (too large, out of time, or criteria today's rules refuse): recorded so that
        reads answer 422 for ``FAILED_S`` (1 x UpdateItem, on condition that the request is still this run's)."""
        recorded = (
            self._conditionally(
                self.client.update_item,
                Key=_key(request.account_id, request.search_id),
                UpdateExpression="SET failed_criteria = :criteria, failed_at = :now "
                "REMOVE requested, requested_until, asked, requested_criteria, attempts",
                ConditionExpression="requested = :run",
                ExpressionAttributeValues={
                    ":run": attr_s(request.run_id),
                    ":criteria": attr_s(request.criteria),
                    ":now": attr_n(round(clock(), 3)),
                },
            )
            is not None
        )
        self._release(request)  # its own, or none: a run superseded gives back the slot it held
        return recorded


def _packed(ids: list[int]) -> bytes:
    return struct.pack(f">{len(ids)}Q", *ids)


def _unpacked(data: bytes) -> list[int]:
    return list(struct.unpack(f">{len(data) // 8}Q", data))

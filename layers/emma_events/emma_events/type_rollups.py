"""A type's stats, kept by the table stream's consumer (functions/publish_events), exactly once per event.

Per type, in its partition ``<account>#TS#<type>``: an item per UTC day (``D#2026-11-20``) with the type's events
of each quarter-hour (``q00``..``q95``) and per month (``M#2026-11``) with those of each day (``d01``..``d31``),
each with the sum of their values (bands, sums.py: ``q37v0``). A POST's transaction never touches them (every
POST of a type would share the day's item, and DynamoDB cancels transactions that meet on an item): the
consumer adds a batch's inserted events, and takes off the events a member's cascade removes, in transactions of
the items' updates and a marker per event (``<account>#RL#<event id>``, ``in`` or ``out``, kept two days): a
retried or redelivered record finds its marker as it left it and changes nothing. Only events marked ``tallied``
count (written so by this release; ``ops.tally_events`` adds older ones in the transaction that marks them), so a
removal takes off exactly what was added. Events of a type that is gone are left out (its cascade deletes its
stats once its events are gone).
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC
from typing import Any, NamedTuple

from botocore.exceptions import BotoCoreError, ClientError

from emma_events import counts, keys, layout, sums
from emma_events.domain import MemberEvent
from emma_events.dynamo import Table, attr_n, attr_s
from emma_events.errors import ServiceUnavailable
from emma_events.transactions import AGAIN, Again, Cancelled, Part, write

#: A marker is kept past the stream's 24 hours and the mapping's retries, then expires (TTL).
MARKER_TTL_S = 2 * 24 * 3600
#: Items of one transaction (DynamoDB's limit).
TRANSACTION_ITEMS = 100
QUARTER = "q"
DAY = "d"


class Change(NamedTuple):
    """An event to add to its type's stats (``sign`` 1: inserted) or take off (-1: removed by a cascade)."""

    event: MemberEvent
    sign: int


def day_sk(day: str) -> str:
    return f"D#{day}"


def month_sk(month: str) -> str:
    return f"M#{month}"


def _slots(event: MemberEvent) -> list[tuple[tuple[str, str], str]]:
    """The items and attributes an event is counted in: its quarter-hour in its day's item, its day in its month's."""
    at = event.event_timestamp.astimezone(UTC)
    pk = keys.type_stats_pk(event.account_id, event.event_type_id)
    quarter = f"{QUARTER}{at.hour * 4 + at.minute // 15:02d}"
    return [((pk, day_sk(f"{at:%Y-%m-%d}")), quarter), ((pk, month_sk(f"{at:%Y-%m}")), f"{DAY}{at:%d}")]


def changes(batch: Iterable[Change]) -> dict[tuple[str, str], dict[str, int]]:
    """What the changes add to the stats items, by item key: per slot the events and their values' bands."""
    added: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for event, sign in batch:
        value = {} if event.event_monetary_value is None else sums.bands(event.event_monetary_value)
        for key, slot in _slots(event):
            item = added[key]
            item[slot] += sign
            for band, part in value.items():
                item[sums.attribute(slot + counts.VALUE, band)] += sign * part
    return added


def _marker(table: str, change: Change, now: float) -> dict[str, Any]:
    """A change's marker, kept past the stream's 24 hours and the mapping's retries (then it expires): an insert's
    put where none is (its redelivery, or its event's removal since, left one); a removal's where none is or over
    the insert's (its own redelivery left one ``out``)."""
    event = change.event
    item = {
        keys.PK: attr_s(keys.rollup_marker_pk(event.account_id, event.event_id)),
        keys.SK: attr_s(keys.ROLLUP_MARKER_SK),
        "state": attr_s("in" if change.sign > 0 else "out"),
        "expires_at": attr_n(int(now) + MARKER_TTL_S),
    }
    put: dict[str, Any] = {"TableName": table, "Item": item, "ConditionExpression": "attribute_not_exists(PK)"}
    if change.sign < 0:
        put["ConditionExpression"] += " OR #state = :in"
        put["ExpressionAttributeNames"] = {"#state": "state"}
        put["ExpressionAttributeValues"] = {":in": attr_s("in")}
    return {"Put": put}


def recorded_parts(table: str, event: MemberEvent, now: float) -> list[dict[str, Any]]:
    """What adds an event recorded before the stats to its type's stats, once (``ops.tally_events``, in the
    transaction that marks it ``tallied``): its marker and its stats items' updates."""
    change = Change(event, 1)
    return [_marker(table, change, now)] + [
        {"Update": counts.update(table, key, values)} for key, values in changes([change]).items()
    ]


def groups(batch: list[Change]) -> list[list[Change]]:
    """The changes in runs whose markers and items fit one transaction, no event twice in a run (an insert and its
    removal in one batch: a transaction may touch an item once)."""
    runs: list[list[Change]] = []
    run: list[Change] = []
    items: set[tuple[str, str]] = set()
    events: set[tuple[int, int]] = set()
    for change in batch:
        wanted = {key for key, _ in _slots(change.event)}
        event = (change.event.account_id, change.event.event_id)
        if run and (event in events or len(run) + 1 + len(items | wanted) > TRANSACTION_ITEMS):
            runs.append(run)
            run, items, events = [], set(), set()
        run.append(change)
        items |= wanted
        events.add(event)
    return [*runs, run] if run else runs


class TypeRollups(Table):
    """The consumer's writes of the types' stats."""

    def apply(self, batch: list[Change]) -> tuple[int, list[int]]:
        """Add the changes of a stream batch to their types' stats, each exactly once, in order: how many were
        added now, and the positions in ``batch`` of those that could not be (from the first run that failed: the
        stream delivers them again).

        1 x BatchGetItem of the changes' types (a type that is gone is left out) + 1 x TransactWriteItems per
        run of changes (markers and stats items: at most 100), again without the changes a failed marker shows
        were added before; a run still cancelled (conflicts with another lane's) after the retries stops there."""
        alive = self._batch_get(
            layout.type_key(account, type_id)
            for account, type_id in sorted({(c.event.account_id, c.event.event_type_id) for c in batch})
        )
        kept = [
            index
            for index, c in enumerate(batch)
            if (keys.account_pk(c.event.account_id), keys.event_type_sk(c.event.event_type_id)) in alive
        ]
        added, done = 0, 0
        for run in groups([batch[index] for index in kept]):
            try:
                added += self._apply_run(run)
            except (ServiceUnavailable, ClientError, BotoCoreError):  # after the retries: delivered again
                return added, kept[done:]
            done += len(run)
        return added, []

    def _apply_run(self, run: list[Change]) -> int:
        pending = list(run)

        def attempt() -> tuple[list[Part], int]:
            if not pending:
                return [], 0
            now = time.time()
            parts = [Part("marker", _marker(self.table_name, c, now), index) for index, c in enumerate(pending)]
            parts += [
                Part("stats", {"Update": counts.update(self.table_name, k, v)}) for k, v in changes(pending).items()
            ]
            return parts, len(pending)

        def cancelled(error: Cancelled, answer: int) -> int | Again:
            done = {outcome.part.ident for outcome in error.failed("marker")}  # added before: a redelivery
            pending[:] = [c for index, c in enumerate(pending) if index not in done]
            return AGAIN

        return write(self.client, attempt, cancelled, "type's stats")

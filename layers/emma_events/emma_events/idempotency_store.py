"""Idempotency records: what a POST with an ``Idempotency-Key`` recorded, kept 24 hours for its retries.

The record is written in the POST's own transaction (``put``), so a retry's transaction fails its condition and
is answered from it (``replay``); DynamoDB's TTL deletes it after ``expires_at``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from emma_events import keys, layout
from emma_events.domain import IDEMPOTENCY_TTL_SECONDS, Idempotency, MemberEvent
from emma_events.dynamo import Item, Table, attr_n, attr_s
from emma_events.errors import IdempotencyKeyReused


def _key(account_id: int, idempotency: Idempotency) -> Item:
    return {
        keys.PK: attr_s(keys.idempotency_pk(account_id, idempotency.key)),
        keys.SK: attr_s(keys.IDEMPOTENCY_SK),
    }


def _legacy_key(account_id: int, idempotency: Idempotency) -> Item:
    return {keys.PK: attr_s(keys.legacy_idempotency_pk(account_id)), keys.SK: attr_s(idempotency.key)}


#: A record that has not expired (or is not there): the condition of writing one, and of the legacy check.
UNUSED = "attribute_not_exists(PK) OR expires_at < :now"


class IdempotencyRecords(Table):
    """An account's idempotency records, each in a partition of its own (``<account>#IK#<key>``), so that no item
    or partition is shared by every POST of an account; until the last record an earlier release kept in the
    account's one ``<account>#IK`` partition expires (24 hours after the upgrade), that one is checked too."""

    def legacy_check(self, account_id: int, idempotency: Idempotency, now: datetime) -> dict[str, Any]:
        """A ``ConditionCheck`` that no unexpired record of the key is where releases before kept it: a retry of
        a POST recorded before the upgrade fails it and is answered from that record (``replay``)."""
        return {
            "TableName": self.table_name,
            "Key": _legacy_key(account_id, idempotency),
            "ConditionExpression": UNUSED,
            "ExpressionAttributeValues": {":now": attr_n(int(now.timestamp()))},
        }

    def put(self, account_id: int, idempotency: Idempotency, items: list[Item], now: datetime) -> dict[str, Any]:
        # The created events as a list of maps, each the event's own item: ``attributes`` stays the one JSON string
        # it is in the event item (a JSON document of the items would escape it a second time, and 10 events of
        # quote-heavy attributes would outgrow DynamoDB's 400 KB item). At the limits, 10 x 32 KB of attributes
        # plus ~0.3 KB per event: ~330 KB.
        return self._record(account_id, idempotency, now, {EVENTS: {"L": [{"M": item} for item in items]}})

    def put_search(self, account_id: int, idempotency: Idempotency, search_id: int, now: datetime) -> dict[str, Any]:
        """The record of a POST /searches: the search it made."""
        return self._record(account_id, idempotency, now, {SEARCH: attr_n(search_id)})

    def _record(self, account_id: int, idempotency: Idempotency, now: datetime, answer: Item) -> dict[str, Any]:
        """A ``Put`` of the key's record, holding what its POST ``answer``ed, on condition that none is live: one
        key space for both POSTs."""
        return self._put(
            _key(account_id, idempotency)
            | {
                "entity": attr_s("idempotency"),
                "request_hash": attr_s(idempotency.request_hash),
                "expires_at": attr_n(int(now.timestamp()) + IDEMPOTENCY_TTL_SECONDS),
            }
            | answer,
            condition=UNUSED,
            values={":now": attr_n(int(now.timestamp()))},
        )

    def replay(self, account_id: int, idempotency: Idempotency, now: datetime) -> list[MemberEvent] | None:
        """The events recorded under this key, or None when its record has expired: 1 x GetItem (+1 of where
        releases before kept it, when the record is not found)."""
        item = self._item(_key(account_id, idempotency)) or self._item(_legacy_key(account_id, idempotency))
        return self.replayed(item, idempotency, now)

    @staticmethod
    def replayed(item: Item | None, idempotency: Idempotency, now: datetime) -> list[MemberEvent] | None:
        """The events a record holds (as read, or as a failed condition found it), or None when there is none or
        it has expired; ``IdempotencyKeyReused`` for a record of another body."""
        live = _live(item, idempotency, now, EVENTS)
        return None if live is None else [layout.event_of(stored["M"]) for stored in live[EVENTS]["L"]]

    def search_made(self, account_id: int, idempotency: Idempotency, now: datetime) -> int | None:
        """The search a live record of the key made, or None: 1 x GetItem."""
        return self.searched(self._item(_key(account_id, idempotency)), idempotency, now)

    @staticmethod
    def searched(item: Item | None, idempotency: Idempotency, now: datetime) -> int | None:
        """The search a record holds (as read, or as a failed condition found it), as ``replayed``."""
        live = _live(item, idempotency, now, SEARCH)
        return None if live is None else int(live[SEARCH]["N"])


#: What a record holds: the events a POST /events/members made, or the search a POST /searches made.
EVENTS, SEARCH = "events", "search_id"


def _live(item: Item | None, idempotency: Idempotency, now: datetime, holding: str) -> Item | None:
    """The record if it is there and unexpired, else None; ``IdempotencyKeyReused`` when it is of another body, or
    of the other POST (it does not hold ``holding``)."""
    if item is None or int(item["expires_at"]["N"]) < int(now.timestamp()):
        return None
    if item["request_hash"]["S"] != idempotency.request_hash or holding not in item:
        raise IdempotencyKeyReused(
            "This Idempotency-Key was used in the last 24 hours for a request with another body."
        )
    return item

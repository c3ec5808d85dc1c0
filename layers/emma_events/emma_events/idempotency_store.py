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


class IdempotencyRecords(Table):
    """An account's idempotency records (``<account>#IK`` partition, one item per key)."""

    def put(self, account_id: int, idempotency: Idempotency, items: list[Item], now: datetime) -> dict[str, Any]:
        # The created events as a list of maps, each the event's own item: ``attributes`` stays the one JSON string
        # it is in the event item (a JSON document of the items would escape it a second time, and 10 events of
        # quote-heavy attributes would outgrow DynamoDB's 400 KB item). At the limits, 10 x 32 KB of attributes
        # plus ~0.3 KB per event: ~330 KB.
        stored = [{"M": item} for item in items]
        return self._put(
            {
                keys.PK: attr_s(keys.idempotency_pk(account_id)),
                keys.SK: attr_s(idempotency.key),
                "entity": attr_s("idempotency"),
                "request_hash": attr_s(idempotency.request_hash),
                "events": {"L": stored},
                "expires_at": attr_n(int(now.timestamp()) + IDEMPOTENCY_TTL_SECONDS),
            },
            condition="attribute_not_exists(PK) OR expires_at < :now",
            values={":now": attr_n(int(now.timestamp()))},
        )

    def replay(self, account_id: int, idempotency: Idempotency, now: datetime) -> list[MemberEvent] | None:
        """The events recorded under this key, or None when its record has expired."""
        item = self._item({keys.PK: attr_s(keys.idempotency_pk(account_id)), keys.SK: attr_s(idempotency.key)})
        if item is None or int(item["expires_at"]["N"]) < int(now.timestamp()):
            return None
        if item["request_hash"]["S"] != idempotency.request_hash:
            raise IdempotencyKeyReused(
                "This Idempotency-Key was used in the last 24 hours for a request with another body."
            )
        return [layout.event_of(stored["M"]) for stored in item["events"]["L"]]

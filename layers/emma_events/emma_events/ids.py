"""Ids: per-account sequences, leased in blocks so that concurrent writers share the counter item once per block."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from emma_events import keys
from emma_events.errors import ServiceUnavailable

#: Ids leased at once per sequence: the counter item takes one write per this many ids (types: one per type).
BLOCKS = {keys.EVENT_SEQUENCE: 1000, keys.MEMBER_SEQUENCE: 100}
#: The accounts whose blocks a store keeps (the least recently used are forgotten, their rest unused).
LEASED_ACCOUNTS = 4096


class IdBlocks:
    """The ids a store hands out: a block of a sequence is leased with 1 x UpdateItem ``ADD`` on the account's
    ``SEQ`` item and handed out until it runs out. Ids are never reused: an id taken by a request that later fails
    is skipped, and so is the rest of a block whose container ends. Unique and increasing within a container; not
    across containers, whose blocks interleave (docs/data-model.md)."""

    def __init__(self, table_name: str) -> None:
        self.table_name = table_name
        self._blocks: OrderedDict[tuple[int, str], tuple[int, int]] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, client: Any, account_id: int, sequence: str, count: int = 1) -> int:
        """``count`` consecutive ids; the last of them (``client``: the store's, for a lease)."""
        size = max(BLOCKS.get(sequence, 1), count)
        with self._lock:
            first, last = self._blocks.pop((account_id, sequence), (1, 0))
            if last - first + 1 < count:
                last = self._lease(client, account_id, sequence, size)
                first = last - size + 1
            self._blocks[(account_id, sequence)] = (first + count, last)
            while len(self._blocks) > LEASED_ACCOUNTS:
                self._blocks.popitem(last=False)
        return first + count - 1

    def _lease(self, client: Any, account_id: int, sequence: str, size: int) -> int:
        """Reserve the next ``size`` ids: 1 x UpdateItem (ADD, atomic); the last of them."""
        result = client.update_item(
            TableName=self.table_name,
            Key={keys.PK: {"S": keys.account_pk(account_id)}, keys.SK: {"S": keys.SEQUENCE_SK}},
            UpdateExpression="ADD #seq :size",
            ExpressionAttributeNames={"#seq": sequence},
            ExpressionAttributeValues={":size": {"N": str(size)}},
            ReturnValues="UPDATED_NEW",
        )
        last = int(result["Attributes"][sequence]["N"])
        if last > keys.MAX_ID:
            raise ServiceUnavailable(f"The account has used every id of {sequence}.")
        return last

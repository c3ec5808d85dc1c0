"""The cascade delete's work on the table: the keys of a parent's events, range by range, their members' counts
settled and their batch deletes; its progress is ``cascade_progress``'s (``cascade.py`` runs the steps)."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from emma_events import counts, keys
from emma_events.cascade_progress import LEGACY, CascadeProgress
from emma_events.domain import Parent
from emma_events.dynamo import Item, attr_s
from emma_events.errors import ServiceUnavailable
from emma_events.transactions import TRANSACTION_TRIES, Cancelled, Part, transact

#: Calls of a page in flight at once per container (its deletes in chunks of 25, its members' settlements), over
#: all the ranges it runs: a page of 1,000 keys is 40 BatchWriteItem calls, ~10 ms each on AWS.
WORKERS = 16


class CascadeStore(CascadeProgress):
    """The cascade's reads and writes of the table."""

    _workers: ThreadPoolExecutor | None = None

    def parent_event_keys(
        self, parent: Parent, part: str, position: dict[str, Any] | None, limit: int
    ) -> tuple[list[Item], dict[str, Any] | None]:
        """Up to ``limit`` keys of the parent's events in one of its ``ranges`` after ``position``, and where the
        next read starts.

        1 x Query, keys only: a type's events through the keys-only ``ByType`` index; a member's events and
        counts in the member's own partition (strongly consistent, ``ProjectionExpression`` of the keys).
        """
        if parent.kind == "event_type":
            shard = None if part == LEGACY else int(part)
            pk = keys.type_index_pk(parent.account_id, parent.parent_id, shard)  # shard n: member ids n mod 16
            query: dict[str, Any] = {
                "TableName": self.table_name,
                "IndexName": keys.TYPE_INDEX,
                "KeyConditionExpression": "GSI1PK = :pk",
                "ExpressionAttributeValues": {":pk": attr_s(pk)},
                "ProjectionExpression": "PK, SK",  # only the table keys: half the payload of the index entry
            }
        else:
            query = {  # what is left of the member's partition: its events and its count items
                "TableName": self.table_name,
                "KeyConditionExpression": "PK = :pk",
                "ExpressionAttributeValues": {":pk": attr_s(keys.member_pk(parent.account_id, parent.parent_id))},
                "ProjectionExpression": "PK, SK",
                "ConsistentRead": True,
            }
        query["Limit"] = limit
        if position:
            query["ExclusiveStartKey"] = position
        page = self.client.query(**query)
        found = [{keys.PK: item[keys.PK], keys.SK: item[keys.SK]} for item in page["Items"]]
        return found, page.get("LastEvaluatedKey")

    def settle_counts(self, parent: Parent, found: list[Item], time_left: Callable[[], bool]) -> bool:
        """Take a removed type's counts off the members of a page of its events: the type's count items that count
        them (``counts.items_of``: their keys follow from the events' times), read in BatchGetItem calls, are each
        deleted only as read (every attribute) and their values subtracted from the all-types item of the same
        period; per member, in one transaction that also adds 1 to the member's ``SETTLED`` marker (a count that
        read meanwhile sees it and reads again), so that its counts are exact at every moment; members packed
        into transactions of up to 100 items, side by side. The deletes' conditions make it exactly once, however
        often a step is retried (an item another page of the type's already settled is gone). A transaction
        cancelled (a POST of a late event changed an item, or a conflict) is read and tried again. Stops when
        ``time_left()`` turns false (whether it finished: the rest is settled when the page is read again)."""
        scope = counts.scope_of(parent.parent_id)
        wanted = counts.items_of(found, scope)
        for failures in range(TRANSACTION_TRIES):
            if not time_left():
                return False
            read = self._batch_get({keys.PK: attr_s(pk), keys.SK: attr_s(sk)} for pk, sk in sorted(wanted))
            cancelled = self._pool().map(self._settle, counts.settlements(self.table_name, list(read.values()), scope))
            again = {member for members in cancelled for member in members}
            if not again:
                return True
            wanted = {(pk, sk) for pk, sk in wanted if pk in again}
            self._sleep(failures)
        raise ServiceUnavailable(f"the counts of {len(wanted)} items kept conflicting; the step is retried")

    def _settle(self, run: list[counts.Settlement]) -> set[str]:
        """Its transactions one after another; the members to read again from the first one cancelled on."""
        for done, (_, actions) in enumerate(run):
            try:
                transact(self.client, [Part("count", action) for action in actions])
            except Cancelled:
                return {member for members, _ in run[done:] for member in members}
        return set()

    def drop_type_stats(self, parent: Parent) -> int:
        """Delete a removed type's stats items (type_rollups.py), once its events are gone; how many. 1 x Query
        (keys, strongly consistent; more for a type of many years) + its deletes."""
        query = {
            "TableName": self.table_name,
            "KeyConditionExpression": "PK = :pk",
            "ExpressionAttributeValues": {":pk": attr_s(keys.type_stats_pk(parent.account_id, parent.parent_id))},
            "ProjectionExpression": "PK, SK",
            "ConsistentRead": True,
        }
        return self.delete_keys(self._query_all(query))

    def delete_keys(self, items: list[Item], max_attempts: int = 8) -> int:
        """Delete items by key: BatchWriteItem in chunks of 25 (the service's limit), side by side, retrying
        ``UnprocessedItems`` with exponential backoff. Returns how many were deleted (absent ones count: a
        delete is idempotent). Raises ``ServiceUnavailable`` when items stay unprocessed after the retries."""
        chunks = [items[start : start + 25] for start in range(0, len(items), 25)]
        deletes = [[{"DeleteRequest": {"Key": key}} for key in chunk] for chunk in chunks]
        list(self._pool().map(lambda chunk: self._batch_write(chunk, max_attempts), deletes))
        return len(items)

    def _pool(self) -> ThreadPoolExecutor:
        """The container's threads for the calls of a page (``WORKERS``), shared by the ranges it runs."""
        if self._workers is None:
            self._workers = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="cascade")
        return self._workers

"""Where the cascade delete keeps its progress: the keys of a parent's events, batch deletes, the cursor item whose
stream record starts the next step, and the account's removals item (``cascade.py`` runs the steps)."""

from __future__ import annotations

import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from botocore.exceptions import ClientError

from emma_events import counts, keys, layout
from emma_events.dates import to_storage, utc_now
from emma_events.domain import CascadeState, Parent
from emma_events.dynamo import Item, Table, attr_n, attr_s
from emma_events.errors import ServiceUnavailable
from emma_events.transactions import TRANSACTION_TRIES, Cancelled, Part, transact

#: The range of a parent's events that is not a ``ByType`` shard (``CascadeStore.ranges``).
LEGACY = "*"
#: Calls of a page in flight at once per container (its deletes in chunks of 25, its members' settlements), over
#: all the ranges it runs: a page of 1,000 keys is 40 BatchWriteItem calls, ~10 ms each on AWS.
WORKERS = 16


class CascadeStore(Table):
    """The cascade's reads and writes of the table."""

    _workers: ThreadPoolExecutor | None = None

    @staticmethod
    def ranges(parent: Parent) -> list[str]:
        """The parts of a parent's events that steps read and delete in parallel: a type's ``ByType`` keys (one per
        shard, and ``*``: the one key of releases before), a member's partition (``*``)."""
        if parent.kind == "event_type":
            return [*map(str, range(keys.TYPE_INDEX_SHARDS)), LEGACY]
        return [LEGACY]

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
        deleted as read (its ``TOTAL`` unchanged) and their values subtracted from the all-types item of the same
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

    def delete_keys(self, items: list[Item], max_attempts: int = 8) -> int:
        """Delete items by key: BatchWriteItem in chunks of 25 (the service's limit), side by side, retrying
        ``UnprocessedItems`` with exponential backoff. Returns how many were deleted (absent ones count: a
        delete is idempotent). Raises ``ServiceUnavailable`` when items stay unprocessed after the retries."""
        chunks = [items[start : start + 25] for start in range(0, len(items), 25)]
        list(self._pool().map(lambda chunk: self._delete_chunk(chunk, max_attempts), chunks))
        return len(items)

    def _delete_chunk(self, chunk: list[Item], max_attempts: int) -> None:
        pending = [{"DeleteRequest": {"Key": key}} for key in chunk]
        for attempt in range(max_attempts):
            result = self.client.batch_write_item(RequestItems={self.table_name: pending})
            pending = result.get("UnprocessedItems", {}).get(self.table_name, [])
            if not pending:
                return
            self._sleep(attempt)
        raise ServiceUnavailable(f"{len(pending)} deletes stayed unprocessed after {max_attempts} attempts")

    def _pool(self) -> ThreadPoolExecutor:
        """The container's threads for the calls of a page (``WORKERS``), shared by the ranges it runs."""
        if self._workers is None:
            self._workers = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="cascade")
        return self._workers

    def _cascade_key(self, parent: Parent) -> Item:
        return {
            keys.PK: attr_s(keys.cascade_pk(parent.account_id)),
            keys.SK: attr_s(keys.cascade_sk(parent.kind, parent.parent_id)),
        }

    @staticmethod
    def _cursor_key(parent: Parent, part: str) -> Item:
        pk = keys.cascade_range_pk(parent.account_id, parent.kind, parent.parent_id, part)
        return {keys.PK: attr_s(pk), keys.SK: attr_s(keys.CASCADE_RANGE_SK)}

    def _cursor(self, state: CascadeState) -> Item:
        parent = state.parent
        assert state.part is not None
        item = self._cursor_key(parent, state.part) | {
            "entity": attr_s("cascade"),
            "kind": attr_s(parent.kind),
            "account_id": attr_n(parent.account_id),
            "parent_id": attr_n(parent.parent_id),
            "part": attr_s(state.part),
            "deleted": attr_n(state.deleted),
            "pass_deleted": attr_n(state.pass_deleted),
            "steps": attr_n(state.steps),
            "settled_at": attr_n(round(state.settled_at, 3)),
            "pass_started_at": attr_n(round(state.pass_started_at, 3)),
            "updated_at": attr_s(to_storage(utc_now())),
        }
        if state.position is not None:
            item["position"] = attr_s(json.dumps(state.position, sort_keys=True))
        return item

    def begin(self, parent: Parent, settled_at: float, *, again: bool = False) -> bool:
        """Start a cascade: 1 x TransactWriteItems of the parent's cascade item (its ranges, none finished) and one
        cursor item per range, whose stream records start the ranges' first steps. Whether it started: a cascade
        already under way is left as it is (a removal's record delivered twice), unless ``again`` (a replay from
        the dead-letter queue: every range from its start; the old chains stop at their next checkpoint). The
        cursor item of a release before (one cursor for all ranges, no ``ranges``) is replaced."""
        ranges = self.ranges(parent)
        cascade = self._cascade_key(parent) | {
            "entity": attr_s("cascade_ranges"),  # no stream filter matches it: it starts nothing
            "ranges": {"SS": ranges},
            "deleted": {"M": {}},
            "updated_at": attr_s(to_storage(utc_now())),
        }
        put = self._put(cascade, "attribute_not_exists(#ranges)")
        put["ExpressionAttributeNames"] = {"#ranges": "ranges"}
        if again:
            put.pop("ConditionExpression"), put.pop("ExpressionAttributeNames")
        cursors = [
            {
                "Put": {
                    "TableName": self.table_name,
                    "Item": self._cursor(CascadeState(parent, None, 0, 0, 0, settled_at, 0.0, part)),
                }
            }
            for part in ranges
        ]
        try:
            transact(self.client, [Part("cascade", {"Put": put}), *(Part("cursor", cursor) for cursor in cursors)])
        except Cancelled as error:
            if not error.failed("cascade"):
                raise
            return False
        return True

    def save_cascade(self, state: CascadeState, read_steps: int) -> bool:
        """Checkpoint a range: 1 x PutItem of its cursor item, whose stream record starts the range's next step,
        written only over the checkpoint its step started from (``steps`` = ``read_steps``). Whether it was: a step
        of a record delivered again finds a later checkpoint (or none: the range has finished) and its chain ends
        there, so that a range has one chain of steps at a time.

        A PutItem (not an UpdateItem) so that each checkpoint is exactly one stream record.
        """
        try:
            self.client.put_item(
                TableName=self.table_name,
                Item=self._cursor(state),
                ConditionExpression="steps = :read",
                ExpressionAttributeValues={":read": attr_n(read_steps)},
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
            return False
        return True

    def finish_range(self, state: CascadeState) -> int | None:
        """A range has no event left: 1 x UpdateItem adding it to its cascade's finished ranges (with the events it
        deleted), 1 x DeleteItem of its cursor. When that finishes the cascade, the events it deleted in all (and,
        for a type, 1 x UpdateItem taking it off the account's removals: nothing is left to hide); else None. A
        step delivered again after the cascade's item is gone (``close``) finds nothing to finish."""
        assert state.part is not None
        try:
            cascade = self.client.update_item(
                TableName=self.table_name,
                Key=self._cascade_key(state.parent),
                UpdateExpression="ADD finished :part SET deleted.#part = :deleted",
                ConditionExpression="attribute_exists(#ranges)",
                ExpressionAttributeNames={"#part": state.part, "#ranges": "ranges"},
                ExpressionAttributeValues={":part": {"SS": [state.part]}, ":deleted": attr_n(state.deleted)},
                ReturnValues="ALL_NEW",
            )["Attributes"]
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
            cascade = None
        self.client.delete_item(TableName=self.table_name, Key=self._cursor_key(state.parent, state.part))
        if cascade is None or not set(cascade["ranges"]["SS"]) <= set(cascade["finished"]["SS"]):
            return None
        parent = state.parent
        if parent.kind == "event_type":
            self.client.update_item(
                TableName=self.table_name,
                Key=layout.removals_key(parent.account_id),
                UpdateExpression="DELETE type_ids :ids",
                ExpressionAttributeValues={":ids": {"NS": [str(parent.parent_id)]}},
            )
        return sum(int(n["N"]) for n in cascade["deleted"]["M"].values())

    def close(self, parent: Parent) -> None:
        """1 x DeleteItem of a finished cascade's item, once its end is announced."""
        self.client.delete_item(TableName=self.table_name, Key=self._cascade_key(parent))

    @staticmethod
    def cascade_of(image: Item) -> CascadeState:
        """The state carried by a cursor item's stream image."""
        parent = Parent(image["kind"]["S"], int(image["account_id"]["N"]), int(image["parent_id"]["N"]))
        position = json.loads(image["position"]["S"]) if "position" in image else None
        return CascadeState(
            parent,
            position,
            int(image["deleted"]["N"]),
            int(image["pass_deleted"]["N"]),
            int(image["steps"]["N"]),
            float(image["settled_at"]["N"]),
            float(image["pass_started_at"]["N"]),
            image["part"]["S"] if "part" in image else None,
        )

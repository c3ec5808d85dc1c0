"""Where the cascade delete keeps its progress: the keys of a parent's events, batch deletes, the cursor item whose
stream record starts the next step, and the account's removals item (``cascade.py`` runs the steps)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from emma_events import counts, keys, layout
from emma_events.dates import to_storage, utc_now
from emma_events.domain import CascadeState, Parent
from emma_events.dynamo import TRANSACTION_TRIES, Item, Table, attr_n, attr_s
from emma_events.errors import ServiceUnavailable

#: The range of a parent's events that is not a ``ByType`` shard (``CascadeStore.ranges``).
LEGACY = "*"


class CascadeStore(Table):
    """The cascade's reads and writes of the table."""

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

    def settle_counts(self, parent: Parent, member_pks: set[str], time_left: Callable[[], bool]) -> bool:
        """Take a removed type's counts off each member's: each of its count items is deleted and its values
        subtracted from the all-types item of the same period, both in one transaction that also adds 1 to the
        member's ``SETTLED`` marker (a count that read meanwhile sees it and reads again), so that the member's
        counts are exact at every moment. The delete's condition makes it exactly once, however often a step is
        retried: per member, 1 x Query (strongly consistent) and 1 x TransactWriteItems per 49 items. Stops when
        ``time_left()`` turns false (whether it finished: the rest is settled when the page is read again)."""
        prefix = counts.count_sk(counts.scope_of(parent.parent_id), "")
        for pk in sorted(member_pks):
            failures = 0  # a member may need many transactions: only failed ones count against the tries
            while True:
                if not time_left():
                    return False
                page = self.client.query(
                    TableName=self.table_name,
                    KeyConditionExpression="PK = :pk AND begins_with(SK, :prefix)",
                    ExpressionAttributeValues={":pk": attr_s(pk), ":prefix": attr_s(prefix)},
                    ConsistentRead=True,
                    Limit=49,
                )
                if not page["Items"]:
                    break
                parts: list[dict[str, Any]] = [
                    {"Update": counts.update(self.table_name, (pk, counts.SETTLED_SK), {"n": 1})}
                ]
                for item in page["Items"]:
                    period = item[keys.SK]["S"].removeprefix(prefix)
                    values = {name: -int(v["N"]) for name, v in item.items() if name not in (keys.PK, keys.SK)}
                    key = {keys.PK: item[keys.PK], keys.SK: item[keys.SK]}
                    parts.append({"Delete": self._delete(key, "attribute_exists(PK)")})
                    parts.append(
                        {"Update": counts.update(self.table_name, (pk, counts.count_sk(counts.ALL, period)), values)}
                    )
                try:
                    self.client.transact_write_items(TransactItems=parts)
                except ClientError as error:  # a concurrent step settled some of them, or a conflict: read again
                    if error.response.get("Error", {}).get("Code") != "TransactionCanceledException":
                        raise
                    failures += 1
                    if failures == TRANSACTION_TRIES:
                        raise ServiceUnavailable(f"the counts of {pk} kept conflicting; the step is retried") from error
                    self._sleep(failures)
                    continue
                if "LastEvaluatedKey" not in page:
                    break  # all of them settled (a later write's new items: its events are met again)
        return True

    def delete_keys(self, items: list[Item], max_attempts: int = 8) -> int:
        """Delete items by key: BatchWriteItem in chunks of 25 (the service's limit), retrying
        ``UnprocessedItems`` with exponential backoff. Returns how many were deleted (absent ones count: a
        delete is idempotent). Raises ``ServiceUnavailable`` when items stay unprocessed after the retries."""
        for start in range(0, len(items), 25):
            pending = [{"DeleteRequest": {"Key": key}} for key in items[start : start + 25]]
            for attempt in range(max_attempts):
                result = self.client.batch_write_item(RequestItems={self.table_name: pending})
                pending = result.get("UnprocessedItems", {}).get(self.table_name, [])
                if not pending:
                    break
                self._sleep(attempt)
            else:
                raise ServiceUnavailable(f"{len(pending)} deletes stayed unprocessed after {max_attempts} attempts")
        return len(items)

    def _cascade_key(self, parent: Parent) -> Item:
        return {
            keys.PK: attr_s(keys.cascade_pk(parent.account_id)),
            keys.SK: attr_s(keys.cascade_sk(parent.kind, parent.parent_id)),
        }

    def save_cascade(self, state: CascadeState) -> None:
        """Checkpoint a cascade: 1 x PutItem of its cursor item. The item's stream record starts the next step.

        A PutItem (not an UpdateItem) so that each checkpoint is exactly one stream record.
        """
        parent = state.parent
        item = self._cascade_key(parent) | {
            "entity": attr_s("cascade"),
            "kind": attr_s(parent.kind),
            "account_id": attr_n(parent.account_id),
            "parent_id": attr_n(parent.parent_id),
            "deleted": attr_n(state.deleted),
            "pass_deleted": attr_n(state.pass_deleted),
            "steps": attr_n(state.steps),
            "settled_at": attr_n(round(state.settled_at, 3)),
            "pass_started_at": attr_n(round(state.pass_started_at, 3)),
            "updated_at": attr_s(to_storage(utc_now())),
        }
        if state.position is not None:
            item["position"] = attr_s(json.dumps(state.position, sort_keys=True))
        self.client.put_item(TableName=self.table_name, Item=item)

    def finish_cascade(self, parent: Parent) -> None:
        """1 x DeleteItem of the cursor item (its REMOVE record matches no filter); for a type, then 1 x UpdateItem
        taking it off the account's removals item (its events are all gone: nothing is left to hide)."""
        self.client.delete_item(TableName=self.table_name, Key=self._cascade_key(parent))
        if parent.kind == "event_type":
            self.client.update_item(
                TableName=self.table_name,
                Key=layout.removals_key(parent.account_id),
                UpdateExpression="DELETE type_ids :ids",
                ExpressionAttributeValues={":ids": {"NS": [str(parent.parent_id)]}},
            )

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
        )

"""The base class of the table's stores (``Table``): the reads, writes and counts every access pattern shares, the
id sequences and the read-then-delete every removal shares; and the attribute values of items."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any, ParamSpec, TypeVar

from botocore.exceptions import ClientError

from emma_events import keys, retry, transactions
from emma_events.deadline import DynamoDBClient, new_client
from emma_events.errors import ServiceUnavailable
from emma_events.ids import IdBlocks
from emma_events.transactions import AGAIN, Again, Cancelled, Part

Item = dict[str, dict[str, Any]]
P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")

#: The ``Limit`` of one Query of a listing: a fixed size, never derived from a client's number alone (DynamoDB's
#: ``Limit`` is a 32-bit integer; ``start`` may be up to 2^53 - 1).
QUERY_PAGE_ITEMS = 1000


def attr_s(value: str) -> dict[str, str]:
    return {"S": value}


def attr_n(value: int | float) -> dict[str, str]:
    return {"N": str(value)}


class Table:
    """One DynamoDB table, and the helpers every store of it shares."""

    def __init__(self, table_name: str, client: DynamoDBClient | None = None) -> None:
        self.table_name = table_name
        self.client: DynamoDBClient = client or new_client()
        self._ids = IdBlocks(table_name)

    def _item(self, key: Item) -> Item | None:
        """The item at ``key``, or None. 1 x GetItem, strongly consistent."""
        found: Item | None = self.client.get_item(TableName=self.table_name, Key=key, ConsistentRead=True).get("Item")
        return found

    def _prefix_query(self, account_id: int, prefix: str) -> dict[str, Any]:
        """Items of the account's partition whose sort key begins with ``prefix``, strongly consistent: a type or
        field created just before is listed (a client reads the fields, then writes what they list)."""
        return {
            "TableName": self.table_name,
            "ConsistentRead": True,
            "KeyConditionExpression": "PK = :pk AND begins_with(SK, :prefix)",
            "ExpressionAttributeValues": {":pk": attr_s(keys.account_pk(account_id)), ":prefix": attr_s(prefix)},
        }

    def _query_prefix(
        self, account_id: int, prefix: str, limit: int | None, projection: str | None = None
    ) -> Iterator[Item]:
        kwargs = self._prefix_query(account_id, prefix)
        if projection:
            kwargs["ProjectionExpression"] = projection
        remaining = limit
        while remaining is None or remaining > 0:
            if remaining is not None:
                kwargs["Limit"] = min(remaining, QUERY_PAGE_ITEMS)  # a 32-bit Limit, whatever the client asked
            page = self.client.query(**kwargs)
            yield from page["Items"]
            if remaining is not None:
                remaining -= len(page["Items"])
            if "LastEvaluatedKey" not in page:
                return
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def _delete(self, key: Item, condition: str, values: Item | None = None) -> dict[str, Any]:
        delete: dict[str, Any] = {"TableName": self.table_name, "Key": key, "ConditionExpression": condition}
        if values:
            delete["ExpressionAttributeValues"] = values
        return delete

    def _query_all(self, query: dict[str, Any], each_page: Callable[[list[Item]], None] | None = None) -> list[Item]:
        """Every item a Query matches, page after page (each reads at most 1 MB); ``each_page`` sees each page's
        items before the next is read (it may raise to stop)."""
        query, items = dict(query), []
        while True:
            page = self.client.query(**query)
            if each_page is not None:
                each_page(page["Items"])
            items += page["Items"]
            if "LastEvaluatedKey" not in page:
                return items
            query["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def _count(self, query: dict[str, Any]) -> int:
        """How many items a Query matches: ``Select=COUNT``, page after page (each reads at most 1 MB)."""
        query = query | {"Select": "COUNT"}
        total = 0
        while True:
            page = self.client.query(**query)
            total += page["Count"]
            if "LastEvaluatedKey" not in page:
                return total
            query["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def _put(
        self, item: Item, condition: str = "attribute_not_exists(PK)", values: Item | None = None
    ) -> dict[str, Any]:
        put: dict[str, Any] = {"TableName": self.table_name, "Item": item, "ConditionExpression": condition}
        if values:
            put["ExpressionAttributeValues"] = values
        return put

    def _exists_check(self, key: Item) -> dict[str, Any]:
        return {
            "ConditionCheck": {"TableName": self.table_name, "Key": key, "ConditionExpression": "attribute_exists(PK)"}
        }

    def _batch_get(
        self, wanted: Iterable[Item], projection: dict[str, Any] | None = None
    ) -> dict[tuple[str, str], Item]:
        """Items by (PK, SK), strongly consistent: 1 x BatchGetItem (more only for unprocessed keys). ``projection``:
        ``ProjectionExpression`` and ``ExpressionAttributeNames`` (the key is always read)."""
        unique = {(k[keys.PK]["S"], k[keys.SK]["S"]): k for k in wanted}
        found: dict[tuple[str, str], Item] = {}
        pending = list(unique.values())
        attempt = 0
        while pending:
            page = self.client.batch_get_item(
                RequestItems={self.table_name: {"Keys": pending[:100], "ConsistentRead": True, **(projection or {})}}
            )
            for item in page["Responses"].get(self.table_name, []):
                found[(item[keys.PK]["S"], item[keys.SK]["S"])] = item
            unprocessed = page.get("UnprocessedKeys", {}).get(self.table_name, {}).get("Keys", [])
            pending = unprocessed + pending[100:]
            if unprocessed:
                self._sleep(attempt)
                attempt += 1
        return found

    def _conditionally(self, call: Callable[..., Any], **request: Any) -> dict[str, Any] | None:
        """A write with a ``ConditionExpression`` on this table: its response, or None when the condition failed."""
        try:
            response: dict[str, Any] = call(TableName=self.table_name, **request)
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            return None
        return response

    def _batch_write(self, requests: list[dict[str, Any]], max_attempts: int = 8) -> None:
        """Up to 25 puts or deletes: 1 x BatchWriteItem, ``UnprocessedItems`` written again with backoff;
        ``ServiceUnavailable`` when some stay unprocessed after ``max_attempts``."""
        pending = requests
        for attempt in range(max_attempts):
            result = self.client.batch_write_item(RequestItems={self.table_name: pending})
            pending = result.get("UnprocessedItems", {}).get(self.table_name, [])
            if not pending:
                return
            self._sleep(attempt)
        raise ServiceUnavailable(f"{len(pending)} writes stayed unprocessed after {max_attempts} attempts")

    @staticmethod
    def _sleep(attempt: int) -> None:
        """Wait before reading again what was not there yet, or not processed (20 ms, doubling, up to 1 s)."""
        retry.pause(attempt, 0.02, 1.0)

    def next_id(self, account_id: int, sequence: str, count: int = 1) -> int:
        """Take ``count`` consecutive ids of a per-account sequence; returns the last (ids.IdBlocks)."""
        return self._ids.take(self.client, account_id, sequence, count)

    def write(
        self,
        attempt: Callable[[], tuple[list[Part], T | Again]],
        cancelled: Callable[[Cancelled, T], T | Again],
        what: str,
    ) -> T:
        """The one transaction loop (``transactions.write``) on this table's client."""
        return transactions.write(self.client, attempt, cancelled, what)

    def delete_what_was_read(
        self, key: Item, read: Callable[[], T], transaction: Callable[[T], list[dict[str, Any]]], what: str
    ) -> None:
        """Read an item (``read`` raises ``NotFound`` when it is not there), then delete it and what hangs on it in
        one transaction whose first item is ``key``'s delete, conditioned on what was read; a condition that
        failed because the item changed meanwhile means read again (with backoff). A condition that failed
        because the item is gone since it was read (a concurrent delete, or the resend of this very write whose
        answer was lost: the failed condition's item says which, with no read) is a success: ids are never
        reused, so it is deleted, as asked.
        """

        def attempt() -> tuple[list[Part], None]:
            first, *rest = transaction(read())
            return [Part("target", first), *(Part("hanging", action) for action in rest)], None

        def cancelled(error: Cancelled, _: None) -> Again | None:
            return None if error.gone("target") else AGAIN

        self.write(attempt, cancelled, what)

"""The DynamoDB repository: every access pattern of the API is one named method here.

Each method documents the DynamoDB calls it makes. ``ClientError`` never escapes: conditional-check failures
become domain errors (``NotFound``, ``EventTypeExists``), throttling after the SDK's retries becomes
``ServiceUnavailable``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from functools import lru_cache, wraps
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from emma_events import keys
from emma_events.config import settings
from emma_events.dates import from_storage, to_storage, utc_now
from emma_events.domain import EventType
from emma_events.errors import EventTypeExists, NotFound, ServiceUnavailable

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
else:
    DynamoDBClient = Any

Item = dict[str, dict[str, Any]]
P = ParamSpec("P")
R = TypeVar("R")

#: Standard retry mode (exponential backoff with jitter, throttling-aware), short timeouts: a Lambda behind
#: API Gateway (29 s limit) must fail fast and let the client retry rather than hang on one slow connection.
CLIENT_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 4},
    connect_timeout=2,
    read_timeout=5,
    tcp_keepalive=True,
)
_THROTTLING = {
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
    "InternalServerError",
    "ServiceUnavailable",
}
#: How often a transaction that lost a race (``TransactionConflict``) or saw a stale read is tried again.
_ATTEMPTS = 3


def _translate_errors(method: Callable[P, R]) -> Callable[P, R]:
    """Map the SDK's throttling errors (raised after its own retries) to ``ServiceUnavailable``."""

    @wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return method(*args, **kwargs)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in _THROTTLING:
                raise ServiceUnavailable("The database is busy; retry the request later.") from error
            raise

    return wrapper


def _cancellation_codes(error: ClientError) -> list[str]:
    """The per-item codes of a cancelled transaction, in the order of its items."""
    return [reason.get("Code", "None") for reason in error.response.get("CancellationReasons", [])]


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _n(value: int) -> dict[str, str]:
    return {"N": str(value)}


class Repository:
    """Access patterns of the single table. Every item of an account is keyed by its account id."""

    def __init__(self, table_name: str, client: DynamoDBClient | None = None) -> None:
        self.table_name = table_name
        self.client: DynamoDBClient = client or boto3.client("dynamodb", config=CLIENT_CONFIG)

    # ---- ids -------------------------------------------------------------------------------------------------

    def _next_id(self, account_id: int, sequence: str) -> int:
        """Allocate the next id of a per-account sequence. 1 x UpdateItem (ADD, atomic).

        Ids are never reused: an id taken by a request that later fails is simply skipped.
        """
        result = self.client.update_item(
            TableName=self.table_name,
            Key={keys.PK: _s(keys.account_pk(account_id)), keys.SK: _s(keys.SEQUENCE_SK)},
            UpdateExpression="ADD #seq :one",
            ExpressionAttributeNames={"#seq": sequence},
            ExpressionAttributeValues={":one": _n(1)},
            ReturnValues="UPDATED_NEW",
        )
        return int(result["Attributes"][sequence]["N"])

    # ---- event types -----------------------------------------------------------------------------------------

    @staticmethod
    def _event_type_item(event_type: EventType) -> Item:
        return {
            keys.PK: _s(keys.account_pk(event_type.account_id)),
            keys.SK: _s(keys.event_type_sk(event_type.event_type_id)),
            "entity": _s("event_type"),
            "account_id": _n(event_type.account_id),
            "event_type_id": _n(event_type.event_type_id),
            "event_type": _s(event_type.event_type),
            "display_name": _s(event_type.display_name),
            "created_at": _s(to_storage(event_type.created_at)),
        }

    @staticmethod
    def _event_type_of(item: Item) -> EventType:
        return EventType(
            account_id=int(item["account_id"]["N"]),
            event_type_id=int(item["event_type_id"]["N"]),
            event_type=item["event_type"]["S"],
            display_name=item["display_name"]["S"],
            created_at=from_storage(item["created_at"]["S"]),
        )

    def _name_guard(self, account_id: int, event_type: str) -> Item:
        return {keys.PK: _s(keys.account_pk(account_id)), keys.SK: _s(keys.event_type_name_sk(event_type))}

    def _type_key(self, account_id: int, event_type_id: int) -> Item:
        return {keys.PK: _s(keys.account_pk(account_id)), keys.SK: _s(keys.event_type_sk(event_type_id))}

    @_translate_errors
    def create_event_type(self, account_id: int, event_type: str, display_name: str) -> EventType:
        """Create a type with a fresh id. 1 x UpdateItem (id) + 1 x TransactWriteItems (type + name guard).

        The name guard's ``attribute_not_exists`` condition makes the name unique inside DynamoDB, so two
        concurrent creations of the same name cannot both succeed.
        """
        created = EventType(
            account_id, self._next_id(account_id, keys.EVENT_TYPE_SEQUENCE), event_type, display_name, utc_now()
        )
        guard = self._name_guard(account_id, event_type) | {"event_type_id": _n(created.event_type_id)}
        for attempt in range(_ATTEMPTS):
            try:
                self.client.transact_write_items(
                    TransactItems=[
                        {
                            "Put": {
                                "TableName": self.table_name,
                                "Item": self._event_type_item(created),
                                "ConditionExpression": "attribute_not_exists(PK)",
                            }
                        },
                        {
                            "Put": {
                                "TableName": self.table_name,
                                "Item": guard,
                                "ConditionExpression": "attribute_not_exists(PK)",
                            }
                        },
                    ]
                )
                return created
            except ClientError as error:
                codes = self._cancelled(error)
                if codes[1] == "ConditionalCheckFailed":
                    raise EventTypeExists(_name_taken(event_type)) from error
                self._backoff(attempt, error)
        raise AssertionError("unreachable")  # pragma: no cover

    @_translate_errors
    def list_event_types(self, account_id: int, limit: int | None = None) -> list[EventType]:
        """The account's types ordered by id, at most ``limit``. Query (paginated) on the account partition."""
        return [self._event_type_of(item) for item in self._query_prefix(account_id, keys.EVENT_TYPE_PREFIX, limit)]

    @_translate_errors
    def count_event_types(self, account_id: int) -> int:
        """How many types the account has. Query with ``Select=COUNT`` (paginated)."""
        total = 0
        kwargs = self._prefix_query(account_id, keys.EVENT_TYPE_PREFIX) | {"Select": "COUNT"}
        while True:
            page = self.client.query(**kwargs)
            total += page["Count"]
            if "LastEvaluatedKey" not in page:
                return total
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    @_translate_errors
    def get_event_type(self, account_id: int, event_type_id: int) -> EventType:
        """One type. 1 x GetItem (strongly consistent). ``NotFound`` when the account has no such type."""
        item = self.client.get_item(
            TableName=self.table_name, Key=self._type_key(account_id, event_type_id), ConsistentRead=True
        ).get("Item")
        if item is None:
            raise NotFound(f"Event type {event_type_id} does not exist in account {account_id}.")
        return self._event_type_of(item)

    @_translate_errors
    def rename_event_type(self, account_id: int, event_type_id: int, event_type: str, display_name: str) -> EventType:
        """Change a type's name and display name.

        1 x GetItem (the current name), then either 1 x UpdateItem (same name: only the display name changes) or
        1 x TransactWriteItems (update the type on condition its name is still the one read, delete the old name
        guard, put the new one on condition nobody holds it). A concurrent change makes the read stale: the
        condition fails and the whole sequence is tried again.
        """
        for attempt in range(_ATTEMPTS):
            current = self.get_event_type(account_id, event_type_id)
            renamed = EventType(account_id, event_type_id, event_type, display_name, current.created_at)
            update = {
                "TableName": self.table_name,
                "Key": self._type_key(account_id, event_type_id),
                "UpdateExpression": "SET event_type = :new, display_name = :display",
                "ConditionExpression": "event_type = :old",
                "ExpressionAttributeValues": {
                    ":new": _s(event_type),
                    ":display": _s(display_name),
                    ":old": _s(current.event_type),
                },
            }
            try:
                if current.event_type == event_type:
                    self.client.update_item(**update)
                    return renamed
                self.client.transact_write_items(
                    TransactItems=[
                        {"Update": update},
                        {
                            "Delete": {
                                "TableName": self.table_name,
                                "Key": self._name_guard(account_id, current.event_type),
                                "ConditionExpression": "event_type_id = :id",
                                "ExpressionAttributeValues": {":id": _n(event_type_id)},
                            }
                        },
                        {
                            "Put": {
                                "TableName": self.table_name,
                                "Item": self._name_guard(account_id, event_type) | {"event_type_id": _n(event_type_id)},
                                "ConditionExpression": "attribute_not_exists(PK)",
                            }
                        },
                    ]
                )
                return renamed
            except ClientError as error:
                if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                    continue  # the type changed or vanished since it was read: read it again
                codes = self._cancelled(error)
                if codes[2] == "ConditionalCheckFailed":
                    raise EventTypeExists(_name_taken(event_type)) from error
                self._backoff(attempt, error)
        raise ServiceUnavailable("The event type is being changed concurrently; retry the request.")

    @_translate_errors
    def delete_event_type(self, account_id: int, event_type_id: int) -> None:
        """Delete a type and free its name. 1 x GetItem + 1 x TransactWriteItems (type + name guard).

        The type's events are deleted afterwards by the stream-triggered cascade, not in this request.
        """
        for attempt in range(_ATTEMPTS):
            current = self.get_event_type(account_id, event_type_id)
            try:
                self.client.transact_write_items(
                    TransactItems=[
                        {
                            "Delete": {
                                "TableName": self.table_name,
                                "Key": self._type_key(account_id, event_type_id),
                                "ConditionExpression": "event_type = :name",
                                "ExpressionAttributeValues": {":name": _s(current.event_type)},
                            }
                        },
                        {
                            "Delete": {
                                "TableName": self.table_name,
                                "Key": self._name_guard(account_id, current.event_type),
                                "ConditionExpression": "event_type_id = :id",
                                "ExpressionAttributeValues": {":id": _n(event_type_id)},
                            }
                        },
                    ]
                )
                return
            except ClientError as error:
                self._cancelled(error)
                self._backoff(attempt, error)  # renamed or deleted meanwhile: read it again
        raise ServiceUnavailable("The event type is being changed concurrently; retry the request.")

    # ---- helpers ---------------------------------------------------------------------------------------------

    def _prefix_query(self, account_id: int, prefix: str) -> dict[str, Any]:
        return {
            "TableName": self.table_name,
            "KeyConditionExpression": "PK = :pk AND begins_with(SK, :prefix)",
            "ExpressionAttributeValues": {":pk": _s(keys.account_pk(account_id)), ":prefix": _s(prefix)},
        }

    def _query_prefix(self, account_id: int, prefix: str, limit: int | None) -> Iterator[Item]:
        kwargs = self._prefix_query(account_id, prefix)
        remaining = limit
        while remaining is None or remaining > 0:
            if remaining is not None:
                kwargs["Limit"] = remaining
            page = self.client.query(**kwargs)
            yield from page["Items"]
            if remaining is not None:
                remaining -= len(page["Items"])
            if "LastEvaluatedKey" not in page:
                return
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    @staticmethod
    def _cancelled(error: ClientError) -> list[str]:
        """The cancellation codes of a failed transaction; any other error is re-raised."""
        if error.response["Error"]["Code"] != "TransactionCanceledException":
            raise error
        return _cancellation_codes(error)

    @staticmethod
    def _backoff(attempt: int, error: ClientError) -> None:
        """Wait before trying again a transaction that lost a race; give up after the last attempt."""
        if attempt + 1 >= _ATTEMPTS:
            raise ServiceUnavailable("The event type is being changed concurrently; retry the request.") from error
        time.sleep(0.02 * 2**attempt)


def _name_taken(event_type: str) -> str:
    return f"The account already has an event type named {event_type!r}."


@lru_cache(maxsize=1)
def get_repository() -> Repository:
    """The container's repository, built on first use and kept warm between invocations."""
    return Repository(settings().table_name)

"""The DynamoDB repository: every access pattern of the API is one named method here.

Each method documents the DynamoDB calls it makes. ``ClientError`` never escapes: conditional-check failures
become domain errors (``NotFound``, ``EventTypeExists``), throttling after the SDK's retries becomes
``ServiceUnavailable``.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache, wraps
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

import botocore.session
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionError, HTTPClientError

from emma_events import auth, keys
from emma_events.config import settings
from emma_events.dates import from_storage, to_storage, utc_now
from emma_events.domain import CascadeState, EventType, Member, MemberEvent, NewMemberEvent, Parent
from emma_events.errors import EventTypeExists, IdempotencyKeyReused, NotFound, ServiceUnavailable, ValidationFailed

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
else:
    DynamoDBClient = Any

Item = dict[str, dict[str, Any]]
P = ParamSpec("P")
R = TypeVar("R")

#: Standard retry mode (exponential backoff with jitter, throttling-aware; max_attempts counts retries, so 5
#: attempts in all), short timeouts: a Lambda behind
#: API Gateway (29 s limit) must fail fast and let the client retry rather than hang on one slow connection.
#: TCP keep-alive, and one client per container (``get_repository``), so warm invocations reuse the connection.
CLIENT_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 4},
    connect_timeout=1,
    read_timeout=4,
    tcp_keepalive=True,
)
#: The longest one attempt can take (connect + read): no attempt starts unless it can end before the deadline.
ATTEMPT_WORST_CASE_S = 1 + 4 + 0.5
#: When the invocation must have its answer: the SDK's retries stop before it (``set_deadline``).
_deadline: ContextVar[float | None] = ContextVar("dynamodb_deadline", default=None)


class DeadlineReached(Exception):
    """No DynamoDB attempt can end before the invocation's deadline."""


def set_deadline(seconds_left: float | None) -> None:
    """Bound every DynamoDB call of this invocation by the time it has left (the Lambda context's remaining time):
    retries stop, and the request is answered 503 with ``Retry-After``, before the function would time out (a
    timeout is a 502 from API Gateway, and the SDK alone may retry for ~20 s). None: no bound."""
    _deadline.set(None if seconds_left is None else time.monotonic() + seconds_left)


def _check_deadline(**_: Any) -> None:
    """Before each attempt: refuse it when it could not end before the deadline."""
    deadline = _deadline.get()
    if deadline is not None and time.monotonic() + ATTEMPT_WORST_CASE_S > deadline:
        raise DeadlineReached


def _retry_within_deadline(attempts: int, **_: Any) -> bool | None:
    """Before botocore's retry handler: no retry (False) when its longest backoff (standard mode: up to
    2^(attempts-1) s for throttling) and one more attempt could not end before the deadline; else None, and
    botocore decides."""
    deadline = _deadline.get()
    if deadline is None:
        return None
    longest_backoff = min(2.0 ** (attempts - 1), 20.0)
    return False if time.monotonic() + longest_backoff + ATTEMPT_WORST_CASE_S > deadline else None


_THROTTLING = {
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
    "InternalServerError",
    "ServiceUnavailable",
}
#: How often a transaction that lost a race (``TransactionConflict``) or saw a stale read is tried in all.
#: DynamoDB cancels concurrent transactions on the same item (a ConditionCheck included): a burst of posts for
#: one popular type conflicts, so waits grow exponentially with full jitter (spreading the retries), from
#: ``_BACKOFF_BASE_S`` up to ``_BACKOFF_CAP_S``: at most ~1.5 s in all, well within a function's 10 s.
_ATTEMPTS = 8
_BACKOFF_BASE_S = 0.01
_BACKOFF_CAP_S = 0.5


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
        except (DeadlineReached, ConnectionError, HTTPClientError):  # out of time, or no answer after the retries
            raise ServiceUnavailable("The database did not answer in time; retry the request later.") from None

    return wrapper


def _cancellation_codes(error: ClientError) -> list[str]:
    """The per-item codes of a cancelled transaction, in the order of its items."""
    return [reason.get("Code", "None") for reason in error.response.get("CancellationReasons", [])]


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _n(value: int | float) -> dict[str, str]:
    return {"N": str(value)}


class Repository:
    """Access patterns of the single table. Every item of an account is keyed by its account id."""

    def __init__(self, table_name: str, client: DynamoDBClient | None = None) -> None:
        self.table_name = table_name
        self.client: DynamoDBClient = client or new_client()

    # ---- ids -------------------------------------------------------------------------------------------------

    def _next_id(self, account_id: int, sequence: str, count: int = 1) -> int:
        """Allocate ``count`` ids of a per-account sequence; returns the last. 1 x UpdateItem (ADD, atomic).

        Ids are never reused: an id taken by a request that later fails is simply skipped.
        """
        result = self.client.update_item(
            TableName=self.table_name,
            Key={keys.PK: _s(keys.account_pk(account_id)), keys.SK: _s(keys.SEQUENCE_SK)},
            UpdateExpression="ADD #seq :one",
            ExpressionAttributeNames={"#seq": sequence},
            ExpressionAttributeValues={":one": _n(count)},
            ReturnValues="UPDATED_NEW",
        )
        last = int(result["Attributes"][sequence]["N"])
        if last > keys.MAX_ID:
            raise ServiceUnavailable(f"The account has used every id of {sequence}.")
        return last

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
                codes = self._cancelled(error, 2)
                if "ConditionalCheckFailed" in codes:
                    if self._exists(self._type_key(account_id, created.event_type_id)):
                        return created  # the id is this request's own: an earlier attempt of it was written
                    raise EventTypeExists(_name_taken(event_type)) from error
                self._backoff(attempt, error)
        raise AssertionError("unreachable")  # pragma: no cover

    def _exists(self, key: Item) -> bool:
        """Whether an item exists (1 x GetItem, strongly consistent, keys only). Used after a condition failed on
        an item whose key this request allocated: a resend of a write whose answer was lost (the SDK resends on
        a timeout) finds its own earlier attempt, which is a success, never a conflict or a duplicate."""
        found = self.client.get_item(TableName=self.table_name, Key=key, ConsistentRead=True, ProjectionExpression="PK")
        return "Item" in found

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
            if attempt and (current.event_type, current.display_name) == (event_type, display_name):
                return renamed  # after a failed condition: an earlier attempt of this request was written
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
                    continue  # the type changed or vanished since it was read (or this very write): read it again
                reasons = self._reasons(error, "type", "old_name", "new_name")
                if reasons["type"] == "ConditionalCheckFailed":
                    continue  # likewise; a resend of a written attempt fails here too, and the read finds it done
                if reasons["new_name"] == "ConditionalCheckFailed":
                    raise EventTypeExists(_name_taken(event_type)) from error
                self._backoff(attempt, error)
        raise ServiceUnavailable("The event type is being changed concurrently; retry the request.")

    @_translate_errors
    def delete_event_type(self, account_id: int, event_type_id: int) -> None:
        """Delete a type and free its name. 1 x GetItem + 1 x TransactWriteItems (type, name guard, and the type
        id added to the account's removals item).

        The type's events are deleted afterwards by the stream-triggered cascade, not in this request; until it
        ends, the removals item keeps them out of every listing and count. A condition that fails because the
        type is gone since this request read it (a concurrent delete, or the resend of this request's own write
        whose answer was lost) is a success: the type is deleted, as asked.
        """
        key = self._type_key(account_id, event_type_id)
        for attempt in range(_ATTEMPTS):
            current = self.get_event_type(account_id, event_type_id)
            try:
                self.client.transact_write_items(
                    TransactItems=[
                        {
                            "Delete": {
                                "TableName": self.table_name,
                                "Key": key,
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
                        {  # "being removed" until the cascade has deleted its last event (``finish_cascade``)
                            "Update": {
                                "TableName": self.table_name,
                                "Key": self._removals_key(account_id),
                                "UpdateExpression": "ADD type_ids :ids SET entity = :entity",
                                "ExpressionAttributeValues": {
                                    ":ids": {"NS": [str(event_type_id)]},
                                    ":entity": _s("removals"),
                                },
                            }
                        },
                    ]
                )
                return
            except ClientError as error:
                reasons = self._reasons(error, "type", "name_guard", "removals")
                if reasons["type"] == "ConditionalCheckFailed" and not self._exists(key):
                    return  # gone since this request read it (ids are never reused): deleted, as asked
                self._backoff(attempt, error)  # renamed meanwhile: read it again
        raise ServiceUnavailable("The event type is being changed concurrently; retry the request.")

    # ---- members ---------------------------------------------------------------------------------------------

    def _member_key(self, account_id: int, member_id: int) -> Item:
        return {keys.PK: _s(keys.member_pk(account_id, member_id)), keys.SK: _s(keys.MEMBER_SK)}

    def _email_key(self, account_id: int, email: str) -> Item:
        return {keys.PK: _s(keys.email_pk(account_id, email)), keys.SK: _s(keys.EMAIL_SK)}

    def _member_item(self, member: Member) -> Item:
        return self._member_key(member.account_id, member.member_id) | {
            "entity": _s("member"),
            "account_id": _n(member.account_id),
            "member_id": _n(member.member_id),
            "email": _s(member.email),
            "fields": _s(json.dumps(member.fields, separators=(",", ":"), ensure_ascii=False)),
            "status": _s(member.status),
            "member_since": _s(to_storage(member.member_since)),
        }

    @staticmethod
    def _member_of(item: Item) -> Member:
        return Member(
            account_id=int(item["account_id"]["N"]),
            member_id=int(item["member_id"]["N"]),
            email=item["email"]["S"],
            fields=json.loads(item["fields"]["S"]),
            status=item["status"]["S"],
            member_since=from_storage(item["member_since"]["S"]),
        )

    @_translate_errors
    def add_member(self, account_id: int, email: str, fields: dict[str, Any] | None) -> tuple[Member, bool]:
        """The member with this email (``added`` False), or a new one (``added`` True).

        Existing: 1 x GetItem (email guard) + 1 x GetItem (member). New: 1 x GetItem + 1 x UpdateItem (id) +
        1 x TransactWriteItems (member + guard, both ``attribute_not_exists``). Of two concurrent adds of one
        email, the loser's guard condition fails and it returns the winner's member.
        """
        for attempt in range(_ATTEMPTS):
            existing = self._member_id_by_email(account_id, email)
            if existing is not None:
                try:
                    return self.get_member(account_id, existing), False
                except NotFound:
                    self._sleep(attempt)  # its guard outlived it for a moment (a delete in flight)
                    continue
            member = Member(
                account_id, self._next_id(account_id, keys.MEMBER_SEQUENCE), email, fields or {}, "a", utc_now()
            )
            guard = self._email_key(account_id, email) | {"member_id": _n(member.member_id)}
            try:
                self.client.transact_write_items(
                    TransactItems=[
                        {"Put": self._put(self._member_item(member))},
                        {"Put": self._put(guard)},
                    ]
                )
                return member, True
            except ClientError as error:
                if "ConditionalCheckFailed" not in self._cancelled(error, 2):
                    self._backoff(attempt, error)
                elif self._exists(self._member_key(account_id, member.member_id)):
                    return member, True  # the id is this request's own: an earlier attempt of it was written
                # else: a concurrent add of the same email won; the next round returns its member
        raise ServiceUnavailable("The member is being changed concurrently; retry the request.")

    def _member_id_by_email(self, account_id: int, email: str) -> int | None:
        item = self.client.get_item(
            TableName=self.table_name, Key=self._email_key(account_id, email), ConsistentRead=True
        ).get("Item")
        return int(item["member_id"]["N"]) if item else None

    @_translate_errors
    def get_member(self, account_id: int, member_id: int) -> Member:
        """1 x GetItem (strongly consistent). ``NotFound`` when the account has no such member."""
        item = self.client.get_item(
            TableName=self.table_name, Key=self._member_key(account_id, member_id), ConsistentRead=True
        ).get("Item")
        if item is None:
            raise NotFound(f"Member {member_id} does not exist in account {account_id}.")
        return self._member_of(item)

    @_translate_errors
    def get_member_by_email(self, account_id: int, email: str) -> Member:
        """1 x GetItem (email guard) + 1 x GetItem (member)."""
        member_id = self._member_id_by_email(account_id, email)
        if member_id is None:
            raise NotFound(f"No member with email {email!r} in account {account_id}.")
        return self.get_member(account_id, member_id)

    @_translate_errors
    def delete_member(self, account_id: int, member_id: int) -> None:
        """Delete a member and free its email. 1 x GetItem + 1 x TransactWriteItems (member + email guard).

        The member's events are deleted afterwards by the stream-triggered cascade, not in this request. A member
        gone since this request read it (a concurrent delete, or a resend of this very write) is a success.
        """
        key = self._member_key(account_id, member_id)
        for attempt in range(_ATTEMPTS):
            member = self.get_member(account_id, member_id)
            try:
                self.client.transact_write_items(
                    TransactItems=[
                        {
                            "Delete": {
                                "TableName": self.table_name,
                                "Key": key,
                                "ConditionExpression": "attribute_exists(PK)",
                            }
                        },
                        {
                            "Delete": {
                                "TableName": self.table_name,
                                "Key": self._email_key(account_id, member.email),
                                "ConditionExpression": "member_id = :id",
                                "ExpressionAttributeValues": {":id": _n(member_id)},
                            }
                        },
                    ]
                )
                return
            except ClientError as error:
                reasons = self._reasons(error, "member", "email_guard")
                if reasons["member"] == "ConditionalCheckFailed" and not self._exists(key):
                    return  # gone since this request read it (ids are never reused): deleted, as asked
                self._backoff(attempt, error)
        raise ServiceUnavailable("The member is being changed concurrently; retry the request.")

    # ---- member events ---------------------------------------------------------------------------------------

    def _event_key(self, event: MemberEvent) -> Item:
        return {
            keys.PK: _s(keys.member_pk(event.account_id, event.member_id)),
            keys.SK: _s(event_sort_key(event)),
        }

    def _event_item(self, event: MemberEvent) -> Item:
        item: Item = self._event_key(event) | {
            keys.TYPE_INDEX_PK: _s(keys.type_index_pk(event.account_id, event.event_type_id)),
            keys.TYPE_INDEX_SK: _s(keys.type_index_sk(event.member_id, event.event_id)),
            "entity": _s("member_event"),
            "account_id": _n(event.account_id),
            "event_id": _n(event.event_id),
            "member_id": _n(event.member_id),
            "event_type_id": _n(event.event_type_id),
            "event_timestamp": _s(to_storage(event.event_timestamp)),
            "inserted_at": _s(to_storage(event.inserted_at)),
        }
        if event.event_monetary_value is not None:
            item["event_monetary_value"] = {"N": repr(event.event_monetary_value)}
        if event.mailing_id is not None:
            item["mailing_id"] = _n(event.mailing_id)
        if event.attributes is not None:
            item["attributes"] = _s(json.dumps(event.attributes, separators=(",", ":"), ensure_ascii=False))
        return item

    @staticmethod
    def _event_of(item: Item) -> MemberEvent:
        return MemberEvent(
            account_id=int(item["account_id"]["N"]),
            event_id=int(item["event_id"]["N"]),
            member_id=int(item["member_id"]["N"]),
            event_type_id=int(item["event_type_id"]["N"]),
            event_timestamp=from_storage(item["event_timestamp"]["S"]),
            inserted_at=from_storage(item["inserted_at"]["S"]),
            event_monetary_value=_number(item["event_monetary_value"]["N"]) if "event_monetary_value" in item else None,
            mailing_id=int(item["mailing_id"]["N"]) if "mailing_id" in item else None,
            attributes=json.loads(item["attributes"]["S"]) if "attributes" in item else None,
        )

    @_translate_errors
    def create_member_events(
        self, account_id: int, events: list[NewMemberEvent], idempotency: Idempotency | None = None
    ) -> list[MemberEvent]:
        """Record up to 10 events, all or none.

        By ids: 1 x UpdateItem (event ids) + 1 x TransactWriteItems. By email or type name: + 1 x BatchGetItem
        (the email and name guards) first. The transaction holds a ``ConditionCheck`` that each member and type
        still exists, so an event is never stored for a member or type deleted at the same moment, and, with an
        ``Idempotency-Key``, a ``Put`` of the idempotency record: a retry fails that condition and is answered
        from the record (+1 x GetItem).
        """
        first = 0
        for attempt in range(_ATTEMPTS):
            resolved = self._resolve_references(account_id, events)
            if not first:  # one range of ids, kept across retries: a cancelled transaction wrote none of them
                first = self._next_id(account_id, keys.EVENT_SEQUENCE, len(events)) - len(events) + 1
            now = utc_now()
            created = [
                MemberEvent(
                    account_id=account_id,
                    event_id=first + index,
                    member_id=member_id,
                    event_type_id=event_type_id,
                    event_timestamp=new.event_timestamp or now,
                    inserted_at=now,
                    event_monetary_value=new.event_monetary_value,
                    mailing_id=new.mailing_id,
                    attributes=new.attributes,
                )
                for index, (new, (member_id, event_type_id)) in enumerate(zip(events, resolved, strict=True))
            ]
            member_ids = sorted({m for m, _ in resolved})
            type_ids = sorted({t for _, t in resolved})
            checks = [self._exists_check(self._member_key(account_id, m)) for m in member_ids]
            checks += [self._exists_check(self._type_key(account_id, t)) for t in type_ids]
            puts = [{"Put": self._put(self._event_item(event))} for event in created]
            record = [{"Put": self._idempotency_put(account_id, idempotency, created, now)}] if idempotency else []
            items = checks + puts + record
            try:
                self.client.transact_write_items(TransactItems=items)
                return created
            except ClientError as error:
                codes, failure = self._cancelled(error, len(items)), error
            if idempotency is not None and codes[-1] == "ConditionalCheckFailed":
                replay = self._replay(account_id, idempotency, now)
                if replay is not None:
                    return replay
                continue  # the record expired between the two calls: write anew
            event_codes = codes[len(checks) : len(checks) + len(puts)]
            if "ConditionalCheckFailed" in event_codes and self._exists(self._event_key(created[0])):
                return created  # the ids are this request's own: an earlier attempt of it was written
            failed_members = {m for m, code in zip(member_ids, codes, strict=False) if code == "ConditionalCheckFailed"}
            failed_types = {
                t
                for t, code in zip(type_ids, codes[len(member_ids) :], strict=False)
                if code == "ConditionalCheckFailed"
            }
            if failed_members or failed_types:
                raise self._gone(events, resolved, failed_members, failed_types, account_id)
            self._backoff(attempt, failure)
        raise ServiceUnavailable("The events conflicted with concurrent changes; retry the request.")

    def _resolve_references(self, account_id: int, events: list[NewMemberEvent]) -> list[tuple[int, int]]:
        """(member_id, event_type_id) of each event, reading the email and name guards in one BatchGetItem.

        Raises ``ValidationFailed`` naming every event and field that is missing, unknown or contradictory.
        """
        wanted = [self._email_key(account_id, e.email) for e in events if e.email]
        wanted += [self._name_guard(account_id, e.event_type) for e in events if e.event_type]
        # When a lookup is needed anyway, the same BatchGetItem checks the ids too, so that one 400 lists every
        # unknown member and type. Without lookups, the transaction's ConditionChecks report them all.
        check_ids = bool(wanted)
        if check_ids:
            wanted += [self._member_key(account_id, e.member_id) for e in events if e.member_id]
            wanted += [self._type_key(account_id, e.event_type_id) for e in events if e.event_type_id]
        found = self._batch_get(wanted)
        errors: list[dict[str, Any]] = []
        resolved: list[tuple[int, int]] = []
        for index, event in enumerate(events):
            if check_ids:
                errors += self._unknown_ids(account_id, index, event, found)
            member_id = event.member_id
            if event.email is not None:
                guard = found.get((keys.email_pk(account_id, event.email), keys.EMAIL_SK))
                by_email = int(guard["member_id"]["N"]) if guard else None
                if by_email is None:
                    errors.append(
                        _field_error(index, "email", f"no member with email {event.email!r}", "unknown_member")
                    )
                elif member_id is not None and member_id != by_email:
                    message = f"member {member_id} does not have email {event.email!r}"
                    errors.append(_field_error(index, "member_id", message, "member_mismatch"))
                member_id = by_email if member_id is None else member_id
            elif member_id is None:
                errors.append(_field_error(index, "member_id", "member_id or email is required", "missing"))
            event_type_id = event.event_type_id
            if event.event_type is not None:
                guard = found.get((keys.account_pk(account_id), keys.event_type_name_sk(event.event_type)))
                by_name = int(guard["event_type_id"]["N"]) if guard else None
                if by_name is None:
                    message = f"no event type named {event.event_type!r}"
                    errors.append(_field_error(index, "event_type", message, "unknown_event_type"))
                elif event_type_id is not None and event_type_id != by_name:
                    message = f"event type {event_type_id} is not named {event.event_type!r}"
                    errors.append(_field_error(index, "event_type_id", message, "event_type_mismatch"))
                event_type_id = by_name if event_type_id is None else event_type_id
            elif event_type_id is None:
                errors.append(
                    _field_error(index, "event_type_id", "event_type_id or event_type is required", "missing")
                )
            resolved.append((member_id or 0, event_type_id or 0))
        if errors:
            raise _invalid_events(errors, len(events))
        return resolved

    @staticmethod
    def _unknown_ids(
        account_id: int, index: int, event: NewMemberEvent, found: dict[tuple[str, str], Item]
    ) -> list[dict[str, Any]]:
        errors = []
        if event.member_id and (keys.member_pk(account_id, event.member_id), keys.MEMBER_SK) not in found:
            message = f"no member {event.member_id} in account {account_id}"
            errors.append(_field_error(index, "member_id", message, "unknown_member"))
        if event.event_type_id and (keys.account_pk(account_id), keys.event_type_sk(event.event_type_id)) not in found:
            message = f"no event type {event.event_type_id} in account {account_id}"
            errors.append(_field_error(index, "event_type_id", message, "unknown_event_type"))
        return errors

    @staticmethod
    def _gone(
        events: list[NewMemberEvent],
        resolved: list[tuple[int, int]],
        members: set[int],
        types: set[int],
        account_id: int,
    ) -> ValidationFailed:
        """The error for events whose member or type did not exist when the transaction ran."""
        errors = []
        for index, (event, (member_id, event_type_id)) in enumerate(zip(events, resolved, strict=True)):
            if member_id in members:
                field = "member_id" if event.member_id is not None else "email"
                errors.append(
                    _field_error(index, field, f"no member {member_id} in account {account_id}", "unknown_member")
                )
            if event_type_id in types:
                field = "event_type_id" if event.event_type_id is not None else "event_type"
                message = f"no event type {event_type_id} in account {account_id}"
                errors.append(_field_error(index, field, message, "unknown_event_type"))
        return _invalid_events(errors, len(events))

    def _idempotency_put(
        self, account_id: int, idempotency: Idempotency, created: list[MemberEvent], now: datetime
    ) -> dict[str, Any]:
        # The created events as a list of maps, each the event's own item: ``attributes`` stays the one JSON string
        # it is in the event item (a JSON document of the items would escape it a second time, and 10 events of
        # quote-heavy attributes would outgrow DynamoDB's 400 KB item). At the limits, 10 x 32 KB of attributes
        # plus ~0.3 KB per event: ~330 KB.
        stored = [{"M": self._event_item(event)} for event in created]
        return self._put(
            {
                keys.PK: _s(keys.idempotency_pk(account_id)),
                keys.SK: _s(idempotency.key),
                "entity": _s("idempotency"),
                "request_hash": _s(idempotency.request_hash),
                "events": {"L": stored},
                "expires_at": _n(int(now.timestamp()) + IDEMPOTENCY_TTL_SECONDS),
            },
            condition="attribute_not_exists(PK) OR expires_at < :now",
            values={":now": _n(int(now.timestamp()))},
        )

    def _replay(self, account_id: int, idempotency: Idempotency, now: datetime) -> list[MemberEvent] | None:
        """The events recorded under this key, or None when its record has expired."""
        item = self.client.get_item(
            TableName=self.table_name,
            Key={keys.PK: _s(keys.idempotency_pk(account_id)), keys.SK: _s(idempotency.key)},
            ConsistentRead=True,
        ).get("Item")
        if item is None or int(item["expires_at"]["N"]) < int(now.timestamp()):
            return None
        if item["request_hash"]["S"] != idempotency.request_hash:
            raise IdempotencyKeyReused(
                "This Idempotency-Key was used in the last 24 hours for a request with another body."
            )
        if "S" in item["events"]:  # a record written before events were stored as a list of maps
            return [self._event_of(stored) for stored in json.loads(item["events"]["S"])]
        return [self._event_of(stored["M"]) for stored in item["events"]["L"]]

    @_translate_errors
    def member_events_page(
        self, account_id: int, member_id: int, filters: EventFilter, *, offset: int, limit: int, after: str | None
    ) -> EventPage:
        """A page of a member's events, sorted by timestamp then id.

        1 x GetItem (the member exists, else ``NotFound``) + Query on the member's partition with the time range
        as key condition, from the start or, with ``after`` (a cursor), after that key: the cost of a page does
        not depend on its depth. Reads ``limit + 1`` matching events, so a page that ends exactly at the last
        event links to nothing (DynamoDB returns a ``LastEvaluatedKey`` whenever it stops at ``Limit``, even with
        nothing after it); Emma's ``start`` skips ``offset`` matching events first. ``Limit`` applies before the
        type filter, so reads go on until enough events match, at most ``QUERY_PAGES_PER_CALL`` Queries for a
        cursor page: then the page may be short (even empty) and links on from where the reads stopped, so a
        walk always reaches every matching event. Every ``Limit`` is at most ``QUERY_PAGE_ITEMS``.
        """
        removing = self._member_and_removals(account_id, member_id)
        if filters.event_type_id in removing:
            return EventPage([], None)
        query = self._events_query(account_id, member_id, filters, removing)
        if after is not None:
            query["ExclusiveStartKey"] = {keys.PK: query["ExpressionAttributeValues"][":pk"], keys.SK: _s(after)}
        to_skip, wanted = offset, limit + 1
        items: list[Item] = []
        reads = 0
        while True:
            query["Limit"] = min(QUERY_PAGE_ITEMS, to_skip + wanted - len(items))
            page = self.client.query(**query)
            reads += 1
            found = page["Items"]
            skipped = min(to_skip, len(found))
            to_skip -= skipped
            items += found[skipped:]
            resume = page.get("LastEvaluatedKey")
            if resume is None or len(items) >= wanted:
                break
            if after is not None and reads >= QUERY_PAGES_PER_CALL:
                # Enough reading for one call: the rest comes with the next page, from where this one stopped.
                events = [self._event_of(item) for item in items]
                return EventPage(events, resume[keys.SK]["S"])
            query["ExclusiveStartKey"] = resume
        events = [self._event_of(item) for item in items[:limit]]
        more = len(items) > limit
        next_after = event_sort_key(events[-1]) if more else None
        return EventPage(events, next_after)

    @_translate_errors
    def count_member_events(self, account_id: int, member_id: int, filters: EventFilter) -> int:
        """1 x BatchGetItem (the member exists; the types being removed) + Query ``Select=COUNT`` (paginated)."""
        removing = self._member_and_removals(account_id, member_id)
        if filters.event_type_id in removing:
            return 0
        query = self._events_query(account_id, member_id, filters, removing) | {"Select": "COUNT"}
        total = 0
        while True:
            page = self.client.query(**query)
            total += page["Count"]
            if "LastEvaluatedKey" not in page:
                return total
            query["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def _events_query(
        self, account_id: int, member_id: int, filters: EventFilter, removing: list[int]
    ) -> dict[str, Any]:
        """The Query of a member's events in the time range, leaving out the types being removed: their events
        are still stored until the cascade deletes them, but a deleted type's events are gone for the client."""
        low = keys.EVENT_PREFIX + (to_storage(filters.since) if filters.since else "")
        high = keys.EVENT_PREFIX + (to_storage(filters.until) + "#~" if filters.until else "~")
        query: dict[str, Any] = {
            "TableName": self.table_name,
            "KeyConditionExpression": "PK = :pk AND SK BETWEEN :low AND :high",
            "ExpressionAttributeValues": {
                ":pk": _s(keys.member_pk(account_id, member_id)),
                ":low": _s(low),
                ":high": _s(high),
            },
            "ScanIndexForward": not filters.descending,
        }
        conditions = []
        if filters.event_type_id is not None:
            conditions.append("event_type_id = :type")
            query["ExpressionAttributeValues"][":type"] = _n(filters.event_type_id)
        elif removing:
            # One comparison per type being removed (the item is emptied as cascades end, so the list stays as
            # short as the deletes in flight); IN takes at most 100 operands, hence groups of 100.
            for group in range(0, len(removing), 100):
                names = [f":gone{index}" for index in range(group, min(group + 100, len(removing)))]
                conditions.append(f"NOT (event_type_id IN ({', '.join(names)}))")
                for name, type_id in zip(names, removing[group : group + 100], strict=True):
                    query["ExpressionAttributeValues"][name] = _n(type_id)
        if conditions:
            query["FilterExpression"] = " AND ".join(conditions)
        return query

    # ---- cascade delete -------------------------------------------------------------------------------------

    def parent_event_keys(
        self, parent: Parent, position: dict[str, Any] | None, limit: int
    ) -> tuple[list[Item], dict[str, Any] | None]:
        """Up to ``limit`` keys of the parent's events after ``position``, and where the next read starts.

        1 x Query, keys only: a type's events through the keys-only ``ByType`` index; a member's events in the
        member's own partition (strongly consistent, ``ProjectionExpression`` of the keys).
        """
        if parent.kind == "event_type":
            query: dict[str, Any] = {
                "TableName": self.table_name,
                "IndexName": keys.TYPE_INDEX,
                "KeyConditionExpression": "GSI1PK = :pk",
                "ExpressionAttributeValues": {":pk": _s(keys.type_index_pk(parent.account_id, parent.parent_id))},
                "ProjectionExpression": "PK, SK",  # only the table keys: half the payload of the index entry
            }
        else:
            query = {
                "TableName": self.table_name,
                "KeyConditionExpression": "PK = :pk AND begins_with(SK, :events)",
                "ExpressionAttributeValues": {
                    ":pk": _s(keys.member_pk(parent.account_id, parent.parent_id)),
                    ":events": _s(keys.EVENT_PREFIX),
                },
                "ProjectionExpression": "PK, SK",
                "ConsistentRead": True,
            }
        query["Limit"] = limit
        if position:
            query["ExclusiveStartKey"] = position
        page = self.client.query(**query)
        found = [{keys.PK: item[keys.PK], keys.SK: item[keys.SK]} for item in page["Items"]]
        return found, page.get("LastEvaluatedKey")

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
            keys.PK: _s(keys.cascade_pk(parent.account_id)),
            keys.SK: _s(keys.cascade_sk(parent.kind, parent.parent_id)),
        }

    def save_cascade(self, state: CascadeState) -> None:
        """Checkpoint a cascade: 1 x PutItem of its cursor item. The item's stream record starts the next step.

        A PutItem (not an UpdateItem) so that each checkpoint is exactly one stream record.
        """
        parent = state.parent
        item = self._cascade_key(parent) | {
            "entity": _s("cascade"),
            "kind": _s(parent.kind),
            "account_id": _n(parent.account_id),
            "parent_id": _n(parent.parent_id),
            "deleted": _n(state.deleted),
            "pass_deleted": _n(state.pass_deleted),
            "steps": _n(state.steps),
            "settled_at": _n(round(state.settled_at, 3)),
            "pass_started_at": _n(round(state.pass_started_at, 3)),
            "updated_at": _s(to_storage(utc_now())),
        }
        if state.position is not None:
            item["position"] = _s(json.dumps(state.position, sort_keys=True))
        self.client.put_item(TableName=self.table_name, Item=item)

    def finish_cascade(self, parent: Parent) -> None:
        """1 x DeleteItem of the cursor item (its REMOVE record matches no filter); for a type, then 1 x UpdateItem
        taking it off the account's removals item (its events are all gone: nothing is left to hide)."""
        self.client.delete_item(TableName=self.table_name, Key=self._cascade_key(parent))
        if parent.kind == "event_type":
            self.client.update_item(
                TableName=self.table_name,
                Key=self._removals_key(parent.account_id),
                UpdateExpression="DELETE type_ids :ids",
                ExpressionAttributeValues={":ids": {"NS": [str(parent.parent_id)]}},
            )

    def _removals_key(self, account_id: int) -> Item:
        return {keys.PK: _s(keys.account_pk(account_id)), keys.SK: _s(keys.REMOVALS_SK)}

    def _member_and_removals(self, account_id: int, member_id: int) -> list[int]:
        """The ids of the account's types being removed, checking the member exists (else ``NotFound``), in one
        round trip: 1 x BatchGetItem, strongly consistent."""
        member, removals = self._member_key(account_id, member_id), self._removals_key(account_id)
        found = self._batch_get([member, removals])
        if (member[keys.PK]["S"], member[keys.SK]["S"]) not in found:
            raise NotFound(f"Member {member_id} does not exist in account {account_id}.")
        item = found.get((removals[keys.PK]["S"], removals[keys.SK]["S"]), {})
        return sorted(int(n) for n in item.get("type_ids", {}).get("NS", []))

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
            float(image.get("settled_at", {"N": "0"})["N"]),
            float(image.get("pass_started_at", {"N": "0"})["N"]),
        )

    # ---- API keys -------------------------------------------------------------------------------------------

    @_translate_errors
    def create_api_key(
        self, account_id: int, usage_key: str | None = None, credentials: auth.Credentials | None = None
    ) -> auth.Credentials:
        """A new key pair for the account (or the given one); only the private key's salted digest is stored.

        1 x TransactWriteItems: the key item (by public key) and its reference in the account's partition.
        """
        credentials = credentials or auth.new_credentials()
        salt = auth.new_salt()
        created = _s(to_storage(utc_now()))
        key_item: Item = {
            keys.PK: _s(keys.api_key_pk(credentials.public_key)),
            keys.SK: _s(keys.API_KEY_SK),
            "entity": _s("api_key"),
            "account_id": _n(account_id),
            "public_key": _s(credentials.public_key),
            "salt": _s(salt),
            "digest": _s(auth.digest(salt, credentials.private_key)),
            "revoked": {"BOOL": False},
            "created_at": created,
        }
        if usage_key:
            key_item["usage_key"] = _s(usage_key)
        reference: Item = {
            keys.PK: _s(keys.account_pk(account_id)),
            keys.SK: _s(keys.api_key_ref_sk(credentials.public_key)),
            "entity": _s("api_key_ref"),
            "public_key": _s(credentials.public_key),
            "revoked": {"BOOL": False},
            "created_at": created,
        }
        self.client.transact_write_items(TransactItems=[{"Put": self._put(key_item)}, {"Put": self._put(reference)}])
        return credentials

    @_translate_errors
    def list_api_keys(self, account_id: int) -> list[dict[str, Any]]:
        """The account's keys (public key, created_at, revoked). Query on the account partition."""
        return [
            {
                "public_key": item["public_key"]["S"],
                "created_at": item["created_at"]["S"],
                "revoked": item["revoked"]["BOOL"],
            }
            for item in self._query_prefix(account_id, keys.API_KEY_REF_PREFIX, None)
        ]

    @_translate_errors
    def revoke_api_key(self, account_id: int, public_key: str) -> None:
        """Mark a key revoked. 1 x TransactWriteItems (the key, on condition it is the account's, and its
        reference). ``NotFound`` when the account has no such key."""
        revoke = "SET revoked = :true"
        try:
            self.client.transact_write_items(
                TransactItems=[
                    {
                        "Update": {
                            "TableName": self.table_name,
                            "Key": {keys.PK: _s(keys.api_key_pk(public_key)), keys.SK: _s(keys.API_KEY_SK)},
                            "UpdateExpression": revoke,
                            "ConditionExpression": "account_id = :account",
                            "ExpressionAttributeValues": {":true": {"BOOL": True}, ":account": _n(account_id)},
                        }
                    },
                    {
                        "Update": {
                            "TableName": self.table_name,
                            "Key": {
                                keys.PK: _s(keys.account_pk(account_id)),
                                keys.SK: _s(keys.api_key_ref_sk(public_key)),
                            },
                            "UpdateExpression": revoke,
                            "ConditionExpression": "attribute_exists(PK)",
                            "ExpressionAttributeValues": {":true": {"BOOL": True}},
                        }
                    },
                ]
            )
        except ClientError as error:
            self._cancelled(error, 2)
            raise NotFound(f"Account {account_id} has no key {public_key!r}.") from error

    @_translate_errors
    def find_api_key(self, public_key: str) -> auth.StoredKey | None:
        """The stored key for a public key. 1 x GetItem (strongly consistent, so a revocation counts at once)."""
        item = self.client.get_item(
            TableName=self.table_name,
            Key={keys.PK: _s(keys.api_key_pk(public_key)), keys.SK: _s(keys.API_KEY_SK)},
            ConsistentRead=True,
        ).get("Item")
        if item is None:
            return None
        return auth.StoredKey(
            account_id=int(item["account_id"]["N"]),
            public_key=item["public_key"]["S"],
            salt=item["salt"]["S"],
            digest=item["digest"]["S"],
            revoked=item["revoked"]["BOOL"],
            created_at=item["created_at"]["S"],
            usage_key=item["usage_key"]["S"] if "usage_key" in item else None,
        )

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
                kwargs["Limit"] = min(remaining, QUERY_PAGE_ITEMS)  # a 32-bit Limit, whatever the client asked
            page = self.client.query(**kwargs)
            yield from page["Items"]
            if remaining is not None:
                remaining -= len(page["Items"])
            if "LastEvaluatedKey" not in page:
                return
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

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

    def _batch_get(self, wanted: Iterable[Item]) -> dict[tuple[str, str], Item]:
        """Items by (PK, SK), strongly consistent: 1 x BatchGetItem (more only for unprocessed keys)."""
        unique = {(k[keys.PK]["S"], k[keys.SK]["S"]): k for k in wanted}
        found: dict[tuple[str, str], Item] = {}
        pending = list(unique.values())
        attempt = 0
        while pending:
            page = self.client.batch_get_item(
                RequestItems={self.table_name: {"Keys": pending[:100], "ConsistentRead": True}}
            )
            for item in page["Responses"].get(self.table_name, []):
                found[(item[keys.PK]["S"], item[keys.SK]["S"])] = item
            unprocessed = page.get("UnprocessedKeys", {}).get(self.table_name, {}).get("Keys", [])
            pending = unprocessed + pending[100:]
            if unprocessed:
                self._sleep(attempt)
                attempt += 1
        return found

    @staticmethod
    def _sleep(attempt: int) -> None:
        time.sleep(min(0.02 * 2**attempt, 1.0))

    @staticmethod
    def _cancelled(error: ClientError, size: int = 0) -> list[str]:
        """The cancellation codes of a failed transaction of ``size`` items (padded with "None" should the
        service omit any); any other error is re-raised."""
        if error.response["Error"]["Code"] != "TransactionCanceledException":
            raise error
        codes = _cancellation_codes(error)
        return codes + ["None"] * (size - len(codes))

    @classmethod
    def _reasons(cls, error: ClientError, *items: str) -> dict[str, str]:
        """The cancellation code of each item of a failed transaction, by the names given to its items in order
        (so that the error mapping reads by name, not by position); any other error is re-raised."""
        return dict(zip(items, cls._cancelled(error, len(items)), strict=False))

    @staticmethod
    def _backoff(attempt: int, error: ClientError) -> None:
        """Wait before trying again a transaction that lost a race; give up after the last attempt."""
        if attempt + 1 >= _ATTEMPTS:
            raise ServiceUnavailable("The data is being changed concurrently; retry the request.") from error
        time.sleep(random.uniform(0, min(_BACKOFF_CAP_S, _BACKOFF_BASE_S * 2**attempt)))  # noqa: S311 - jitter


@dataclass(frozen=True, slots=True)
class Idempotency:
    """A client's ``Idempotency-Key`` and the fingerprint of the request body it was sent with."""

    key: str
    request_hash: str


#: How long an idempotency record answers retries.
IDEMPOTENCY_TTL_SECONDS = 24 * 3600


@dataclass(frozen=True, slots=True)
class EventFilter:
    """Which of a member's events a listing returns, and in which order."""

    event_type_id: int | None = None
    since: datetime | None = None
    until: datetime | None = None
    descending: bool = False


#: The ``Limit`` of one Query of a listing: a fixed size, never derived from a client's number alone (DynamoDB's
#: ``Limit`` is a 32-bit integer; ``start`` may be up to 2^53 - 1).
QUERY_PAGE_ITEMS = 1000
#: How many Queries one cursor page may make while a type filter finds too few events (each reads at most 1 MB).
QUERY_PAGES_PER_CALL = 8


@dataclass(frozen=True, slots=True)
class EventPage:
    events: list[MemberEvent]
    #: The sort key of the last event returned when more may follow (the next page's cursor), else None.
    next_after: str | None


def _field_error(index: int, field: str, message: str, kind: str) -> dict[str, Any]:
    loc = ["body", "events", index, field]
    return {"field": ".".join(str(p) for p in loc), "loc": loc, "message": message, "type": kind}


def event_sort_key(event: MemberEvent) -> str:
    """The sort key of an event in its member's partition, which is also where a cursor continues after it."""
    return keys.event_sk(to_storage(event.event_timestamp), event.event_id)


def _number(text: str) -> int | float:
    """A stored DynamoDB number back as the JSON number the client sent (19.99 stays 19.99, 20 stays 20)."""
    return float(text) if any(c in text for c in ".eE") else int(text)


def _invalid_events(errors: list[dict[str, Any]], total: int) -> ValidationFailed:
    indexes = sorted({e["loc"][2] for e in errors})
    return ValidationFailed(
        f"{len(indexes)} of {total} events are invalid (indexes {', '.join(map(str, indexes))}); nothing was written.",
        errors=errors,
    )


def _name_taken(event_type: str) -> str:
    return f"The account already has an event type named {event_type!r}."


def new_client() -> DynamoDBClient:
    """A DynamoDB client from botocore itself: boto3 would add ~25 ms of imports (s3transfer, resources) at every
    cold start for nothing, since only the low-level client is used (README, Performance)."""
    client: DynamoDBClient = botocore.session.get_session().create_client("dynamodb", config=CLIENT_CONFIG)
    client.meta.events.register("before-send.dynamodb.*", _check_deadline)  # every attempt, retries included
    client.meta.events.register_first("needs-retry.dynamodb.*", _retry_within_deadline)
    return client


@lru_cache(maxsize=1)
def get_repository() -> Repository:
    """The container's repository, built on first use and kept warm between invocations."""
    return Repository(settings().table_name)

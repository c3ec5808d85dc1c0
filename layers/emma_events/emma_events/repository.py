"""The DynamoDB repository: every access pattern of the API is one named method here.

Each method documents the DynamoDB calls it makes. ``ClientError`` never escapes a method the API functions call
(``translate_errors``): conditional-check failures become domain errors (``NotFound``, ``EventTypeExists``),
throttling after the SDK's retries becomes ``ServiceUnavailable``. The stream consumers' stores
(``cascade_store``) let it escape on purpose: a failed record is retried by its event source mapping.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import datetime
from functools import lru_cache
from typing import Any, TypeVar

from botocore.exceptions import ClientError

from emma_events import keys, layout
from emma_events.api_key_store import ApiKeyStore
from emma_events.cascade_store import CascadeStore
from emma_events.config import settings
from emma_events.dates import to_storage, utc_now
from emma_events.domain import (
    IDEMPOTENCY_TTL_SECONDS,
    EventFilter,
    EventPage,
    EventType,
    Idempotency,
    Member,
    MemberEvent,
    NewMemberEvent,
)
from emma_events.dynamo import (
    ATTEMPTS,
    QUERY_PAGE_ITEMS,
    DeadlineReached,
    Item,
    attr_n,
    attr_s,
    set_deadline,
    translate_errors,
)
from emma_events.errors import (
    EventProblem,
    EventTypeExists,
    IdempotencyKeyReused,
    InvalidEvents,
    NotFound,
    ServiceUnavailable,
    invalid_cursor,
)
from emma_events.layout import event_sort_key

T = TypeVar("T")

# The names callers and tests import from here.
__all__ = [
    "DeadlineReached",
    "EventFilter",
    "Idempotency",
    "Item",
    "Repository",
    "event_sort_key",
    "get_repository",
    "set_deadline",
]


class Repository(ApiKeyStore, CascadeStore):
    """Access patterns of the single table. Every item of an account is keyed by its account id. Event types,
    members and member events live here (one transaction spans them); API keys, the cascade's progress and the
    DynamoDB plumbing have modules of their own (``api_key_store``, ``cascade_store``, ``dynamo``).
    """

    # ---- ids -------------------------------------------------------------------------------------------------

    def _next_id(self, account_id: int, sequence: str, count: int = 1) -> int:
        """Allocate ``count`` ids of a per-account sequence; returns the last. 1 x UpdateItem (ADD, atomic).

        Ids are never reused: an id taken by a request that later fails is simply skipped.
        """
        result = self.client.update_item(
            TableName=self.table_name,
            Key={keys.PK: attr_s(keys.account_pk(account_id)), keys.SK: attr_s(keys.SEQUENCE_SK)},
            UpdateExpression="ADD #seq :one",
            ExpressionAttributeNames={"#seq": sequence},
            ExpressionAttributeValues={":one": attr_n(count)},
            ReturnValues="UPDATED_NEW",
        )
        last = int(result["Attributes"][sequence]["N"])
        if last > keys.MAX_ID:
            raise ServiceUnavailable(f"The account has used every id of {sequence}.")
        return last

    # ---- event types -----------------------------------------------------------------------------------------

    @translate_errors
    def create_event_type(self, account_id: int, event_type: str, display_name: str) -> EventType:
        """Create a type with a fresh id. 1 x UpdateItem (id) + 1 x TransactWriteItems (type + name guard).

        The name guard's ``attribute_not_exists`` condition makes the name unique inside DynamoDB, so two
        concurrent creations of the same name cannot both succeed.
        """
        created = EventType(
            account_id, self._next_id(account_id, keys.EVENT_TYPE_SEQUENCE), event_type, display_name, utc_now()
        )
        guard = layout.name_guard(account_id, event_type) | {"event_type_id": attr_n(created.event_type_id)}
        for attempt in range(ATTEMPTS):
            try:
                self.client.transact_write_items(
                    TransactItems=[{"Put": self._put(layout.event_type_item(created))}, {"Put": self._put(guard)}]
                )
                return created
            except ClientError as error:
                codes = self._cancelled(error, 2)
                if "ConditionalCheckFailed" in codes:
                    if self._exists(layout.type_key(account_id, created.event_type_id)):
                        return created  # the id is this request's own: an earlier attempt of it was written
                    raise EventTypeExists(_name_taken(event_type)) from error
                self._backoff(attempt, error)
        raise ServiceUnavailable(f"The name {event_type!r} is being changed concurrently; retry the request.")

    @translate_errors
    def list_event_types(self, account_id: int, *, offset: int = 0, limit: int | None = None) -> list[EventType]:
        """The account's types ordered by id, ``limit`` of them after the first ``offset``. Query (paginated) on
        the account partition."""
        wanted = None if limit is None else offset + limit
        items = itertools.islice(self._query_prefix(account_id, keys.EVENT_TYPE_PREFIX, wanted), offset, None)
        return [layout.event_type_of(item) for item in items]

    @translate_errors
    def count_event_types(self, account_id: int) -> int:
        """How many types the account has. Query with ``Select=COUNT`` (paginated)."""
        return self._count(self._prefix_query(account_id, keys.EVENT_TYPE_PREFIX))

    @translate_errors
    def get_event_type(self, account_id: int, event_type_id: int) -> EventType:
        """One type. 1 x GetItem (strongly consistent). ``NotFound`` when the account has no such type."""
        item = self.client.get_item(
            TableName=self.table_name, Key=layout.type_key(account_id, event_type_id), ConsistentRead=True
        ).get("Item")
        if item is None:
            raise NotFound(f"Event type {event_type_id} does not exist in account {account_id}.")
        return layout.event_type_of(item)

    @translate_errors
    def rename_event_type(self, account_id: int, event_type_id: int, event_type: str, display_name: str) -> EventType:
        """Change a type's name and display name.

        1 x GetItem (the current name), then either 1 x UpdateItem (same name: only the display name changes) or
        1 x TransactWriteItems (update the type on condition its name is still the one read, delete the old name
        guard, put the new one on condition nobody holds it). A concurrent change makes the read stale: the
        condition fails and the whole sequence is tried again.
        """
        for attempt in range(ATTEMPTS):
            current = self.get_event_type(account_id, event_type_id)
            renamed = EventType(account_id, event_type_id, event_type, display_name, current.created_at)
            if attempt and (current.event_type, current.display_name) == (event_type, display_name):
                return renamed  # after a failed condition: an earlier attempt of this request was written
            new_guard = layout.name_guard(account_id, event_type) | {"event_type_id": attr_n(event_type_id)}
            update = {
                "TableName": self.table_name,
                "Key": layout.type_key(account_id, event_type_id),
                "UpdateExpression": "SET event_type = :new, display_name = :display",
                "ConditionExpression": "event_type = :old",
                "ExpressionAttributeValues": {
                    ":new": attr_s(event_type),
                    ":display": attr_s(display_name),
                    ":old": attr_s(current.event_type),
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
                                "Key": layout.name_guard(account_id, current.event_type),
                                "ConditionExpression": "event_type_id = :id",
                                "ExpressionAttributeValues": {":id": attr_n(event_type_id)},
                            }
                        },
                        {"Put": self._put(new_guard)},
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

    @translate_errors
    def delete_event_type(self, account_id: int, event_type_id: int) -> None:
        """Delete a type and free its name. 1 x GetItem + 1 x TransactWriteItems (type, name guard, and the type
        id added to the account's removals item).

        The type's events are deleted afterwards by the stream-triggered cascade, not in this request; until it
        ends, the removals item keeps them out of every listing and count. A condition that fails because the
        type is gone since this request read it (a concurrent delete, or the resend of this request's own write
        whose answer was lost) is a success: the type is deleted, as asked.
        """
        key = layout.type_key(account_id, event_type_id)

        def transaction(current: EventType) -> list[dict[str, Any]]:
            return [
                {"Delete": self._delete(key, "event_type = :name", {":name": attr_s(current.event_type)})},
                {
                    "Delete": self._delete(
                        layout.name_guard(account_id, current.event_type),
                        "event_type_id = :id",
                        {":id": attr_n(event_type_id)},
                    )
                },
                {  # "being removed" until the cascade has deleted its last event (``finish_cascade``)
                    "Update": {
                        "TableName": self.table_name,
                        "Key": layout.removals_key(account_id),
                        "UpdateExpression": "ADD type_ids :ids SET entity = :entity",
                        "ExpressionAttributeValues": {
                            ":ids": {"NS": [str(event_type_id)]},
                            ":entity": attr_s("removals"),
                        },
                    }
                },
            ]

        self._delete_what_was_read(
            key, lambda: self.get_event_type(account_id, event_type_id), transaction, "event type"
        )

    # ---- members ---------------------------------------------------------------------------------------------

    @translate_errors
    def add_member(self, account_id: int, email: str, fields: dict[str, Any] | None) -> tuple[Member, bool]:
        """The member with this email (``added`` False), or a new one (``added`` True).

        Existing: 1 x GetItem (email guard) + 1 x GetItem (member). New: 1 x GetItem + 1 x UpdateItem (id) +
        1 x TransactWriteItems (member + guard, both ``attribute_not_exists``). Of two concurrent adds of one
        email, the loser's guard condition fails and it returns the winner's member.
        """
        for attempt in range(ATTEMPTS):
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
            guard = layout.email_key(account_id, email) | {"member_id": attr_n(member.member_id)}
            try:
                self.client.transact_write_items(
                    TransactItems=[
                        {"Put": self._put(layout.member_item(member))},
                        {"Put": self._put(guard)},
                    ]
                )
                return member, True
            except ClientError as error:
                if "ConditionalCheckFailed" not in self._cancelled(error, 2):
                    self._backoff(attempt, error)
                elif self._exists(layout.member_key(account_id, member.member_id)):
                    return member, True  # the id is this request's own: an earlier attempt of it was written
                # else: a concurrent add of the same email won; the next round returns its member
        raise ServiceUnavailable("The member is being changed concurrently; retry the request.")

    def _member_id_by_email(self, account_id: int, email: str) -> int | None:
        item = self.client.get_item(
            TableName=self.table_name, Key=layout.email_key(account_id, email), ConsistentRead=True
        ).get("Item")
        return int(item["member_id"]["N"]) if item else None

    @translate_errors
    def get_member(self, account_id: int, member_id: int) -> Member:
        """1 x GetItem (strongly consistent). ``NotFound`` when the account has no such member."""
        item = self.client.get_item(
            TableName=self.table_name, Key=layout.member_key(account_id, member_id), ConsistentRead=True
        ).get("Item")
        if item is None:
            raise NotFound(f"Member {member_id} does not exist in account {account_id}.")
        return layout.member_of(item)

    @translate_errors
    def get_member_by_email(self, account_id: int, email: str) -> Member:
        """1 x GetItem (email guard) + 1 x GetItem (member)."""
        member_id = self._member_id_by_email(account_id, email)
        if member_id is None:
            raise NotFound(f"No member with email {email!r} in account {account_id}.")
        return self.get_member(account_id, member_id)

    @translate_errors
    def delete_member(self, account_id: int, member_id: int) -> None:
        """Delete a member and free its email. 1 x GetItem + 1 x TransactWriteItems (member + email guard).

        The member's events are deleted afterwards by the stream-triggered cascade, not in this request. A member
        gone since this request read it (a concurrent delete, or a resend of this very write) is a success.
        """
        key = layout.member_key(account_id, member_id)

        def transaction(member: Member) -> list[dict[str, Any]]:
            guard = layout.email_key(account_id, member.email)
            return [
                {"Delete": self._delete(key, "attribute_exists(PK)")},
                {"Delete": self._delete(guard, "member_id = :id", {":id": attr_n(member_id)})},
            ]

        self._delete_what_was_read(key, lambda: self.get_member(account_id, member_id), transaction, "member")

    # ---- member events ---------------------------------------------------------------------------------------

    @translate_errors
    def create_member_events(
        self, account_id: int, events: list[NewMemberEvent], idempotency: Idempotency | None = None
    ) -> tuple[list[MemberEvent], bool]:
        """Record up to 10 events, all or none; and whether this call recorded them (False: a retry answered from
        its idempotency record).

        By ids: 1 x UpdateItem (event ids) + 1 x TransactWriteItems. By email or type name: + 1 x BatchGetItem
        (the email and name guards) first. The transaction holds a ``ConditionCheck`` that each member and type
        still exists, so an event is never stored for a member or type deleted at the same moment, and, with an
        ``Idempotency-Key``, a ``Put`` of the idempotency record: a retry fails that condition and is answered
        from the record (+1 x GetItem).
        """
        first = 0
        for attempt in range(ATTEMPTS):
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
            checks = [self._exists_check(layout.member_key(account_id, m)) for m in member_ids]
            checks += [self._exists_check(layout.type_key(account_id, t)) for t in type_ids]
            puts = [{"Put": self._put(layout.event_item(event))} for event in created]
            record = [{"Put": self._idempotency_put(account_id, idempotency, created, now)}] if idempotency else []
            items = checks + puts + record
            names = [f"member {m}" for m in member_ids] + [f"type {t}" for t in type_ids]
            names += [f"event {e.event_id}" for e in created] + ["idempotency record"] * len(record)
            try:
                self.client.transact_write_items(TransactItems=items)
                return created, True
            except ClientError as error:
                failed = {
                    name for name, code in self._reasons(error, *names).items() if code == "ConditionalCheckFailed"
                }
                failure = error
            # A member or type that is gone answers as a fresh request would, also for a retry whose record
            # exists: a replay never hands back the events of a member or type deleted since (erased is erased).
            failed_members = {m for m in member_ids if f"member {m}" in failed}
            failed_types = {t for t in type_ids if f"type {t}" in failed}
            if failed_members or failed_types:
                raise self._gone(events, resolved, failed_members, failed_types, account_id)
            if "idempotency record" in failed:
                replay = self._replay(account_id, idempotency, now) if idempotency else None
                if replay is not None:
                    return replay, False
                continue  # the record expired between the two calls: write anew
            if any(name.startswith("event ") for name in failed) and self._exists(layout.event_key(created[0])):
                return created, True  # the ids are this request's own: an earlier attempt of it was written
            self._backoff(attempt, failure)
        raise ServiceUnavailable("The events conflicted with concurrent changes; retry the request.")

    def _resolve_references(self, account_id: int, events: list[NewMemberEvent]) -> list[tuple[int, int]]:
        """(member_id, event_type_id) of each event, reading the email and name guards in one BatchGetItem.

        Raises ``InvalidEvents`` naming every event and field that is unknown or contradictory.
        """
        wanted = [layout.email_key(account_id, e.email) for e in events if e.email]
        wanted += [layout.name_guard(account_id, e.event_type) for e in events if e.event_type]
        # When a lookup is needed anyway, the same BatchGetItem checks the ids too, so that one 400 lists every
        # unknown member and type. Without lookups, the transaction's ConditionChecks report them all.
        check_ids = bool(wanted)
        if check_ids:
            wanted += [layout.member_key(account_id, e.member_id) for e in events if e.member_id]
            wanted += [layout.type_key(account_id, e.event_type_id) for e in events if e.event_type_id]
        found = self._batch_get(wanted)
        errors: list[EventProblem] = []
        resolved: list[tuple[int, int]] = []
        for index, event in enumerate(events):
            if check_ids:
                errors += self._unknown_ids(account_id, index, event, found)
            member_id = event.member_id
            if event.email is not None:
                guard = found.get((keys.email_pk(account_id, event.email), keys.EMAIL_SK))
                by_email = int(guard["member_id"]["N"]) if guard else None
                if by_email is None:
                    from emma_events.models import email_problem  # the request's models are loaded already

                    problem = email_problem(event.email)  # not an address at all: the model's own 400
                    unknown = (f"no member with email {event.email!r}", "unknown_member")
                    errors.append((index, "email", *((problem, "value_error") if problem else unknown)))
                elif member_id is not None and member_id != by_email:
                    message = f"member {member_id} does not have email {event.email!r}"
                    errors.append((index, "member_id", message, "member_mismatch"))
                member_id = by_email if member_id is None else member_id
            event_type_id = event.event_type_id
            if event.event_type is not None:
                guard = found.get((keys.account_pk(account_id), keys.event_type_name_sk(event.event_type)))
                by_name = int(guard["event_type_id"]["N"]) if guard else None
                if by_name is None:
                    message = f"no event type named {event.event_type!r}"
                    errors.append((index, "event_type", message, "unknown_event_type"))
                elif event_type_id is not None and event_type_id != by_name:
                    message = f"event type {event_type_id} is not named {event.event_type!r}"
                    errors.append((index, "event_type_id", message, "event_type_mismatch"))
                event_type_id = by_name if event_type_id is None else event_type_id
            resolved.append((member_id or 0, event_type_id or 0))
        if errors:
            raise InvalidEvents(errors, len(events))
        return resolved

    @staticmethod
    def _unknown_ids(
        account_id: int, index: int, event: NewMemberEvent, found: dict[tuple[str, str], Item]
    ) -> list[EventProblem]:
        errors: list[EventProblem] = []
        if event.member_id and (keys.member_pk(account_id, event.member_id), keys.MEMBER_SK) not in found:
            message = f"no member {event.member_id} in account {account_id}"
            errors.append((index, "member_id", message, "unknown_member"))
        if event.event_type_id and (keys.account_pk(account_id), keys.event_type_sk(event.event_type_id)) not in found:
            message = f"no event type {event.event_type_id} in account {account_id}"
            errors.append((index, "event_type_id", message, "unknown_event_type"))
        return errors

    @staticmethod
    def _gone(
        events: list[NewMemberEvent],
        resolved: list[tuple[int, int]],
        members: set[int],
        types: set[int],
        account_id: int,
    ) -> InvalidEvents:
        """The error for events whose member or type did not exist when the transaction ran."""
        errors: list[EventProblem] = []
        for index, (event, (member_id, event_type_id)) in enumerate(zip(events, resolved, strict=True)):
            if member_id in members:
                field = "member_id" if event.member_id is not None else "email"
                errors.append((index, field, f"no member {member_id} in account {account_id}", "unknown_member"))
            if event_type_id in types:
                field = "event_type_id" if event.event_type_id is not None else "event_type"
                message = f"no event type {event_type_id} in account {account_id}"
                errors.append((index, field, message, "unknown_event_type"))
        return InvalidEvents(errors, len(events))

    def _idempotency_put(
        self, account_id: int, idempotency: Idempotency, created: list[MemberEvent], now: datetime
    ) -> dict[str, Any]:
        # The created events as a list of maps, each the event's own item: ``attributes`` stays the one JSON string
        # it is in the event item (a JSON document of the items would escape it a second time, and 10 events of
        # quote-heavy attributes would outgrow DynamoDB's 400 KB item). At the limits, 10 x 32 KB of attributes
        # plus ~0.3 KB per event: ~330 KB.
        stored = [{"M": layout.event_item(event)} for event in created]
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

    def _replay(self, account_id: int, idempotency: Idempotency, now: datetime) -> list[MemberEvent] | None:
        """The events recorded under this key, or None when its record has expired."""
        item = self.client.get_item(
            TableName=self.table_name,
            Key={keys.PK: attr_s(keys.idempotency_pk(account_id)), keys.SK: attr_s(idempotency.key)},
            ConsistentRead=True,
        ).get("Item")
        if item is None or int(item["expires_at"]["N"]) < int(now.timestamp()):
            return None
        if item["request_hash"]["S"] != idempotency.request_hash:
            raise IdempotencyKeyReused(
                "This Idempotency-Key was used in the last 24 hours for a request with another body."
            )
        return [layout.event_of(stored["M"]) for stored in item["events"]["L"]]

    @translate_errors
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
            values = query["ExpressionAttributeValues"]
            # Only a position inside the key condition's range: DynamoDB refuses any other ExclusiveStartKey.
            if not (keys.is_event_sk(after) and values[":low"]["S"] <= after <= values[":high"]["S"]):
                raise invalid_cursor()
            query["ExclusiveStartKey"] = {keys.PK: values[":pk"], keys.SK: attr_s(after)}
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
                events = [layout.event_of(item) for item in items]
                return EventPage(events, resume[keys.SK]["S"])
            query["ExclusiveStartKey"] = resume
        events = [layout.event_of(item) for item in items[:limit]]
        more = len(items) > limit
        next_after = layout.event_sort_key(events[-1]) if more else None
        return EventPage(events, next_after)

    @translate_errors
    def count_member_events(self, account_id: int, member_id: int, filters: EventFilter) -> int:
        """1 x BatchGetItem (the member exists; the types being removed) + Query ``Select=COUNT`` (paginated)."""
        removing = self._member_and_removals(account_id, member_id)
        if filters.event_type_id in removing:
            return 0
        return self._count(self._events_query(account_id, member_id, filters, removing))

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
                ":pk": attr_s(keys.member_pk(account_id, member_id)),
                ":low": attr_s(low),
                ":high": attr_s(high),
            },
            "ScanIndexForward": not filters.descending,
        }
        conditions = []
        if filters.event_type_id is not None:
            conditions.append("event_type_id = :type")
            query["ExpressionAttributeValues"][":type"] = attr_n(filters.event_type_id)
        elif removing:
            # One comparison per type being removed (the item is emptied as cascades end, so the list stays as
            # short as the deletes in flight); IN takes at most 100 operands, hence groups of 100.
            for group in range(0, len(removing), 100):
                names = [f":gone{index}" for index in range(group, min(group + 100, len(removing)))]
                conditions.append(f"NOT (event_type_id IN ({', '.join(names)}))")
                for name, type_id in zip(names, removing[group : group + 100], strict=True):
                    query["ExpressionAttributeValues"][name] = attr_n(type_id)
        if conditions:
            query["FilterExpression"] = " AND ".join(conditions)
        return query

    def _delete_what_was_read(
        self, key: Item, read: Callable[[], T], transaction: Callable[[T], list[dict[str, Any]]], what: str
    ) -> None:
        """Read an item (``read`` raises ``NotFound`` when it is not there), then delete it and what hangs on it in
        one transaction whose first item is ``key``'s delete, conditioned on what was read; a condition that
        failed because the item changed meanwhile means read again (with backoff). A condition that failed
        because the item is gone since it was read (a concurrent delete, or the resend of this very write whose
        answer was lost) is a success: ids are never reused, so it is deleted, as asked.
        """
        for attempt in range(ATTEMPTS):
            current = read()
            try:
                self.client.transact_write_items(TransactItems=transaction(current))
                return
            except ClientError as error:
                if self._cancelled(error, 1)[0] == "ConditionalCheckFailed" and not self._exists(key):
                    return
                self._backoff(attempt, error)
        raise ServiceUnavailable(f"The {what} is being changed concurrently; retry the request.")

    def _member_and_removals(self, account_id: int, member_id: int) -> list[int]:
        """The ids of the account's types being removed, checking the member exists (else ``NotFound``), in one
        round trip: 1 x BatchGetItem, strongly consistent."""
        member, removals = layout.member_key(account_id, member_id), layout.removals_key(account_id)
        found = self._batch_get([member, removals])
        if (member[keys.PK]["S"], member[keys.SK]["S"]) not in found:
            raise NotFound(f"Member {member_id} does not exist in account {account_id}.")
        item = found.get((removals[keys.PK]["S"], removals[keys.SK]["S"]), {})
        return sorted(int(n) for n in item.get("type_ids", {}).get("NS", []))


#: How many Queries one cursor page may make while a type filter finds too few events (each reads at most 1 MB).
QUERY_PAGES_PER_CALL = 8


def _name_taken(event_type: str) -> str:
    return f"The account already has an event type named {event_type!r}."


@lru_cache(maxsize=1)
def get_repository() -> Repository:
    """The container's repository, built on first use and kept warm between invocations."""
    return Repository(settings().table_name)

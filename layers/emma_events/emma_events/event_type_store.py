"""Event types: create, list, count, get, rename and delete an account's types, with their unique names.

Each method documents the DynamoDB calls it makes; conditional-check failures become ``NotFound`` or
``EventTypeExists``, throttling after the SDK's retries ``ServiceUnavailable`` (``translate_errors``).
"""

from __future__ import annotations

import itertools
import time
from datetime import datetime
from typing import TYPE_CHECKING, Any

from emma_events import event_batch, keys, layout
from emma_events.dates import utc_now
from emma_events.domain import EventType
from emma_events.dynamo import Table, attr_n, attr_s
from emma_events.dynamo_errors import translate_errors
from emma_events.errors import EventTypeExists, NotFound
from emma_events.transactions import AGAIN, Again, Cancelled, Part

if TYPE_CHECKING:
    from emma_events.type_stats import Bucket

#: ``update_event_type``: leave the schema as it is.
KEEP = object()
#: What a listing reads of each type.
_LISTED = "account_id, event_type_id, event_type, display_name, created_at"


class EventTypeStore(Table):
    """An account's event types (``ET#<id>`` items of the account's partition) and their name guards."""

    @translate_errors
    def create_event_type(
        self, account_id: int, event_type: str, display_name: str, attributes_schema: dict[str, Any] | None = None
    ) -> EventType:
        """Create a type with a fresh id. 1 x UpdateItem (id) + 1 x TransactWriteItems (type + name guard).
        A schema starts at version 1.

        The name guard's ``attribute_not_exists`` condition makes the name unique inside DynamoDB, so two
        concurrent creations of the same name cannot both succeed.
        """
        created = EventType(
            account_id,
            self.next_id(account_id, keys.EVENT_TYPE_SEQUENCE),
            event_type,
            display_name,
            utc_now(),
            attributes_schema,
            0 if attributes_schema is None else 1,
        )
        guard = layout.name_guard(account_id, event_type) | {"event_type_id": attr_n(created.event_type_id)}
        parts = [
            Part("type", {"Put": self._put(layout.event_type_item(created))}),
            Part("name", {"Put": self._put(guard)}),
        ]

        def cancelled(error: Cancelled, _: EventType) -> EventType | Again:
            if error.failed("type"):
                return created  # its id is this request's own: an earlier attempt of it was written
            if error.failed("name"):
                raise EventTypeExists(_name_taken(event_type)) from error
            return AGAIN

        return self.write(lambda: (parts, created), cancelled, f"name {event_type!r}")

    @translate_errors
    def list_event_types(self, account_id: int, *, offset: int = 0, limit: int | None = None) -> list[EventType]:
        """The account's types ordered by id, ``limit`` of them after the first ``offset``, without their schemas
        (500 of them could pass Lambda's 6 MB answer; GET one type to read its schema). Query (paginated) on the
        account partition, projected to what a listing answers."""
        wanted = None if limit is None else offset + limit
        query = self._query_prefix(account_id, keys.EVENT_TYPE_PREFIX, wanted, _LISTED)
        items = itertools.islice(query, offset, None)
        return [layout.event_type_of(item) for item in items]

    @translate_errors
    def count_event_types(self, account_id: int) -> int:
        """How many types the account has. Query with ``Select=COUNT`` (paginated)."""
        return self._count(self._prefix_query(account_id, keys.EVENT_TYPE_PREFIX))

    @translate_errors
    def get_event_type(self, account_id: int, event_type_id: int) -> EventType:
        """One type. 1 x GetItem (strongly consistent). ``NotFound`` when the account has no such type."""
        item = self._item(layout.type_key(account_id, event_type_id))
        if item is None:
            raise NotFound(f"Event type {event_type_id} does not exist in account {account_id}.")
        return layout.event_type_of(item)

    @translate_errors
    def type_stats(self, account_id: int, event_type_id: int, spans: list[tuple[datetime, datetime]]) -> list[Bucket]:
        """The type's events and value per bucket (type_stats.py): 1 x GetItem (``NotFound``) + the stats' reads."""
        from emma_events.type_stats import type_stats

        self.get_event_type(account_id, event_type_id)
        return type_stats(self, account_id, event_type_id, spans)

    @translate_errors
    def update_event_type(
        self,
        account_id: int,
        event_type_id: int,
        event_type: str,
        display_name: str,
        attributes_schema: Any = KEEP,  # a schema, None (remove it) or KEEP
    ) -> EventType:
        """Change a type's name, display name and (unless ``KEEP``) schema; a new schema, or its removal
        (None), takes the next version.

        1 x GetItem (the current type), then either 1 x UpdateItem (same name) or 1 x TransactWriteItems (update
        the type, delete the old name guard, put the new one on condition nobody holds it). The update holds on
        condition that the name and schema version are still those read: a concurrent change makes the read
        stale, the condition fails and the whole sequence is tried again. It answers only ``FRESH_FOR_S`` after
        its write: no POST that starts after the answer checks events against its old schema
        (``event_batch.KnownSchemas``; also when this is the resend of a write whose answer was lost, which finds
        nothing left to change).
        """
        updated = self._update_event_type(account_id, event_type_id, event_type, display_name, attributes_schema)
        time.sleep(event_batch.FRESH_FOR_S)
        return updated

    def _update_event_type(
        self, account_id: int, event_type_id: int, event_type: str, display_name: str, attributes_schema: Any
    ) -> EventType:
        seen: list[EventType] = []  # the type as a failed condition found it: the next round's, with no read
        retried = False

        def attempt() -> tuple[list[Part], EventType | Again]:
            current = seen.pop() if seen else self.get_event_type(account_id, event_type_id)
            schema = current.attributes_schema if attributes_schema is KEEP else attributes_schema
            changed = _text(schema) != _text(current.attributes_schema)  # as stored: 0 and false differ
            updated = current._replace(
                event_type=event_type,
                display_name=display_name,
                attributes_schema=schema,
                schema_version=current.schema_version + changed,
            )
            if retried and not changed and (current.event_type, current.display_name) == (event_type, display_name):
                return [], updated  # after a failed condition: an earlier attempt of this request was written
            parts = [Part("type", {"Update": self._update(current, updated, schema=changed)})]
            if current.event_type != event_type:  # the name moves: its old guard goes, the new one is taken
                old_guard = layout.name_guard(account_id, current.event_type)
                mine = {":id": attr_n(event_type_id)}
                new_guard = layout.name_guard(account_id, event_type) | {"event_type_id": attr_n(event_type_id)}
                parts.append(Part("old_name", {"Delete": self._delete(old_guard, "event_type_id = :id", mine)}))
                parts.append(Part("new_name", {"Put": self._put(new_guard)}))
            return parts, updated

        def cancelled(error: Cancelled, _: EventType) -> EventType | Again:
            nonlocal retried
            retried = True
            if error.failed("type"):  # changed or gone since it was read (or this very write, resent)
                found = error.failed("type")[0].item
                if found is None:
                    raise NotFound(f"Event type {event_type_id} does not exist in account {account_id}.")
                seen.append(layout.event_type_of(found))
            elif error.failed("new_name"):
                raise EventTypeExists(_name_taken(event_type)) from error
            return AGAIN

        return self.write(attempt, cancelled, "event type")

    def _update(self, current: EventType, updated: EventType, *, schema: bool) -> dict[str, Any]:
        """The type's UpdateItem (its schema too when ``schema``): on condition that its name and schema version
        are those read."""
        values = {
            ":new": attr_s(updated.event_type),
            ":display": attr_s(updated.display_name),
            ":old": attr_s(current.event_type),
        }
        expression = "SET event_type = :new, display_name = :display"
        if schema:
            values[":version"] = attr_n(updated.schema_version)
            expression += ", schema_version = :version"
            if updated.attributes_schema is None:
                expression += " REMOVE attributes_schema"
            else:
                values[":schema"] = attr_s(layout.schema_text(updated.attributes_schema))
                expression += ", attributes_schema = :schema"
        condition = "event_type = :old AND "
        if current.schema_version:
            values[":read"] = attr_n(current.schema_version)
            condition += "schema_version = :read"
        else:
            condition += "attribute_not_exists(schema_version)"
        return {
            "TableName": self.table_name,
            "Key": layout.type_key(current.account_id, current.event_type_id),
            "UpdateExpression": expression,
            "ConditionExpression": condition,
            "ExpressionAttributeValues": values,
        }

    @translate_errors
    def delete_event_type(self, account_id: int, event_type_id: int) -> None:
        """Delete a type and free its name. 1 x GetItem + 1 x TransactWriteItems (type, name guard, and the type
        id added to the account's removals item).

        The type's events are deleted afterwards by the stream-triggered cascade, not in this request; until it
        ends, the removals item keeps them out of every listing and count. A condition that fails because the
        type is gone since this request read it (a concurrent delete, or the resend of this request's own write
        whose answer was lost) is a success: the type is deleted, as asked. It answers only ``FRESH_FOR_S`` after
        its write: no POST that starts after the answer takes the type for one that exists.
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

        self.delete_what_was_read(
            key, lambda: self.get_event_type(account_id, event_type_id), transaction, "event type"
        )
        time.sleep(event_batch.FRESH_FOR_S)


def _name_taken(event_type: str) -> str:
    return f"The account already has an event type named {event_type!r}."


def _text(schema: dict[str, Any] | None) -> str | None:
    return None if schema is None else layout.schema_text(schema)

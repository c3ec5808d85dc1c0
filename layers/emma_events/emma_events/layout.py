"""The table's item layout: the key of each entity, and how each is written as an item and read back."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from typing import Any

from emma_events import keys
from emma_events.dates import from_storage, to_storage
from emma_events.domain import DETAILS, EventType, Member, MemberEvent, MemberField
from emma_events.dynamo import Item, attr_n, attr_s


def removals_key(account_id: int) -> Item:
    """The account's removals item: the types whose events a cascade is still deleting."""
    return {keys.PK: attr_s(keys.account_pk(account_id)), keys.SK: attr_s(keys.REMOVALS_SK)}


def event_type_item(event_type: EventType) -> Item:
    item = {
        keys.PK: attr_s(keys.account_pk(event_type.account_id)),
        keys.SK: attr_s(keys.event_type_sk(event_type.event_type_id)),
        "entity": attr_s("event_type"),
        "account_id": attr_n(event_type.account_id),
        "event_type_id": attr_n(event_type.event_type_id),
        "event_type": attr_s(event_type.event_type),
        "display_name": attr_s(event_type.display_name),
        "created_at": attr_s(to_storage(event_type.created_at)),
    }
    if event_type.schema_version:
        item["schema_version"] = attr_n(event_type.schema_version)
    if event_type.attributes_schema is not None:
        item["attributes_schema"] = attr_s(schema_text(event_type.attributes_schema))
    return item


def event_type_of(item: Item) -> EventType:
    schema = item.get("attributes_schema")
    return EventType(
        account_id=int(item["account_id"]["N"]),
        event_type_id=int(item["event_type_id"]["N"]),
        event_type=item["event_type"]["S"],
        display_name=item["display_name"]["S"],
        created_at=from_storage(item["created_at"]["S"]),
        attributes_schema=None if schema is None else json.loads(schema["S"]),
        schema_version=schema_version_of(item),
    )


def schema_text(schema: dict[str, Any]) -> str:
    """An attributes schema as stored: compact JSON (its size limit is counted on this form)."""
    return json.dumps(schema, separators=(",", ":"), ensure_ascii=False)


def schema_version_of(item: Item) -> int:
    return int(item.get("schema_version", {}).get("N", 0))


def name_guard(account_id: int, event_type: str) -> Item:
    return {keys.PK: attr_s(keys.account_pk(account_id)), keys.SK: attr_s(keys.event_type_name_sk(event_type))}


def type_key(account_id: int, event_type_id: int) -> Item:
    return {keys.PK: attr_s(keys.account_pk(account_id)), keys.SK: attr_s(keys.event_type_sk(event_type_id))}


def member_key(account_id: int, member_id: int) -> Item:
    return {keys.PK: attr_s(keys.member_pk(account_id, member_id)), keys.SK: attr_s(keys.MEMBER_SK)}


def email_key(account_id: int, email: str) -> Item:
    return {keys.PK: attr_s(keys.email_pk(account_id, email)), keys.SK: attr_s(keys.EMAIL_SK)}


def member_count_key(account_id: int, item: int) -> Item:
    """One of the items whose sum is the account's member count."""
    return {keys.PK: attr_s(keys.member_count_pk(account_id, item)), keys.SK: attr_s(keys.MEMBER_COUNT_SK)}


def member_count_change(table: str, account_id: int, change: int) -> dict[str, Any]:
    """The Update adding ``change`` to one of the account's member count items, taken at random."""
    return {
        "TableName": table,
        "Key": member_count_key(account_id, random.randrange(keys.MEMBER_COUNT_ITEMS)),  # noqa: S311 - a spread
        "UpdateExpression": "ADD members :change SET entity = :entity",
        "ExpressionAttributeValues": {":change": attr_n(change), ":entity": attr_s("member_count")},
    }


def member_index_keys(account_id: int, member_id: int) -> Item:
    """A member's key in the ``Members`` index (its shard, its id)."""
    return {
        keys.MEMBER_INDEX_PK: attr_s(keys.member_index_pk(account_id, keys.member_shard(member_id))),
        keys.MEMBER_INDEX_SK: attr_s(keys.member_index_sk(member_id)),
    }


def member_item(member: Member) -> Item:
    return (
        member_key(member.account_id, member.member_id)
        | member_index_keys(member.account_id, member.member_id)
        | {
            "entity": attr_s("member"),
            "account_id": attr_n(member.account_id),
            "member_id": attr_n(member.member_id),
            "email": attr_s(member.email),
            "fields": attr_s(json.dumps(member.fields, separators=(",", ":"), ensure_ascii=False)),
            "status": attr_s(member.status),
            "member_since": attr_s(to_storage(member.member_since)),
        }
    )


def member_of(item: Item) -> Member:
    return Member(
        account_id=int(item["account_id"]["N"]),
        member_id=int(item["member_id"]["N"]),
        email=item["email"]["S"],
        fields=json.loads(item["fields"]["S"]),
        status=item["status"]["S"],
        member_since=from_storage(item["member_since"]["S"]),
    )


def field_key(account_id: int, field_id: int) -> Item:
    return {keys.PK: attr_s(keys.account_pk(account_id)), keys.SK: attr_s(keys.field_sk(field_id))}


def field_name_guard(account_id: int, shortcut_name: str) -> Item:
    return {keys.PK: attr_s(keys.account_pk(account_id)), keys.SK: attr_s(keys.FIELD_NAME_PREFIX + shortcut_name)}


def field_item(field: MemberField) -> Item:
    return field_key(field.account_id, field.field_id) | {
        "entity": attr_s("field"),
        **{name: attr_n(getattr(field, name)) for name in ("account_id", "field_id", "column_order")},
        **{
            name: attr_s(getattr(field, name))
            for name in ("shortcut_name", "display_name", "field_type", "widget_type")
        },
    }


def field_of(item: Item) -> MemberField:
    return MemberField(
        account_id=int(item["account_id"]["N"]),
        field_id=int(item["field_id"]["N"]),
        shortcut_name=item["shortcut_name"]["S"],
        display_name=item["display_name"]["S"],
        field_type=item["field_type"]["S"],
        widget_type=item["widget_type"]["S"],
        column_order=int(item["column_order"]["N"]),
    )


def event_key(event: MemberEvent) -> Item:
    return {
        keys.PK: attr_s(keys.member_pk(event.account_id, event.member_id)),
        keys.SK: attr_s(event_sort_key(event)),
    }


def event_item(event: MemberEvent) -> Item:
    item: Item = event_key(event) | {
        keys.TYPE_INDEX_PK: attr_s(keys.type_index_pk(event.account_id, event.event_type_id, event.member_id)),
        keys.TYPE_INDEX_SK: attr_s(keys.type_index_sk(event.member_id, event.event_id)),
        keys.MEMBER_TYPE_INDEX_PK: attr_s(keys.member_type_pk(event.account_id, event.member_id, event.event_type_id)),
        "entity": attr_s("member_event"),
        "account_id": attr_n(event.account_id),
        "event_id": attr_n(event.event_id),
        "member_id": attr_n(event.member_id),
        "event_type_id": attr_n(event.event_type_id),
        "event_timestamp": attr_s(to_storage(event.event_timestamp)),
        "inserted_at": attr_s(to_storage(event.inserted_at)),
        keys.TALLIED: {"BOOL": True},  # its value and totals are counted with it
    }
    for name in DETAILS:  # each only when given
        value = getattr(event, name)
        if value is not None:
            item[name] = _DETAIL_CODECS[name][0](value)
    return item


def event_of(item: Item) -> MemberEvent:
    return MemberEvent(
        account_id=int(item["account_id"]["N"]),
        event_id=int(item["event_id"]["N"]),
        member_id=int(item["member_id"]["N"]),
        event_type_id=int(item["event_type_id"]["N"]),
        event_timestamp=from_storage(item["event_timestamp"]["S"]),
        inserted_at=from_storage(item["inserted_at"]["S"]),
        **{name: _DETAIL_CODECS[name][1](item[name]) if name in item else None for name in DETAILS},
    )


#: How each of an event's details is written and read back.
_DETAIL_CODECS: dict[str, tuple[Callable[[Any], dict[str, str]], Callable[[dict[str, str]], Any]]] = {
    "event_monetary_value": (lambda value: {"N": repr(value)}, lambda attr: stored_number(attr["N"])),
    "mailing_id": (attr_n, lambda attr: int(attr["N"])),
    "attributes": (
        lambda value: attr_s(json.dumps(value, separators=(",", ":"), ensure_ascii=False)),
        lambda attr: json.loads(attr["S"]),
    ),
}


def event_sort_key(event: MemberEvent) -> str:
    """The sort key of an event in its member's partition, which is also where a cursor continues after it."""
    return keys.event_sk(to_storage(event.event_timestamp), event.event_id)


def stored_number(text: str) -> int | float:
    """A stored DynamoDB number back as the JSON number the client sent (19.99 stays 19.99, 20 stays 20)."""
    return float(text) if any(c in text for c in ".eE") else int(text)

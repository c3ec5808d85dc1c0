"""Data for tests and benchmarks: the world the events/ files refer to, and events in bulk.

The events/ files (``sam local invoke -e``) name account 100, event type 1 "purchase", type 2 "checkout" (with an
attributes schema), member 1 ada@example.com, search 1 and the development key; ``seed_example_world`` writes
exactly that.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

#: Type 2 "checkout"'s attributes schema: events/create_member_events_schema_rejected.json breaks it.
CHECKOUT_SCHEMA = {
    "type": "object",
    "required": ["order_id", "total"],
    "properties": {
        "order_id": {"type": "string", "pattern": "^ORD-[0-9]{4,}$"},
        "total": {"type": "number", "minimum": 0},
        "coupon": {"type": "string", "maxLength": 32},
    },
    "additionalProperties": False,
}

#: The development key of account 100: the local stack seeds it when LOCAL_API_KEYS is unset (docs/security.md)
#: and events/authorizer.json presents it.
DEV_KEY = (100, "0123456789abcdef0123", "local-dev-private-key-0123456789ab")


def seed_example_world(stores: Any, *, function: str | None = None) -> None:
    """Types 1 "purchase" and 2 "checkout" (``CHECKOUT_SCHEMA``), member 1 ada@example.com, search 1 and the
    development key, in account 100 of an empty table (``stores``: its ``emma_events.stores.Stores``): the world
    events/<function>.json presupposes (``function``: its code folder; the types are left out for
    create_event_type and the member for add_member, which create them)."""
    from emma_events.auth import Credentials
    from emma_events.transactions import Cancelled

    if function != "create_event_type":
        assert stores.event_types.create_event_type(100, "purchase", "Purchase").event_type_id == 1
        assert stores.event_types.create_event_type(100, "checkout", "Checkout", CHECKOUT_SCHEMA).event_type_id == 2
    if function != "add_member":
        assert stores.members.add_member(100, "ada@example.com", {"first_name": "Ada"})[0].member_id == 1
    if function not in ("create_event_type", "create_search"):
        from emma_events import criteria

        wanted = criteria.read(
            ["or", ["event:purchase", "in last", {"month": 1}], ["member_field:first_name", "eq", "Ada"]]
        )
        assert stores.searches.create_search(100, "Ada, or bought this month", wanted) == 1
    account, public, private = DEV_KEY
    try:
        stores.api_keys.create_api_key(account, credentials=Credentials(public, private))
    except Cancelled as error:  # a local stack seeds it too
        if not error.failed("key"):
            raise


def seed_events(
    stores: Any,
    member_id: int,
    event_type_id: int,
    count: int,
    *,
    account_id: int = 100,
    first_id: int = 1_000_000,
    at: datetime | None = None,
    monetary_value: float | None = None,
    attributes: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Write ``count`` events straight through BatchWriteItem (25 per request), in the stores' own item
    layout, and return the items. Setup only: through the API, moto copies the whole table on every
    transaction, which makes seeding thousands of events take minutes."""
    from emma_events import counts
    from emma_events.dates import utc_now
    from emma_events.domain import MemberEvent
    from emma_events.layout import event_item

    when = at or utc_now()
    events = [
        MemberEvent(account_id, first_id + n, member_id, event_type_id, when, when, monetary_value, None, attributes)
        for n in range(count)
    ]
    items = [event_item(event) for event in events]
    for start in range(0, len(items), 25):
        batch = [{"PutRequest": {"Item": item}} for item in items[start : start + 25]]
        stores.client.batch_write_item(RequestItems={stores.table_name: batch})
    for key, added in counts.increments(events).items():  # the member's counts, as the API keeps them
        stores.client.update_item(**counts.update(stores.table_name, key, added))
    return items


def seed_members(
    stores: Any, count: int = 0, *, account_id: int = 100, first_id: int = 1_000_000, ids: list[int] | None = None
) -> list[int]:
    """Write ``count`` members (``member<id>@example.com``, ids from ``first_id``, or ``ids``) straight through
    BatchWriteItem, with their email guards and their count as the API keeps it; their ids."""
    from emma_events import layout
    from emma_events.dates import utc_now
    from emma_events.domain import Member

    ids = ids if ids is not None else list(range(first_id, first_id + count))
    items = []
    for member_id in ids:
        email = f"member{member_id}@example.com"
        items.append(layout.member_item(Member(account_id, member_id, email, {"n": member_id}, "a", utc_now())))
        items.append(layout.email_key(account_id, email) | {"member_id": {"N": str(member_id)}})
    for start in range(0, len(items), 25):
        batch = [{"PutRequest": {"Item": item}} for item in items[start : start + 25]]
        stores.client.batch_write_item(RequestItems={stores.table_name: batch})
    if ids:  # the account's count, as the API keeps it (here in one change)
        stores.client.update_item(**layout.member_count_change(stores.table_name, account_id, len(ids)))
    return ids

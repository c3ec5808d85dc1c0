"""The table's stores, one per entity, on the container's one DynamoDB client: each function takes (and imports)
only the stores it uses; the authorizer the key store alone.

Each accessor builds its store on first use and keeps it warm between invocations; ``reset`` forgets them (tests
that change the table or the environment). ``Stores`` gathers every store of one table for the tools and tests
that seed or inspect it.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

from emma_events.config import settings
from emma_events.deadline import DynamoDBClient, new_client

if TYPE_CHECKING:
    from emma_events.api_key_store import ApiKeyStore
    from emma_events.cascade_store import CascadeStore
    from emma_events.event_type_store import EventTypeStore
    from emma_events.field_store import FieldStore
    from emma_events.member_event_store import MemberEventStore
    from emma_events.member_store import MemberStore
    from emma_events.search_store import SearchStore
    from emma_events.type_rollups import TypeRollups


@lru_cache(maxsize=1)
def client() -> DynamoDBClient:
    """The container's DynamoDB client, created at the first request that needs one."""
    return new_client()


@lru_cache(maxsize=1)
def event_types() -> EventTypeStore:
    from emma_events.event_type_store import EventTypeStore

    return EventTypeStore(settings().table_name, client())


@lru_cache(maxsize=1)
def members() -> MemberStore:
    from emma_events.member_store import MemberStore

    return MemberStore(settings().table_name, client())


@lru_cache(maxsize=1)
def fields() -> FieldStore:
    from emma_events.field_store import FieldStore

    return FieldStore(settings().table_name, client())


@lru_cache(maxsize=1)
def member_events() -> MemberEventStore:
    from emma_events.member_event_store import MemberEventStore

    return MemberEventStore(settings().table_name, client())


@lru_cache(maxsize=1)
def api_keys() -> ApiKeyStore:
    from emma_events.api_key_store import ApiKeyStore

    return ApiKeyStore(settings().table_name, client())


@lru_cache(maxsize=1)
def cascades() -> CascadeStore:
    from emma_events.cascade_store import CascadeStore

    return CascadeStore(settings().table_name, client())


@lru_cache(maxsize=1)
def rollups() -> TypeRollups:
    from emma_events.type_rollups import TypeRollups

    return TypeRollups(settings().table_name, client())


@lru_cache(maxsize=1)
def searches() -> SearchStore:
    from emma_events.search_store import SearchStore

    return SearchStore(settings().table_name, client())


def reset() -> None:
    """Forget the client and every store (the next use builds them again from the environment)."""
    for accessor in (client, event_types, members, fields, member_events, api_keys, cascades, rollups, searches):
        accessor.cache_clear()


class Stores:
    """Every store of one table on one client."""

    def __init__(self, table_name: str, client: DynamoDBClient | None = None) -> None:
        from emma_events.api_key_store import ApiKeyStore
        from emma_events.cascade_store import CascadeStore
        from emma_events.event_type_store import EventTypeStore
        from emma_events.field_store import FieldStore
        from emma_events.member_event_store import MemberEventStore
        from emma_events.member_store import MemberStore
        from emma_events.search_store import SearchStore
        from emma_events.type_rollups import TypeRollups

        self.table_name = table_name
        self.client = client or new_client()
        self.event_types = EventTypeStore(table_name, self.client)
        self.members = MemberStore(table_name, self.client)
        self.fields = FieldStore(table_name, self.client)
        self.member_events = MemberEventStore(table_name, self.client)
        self.api_keys = ApiKeyStore(table_name, self.client)
        self.cascades = CascadeStore(table_name, self.client)
        self.rollups = TypeRollups(table_name, self.client)
        self.searches = SearchStore(table_name, self.client)

    @classmethod
    def of_this_container(cls) -> Stores:
        """Every store of the container's table on the container's client (the one the accessors above use)."""
        return cls(settings().table_name, client())

"""A page of an account's members by id, merged from the shards of the ``Members`` index.

Member ids are spread over the 16 shards by a hash (``keys.member_shard``), so the first N members of the account
are about N / 16 of each shard. Each shard is read for its share and a margin, side by side; the merge answers
the members it knows to be complete: those up to the lowest last id of a shard that has more. The shards that
fall short (the others' members deleted more) are read further, for what the page misses (or twice as many as
before), until it is complete.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from emma_events import keys, layout
from emma_events.deadline import side_by_side
from emma_events.domain import Member
from emma_events.dynamo import QUERY_PAGE_ITEMS, Item, attr_s

SHARDS = keys.MEMBER_INDEX_SHARDS


class _Shard:
    """What has been read of one shard: its members in id order, and where its next Query starts (None: done)."""

    def __init__(self, number: int) -> None:
        self.number = number
        self.items: list[Item] = []
        self.more = True
        self.start_key: Item | None = None

    @property
    def last(self) -> int:
        return _id(self.items[-1]) if self.items else 0


def _id(item: Item) -> int:
    return int(item["member_id"]["N"])


def members_page(
    table: Any, account_id: int, wanted: int, after: int | None, offset: int
) -> tuple[list[Member], int | None]:
    """Members ``[offset, wanted)`` of the account by id (after member ``after``), and the id the next page
    continues after (None when none follows). ``table``: the store (its client and table name)."""
    shards = [_Shard(number) for number in range(SHARDS)]
    size = -(-wanted * 5 // (4 * SHARDS)) + 8  # the share of each shard, plus a quarter and 8
    reading = shards
    while True:
        side_by_side(partial(_read, table, account_id, size=size, after=after), reading)
        open_shards = [shard for shard in shards if shard.more]
        bound = min((shard.last for shard in open_shards), default=None)  # every member up to it is read
        known = sorted((item for shard in shards for item in shard.items), key=_id)
        complete = known if bound is None else [item for item in known if _id(item) <= bound]
        if bound is None or len(complete) >= wanted:
            page = [layout.member_of(item) for item in complete[offset:wanted]]
            more = len(complete) > wanted or bound is not None
            return page, (page[-1].member_id if more and page else None)
        # the members a complete page needs are below the wanted-th read so far: read further where they may be
        needed = _id(known[wanted - 1]) if len(known) >= wanted else None
        reading = [shard for shard in open_shards if needed is None or shard.last < needed]
        size = min(max(size * 2, wanted - len(complete)), QUERY_PAGE_ITEMS)  # at most what is missing


def _read(table: Any, account_id: int, shard: _Shard, size: int, after: int | None) -> None:
    """1 x Query of the shard (``Limit`` ``size``), after what it read before (or after member ``after``)."""
    values = {":pk": attr_s(keys.member_index_pk(account_id, shard.number))}
    condition = f"{keys.MEMBER_INDEX_PK} = :pk"
    if after is not None:
        values[":after"] = attr_s(keys.member_index_sk(after))
        condition += f" AND {keys.MEMBER_INDEX_SK} > :after"
    query: dict[str, Any] = {
        "TableName": table.table_name,
        "IndexName": keys.MEMBER_INDEX,
        "KeyConditionExpression": condition,
        "ExpressionAttributeValues": values,
        "Limit": size,
    }
    if shard.start_key is not None:
        query["ExclusiveStartKey"] = shard.start_key
    page = table.client.query(**query)
    shard.items.extend(page["Items"])
    shard.start_key = page.get("LastEvaluatedKey")
    shard.more = shard.start_key is not None

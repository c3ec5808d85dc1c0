"""Saved searches: create, list, count, get, change and delete an account's searches, and run one (search_eval.py).

A search is an item of the account's partition (``SEARCH#<id>``): its name, its criteria as JSON text, and what
its last run counted. Each method documents the DynamoDB calls it makes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from functools import partial
from typing import Any

from emma_events import keys, layout
from emma_events.criteria import Criteria, invalid
from emma_events.dates import from_storage, to_storage, utc_now
from emma_events.deadline import DynamoDBClient, side_by_side
from emma_events.domain import Idempotency, Member, Search
from emma_events.dynamo import Item, Table, attr_n, attr_s
from emma_events.dynamo_errors import translate_errors
from emma_events.errors import NotFound, SearchTooLarge
from emma_events.idempotency_store import IdempotencyRecords
from emma_events.search_eval import Budget, Evaluation
from emma_events.search_outside import run
from emma_events.search_runs import STATUS_COUNTS, RunRequest, SearchRuns, status_counts
from emma_events.transactions import AGAIN, Again, Cancelled, Part

#: Keys of one BatchGetItem (DynamoDB's limit).
BATCH_KEYS = 100
#: What one run may read in all (index entries, members, count items; docs/performance.md, "Searches").
RUN_ITEMS = 150_000
#: A member item counts as one item per this many bytes of its fields (at least one).
UNIT_BYTES = 4096
#: Set on a search whose run reads more than a request may: its runs are made outside (search_runs.py).
OUTSIDE = "runs_outside"


def _member_terms(fields: bool) -> dict[str, Any]:
    """What a run reads of a member: its key, id, status and date; its fields only for a ``member_field`` term
    (up to 32 KB each). The page's members are then read whole."""
    return {
        "ProjectionExpression": "PK, SK, member_id, #status, member_since" + (", #fields" if fields else ""),
        "ExpressionAttributeNames": {"#status": "status"} | ({"#fields": "fields"} if fields else {}),
    }


def _units(item: Item) -> int:
    return 1 + len(item.get("fields", {}).get("S", "")) // UNIT_BYTES


class SearchStore(Table):
    """An account's saved searches, and what running one reads."""

    def __init__(self, table_name: str, client: DynamoDBClient | None = None) -> None:
        super().__init__(table_name, client)
        self.records = IdempotencyRecords(table_name, self.client)
        self.runs = SearchRuns(table_name, self.client)

    @translate_errors
    def create_search(
        self, account_id: int, name: str, criteria: Criteria, idempotency: Idempotency | None = None
    ) -> int:
        """1 x BatchGetItem (the types the criteria name: each must exist) + 1 x UpdateItem (id) + 1 x PutItem; with
        an ``Idempotency-Key``, + 1 x GetItem of its record first (a resend answers the search it made, even if its
        types are gone since), and the PutItem is a transaction with the record (of two sent at once, one makes it):
        ``IdempotencyKeyReused`` for a record of another body."""
        records = self.records
        if idempotency is not None:  # a resend is answered from its record, whatever changed since (+1 GetItem)
            made = records.search_made(account_id, idempotency, utc_now())
            if made is not None:
                return made
        self.check_types(account_id, criteria)
        search = Search(account_id, self.next_id(account_id, keys.SEARCH_SEQUENCE), name, criteria.text)
        if idempotency is None:
            self.client.put_item(**self._put(_item(search)))
            return search.search_id
        now = utc_now()
        record = records.put_search(account_id, idempotency, search.search_id, now)
        parts = [Part("search", {"Put": self._put(_item(search))}), Part("record", {"Put": record})]

        def cancelled(error: Cancelled, _: int) -> int | Again:
            for outcome in error.failed("record"):  # the key's record: this request, sent at the same time
                return records.searched(outcome.item, idempotency, now) or AGAIN
            if error.failed("search"):  # its fresh id taken: never (ids are not reused), so not silently
                raise RuntimeError(f"search id {search.search_id} of account {account_id} exists already")
            return AGAIN  # a conflict: its id is its own, written again

        return self.write(lambda: (parts, search.search_id), cancelled, "search")

    @translate_errors
    def list_searches(self, account_id: int, *, offset: int, limit: int) -> list[Search]:
        """1 x Query of the account's ``SEARCH#`` items (more past 1,000 or 1 MB), strongly consistent."""
        found = list(self._query_prefix(account_id, keys.SEARCH_PREFIX, offset + limit))
        return [_search(item) for item in found[offset:]]

    @translate_errors
    def count_searches(self, account_id: int) -> int:
        return self._count(self._prefix_query(account_id, keys.SEARCH_PREFIX))

    @translate_errors
    def get_search(self, account_id: int, search_id: int) -> Search:
        """1 x GetItem, strongly consistent; ``NotFound``."""
        item = self._item(_key(account_id, search_id))
        if item is None:
            raise NotFound(f"Search {search_id} does not exist in account {account_id}.")
        return _search(item)

    @translate_errors
    def update_search(self, account_id: int, search_id: int, name: str | None, criteria: Criteria | None) -> None:
        """1 x UpdateItem on condition that it exists (+ 1 x BatchGetItem of the types new criteria name, whose
        search's last run is forgotten)."""
        if criteria is not None:
            self.check_types(account_id, criteria)
        changes = {"name": None if name is None else attr_s(name)}
        changes["criteria"] = None if criteria is None else attr_s(criteria.text)
        changed = {f"#{k}": k for k, v in changes.items() if v is not None}
        if not changed:
            self.get_search(account_id, search_id)
            return
        # new criteria: the last run's figures were another search's, and it runs in the request again first
        forget = "" if criteria is None else " REMOVE " + ", ".join([*STATUS_COUNTS.values(), "last_run_at", OUTSIDE])
        self._on_existing(
            account_id,
            search_id,
            self.client.update_item,
            UpdateExpression="SET " + ", ".join(f"{n} = :{n[1:]}" for n in changed) + forget,
            ExpressionAttributeNames=changed,
            ExpressionAttributeValues={f":{k}": v for k, v in changes.items() if v is not None},
        )

    @translate_errors
    def delete_search(self, account_id: int, search_id: int) -> None:
        """1 x DeleteItem on condition that it exists; ``NotFound``."""
        self._on_existing(account_id, search_id, self.client.delete_item)

    def _on_existing(self, account_id: int, search_id: int, call: Any, **request: Any) -> None:
        if (
            self._conditionally(
                call, Key=_key(account_id, search_id), ConditionExpression="attribute_exists(PK)", **request
            )
            is None
        ):
            raise NotFound(f"Search {search_id} does not exist in account {account_id}.")

    @translate_errors
    def run_search(
        self, account_id: int, search_id: int, criteria: Criteria, page: slice, outside: bool = False
    ) -> tuple[int, list[Member]]:
        """How many members the search matches, and those of ``page`` (by id, read whole): run in the request
        (search_eval.py's reads + 1 x UpdateItem recording it), or, for a search marked ``outside`` or found past
        ``RUN_ITEMS`` now (marked then: 1 x UpdateItem), paged from its last run (search_runs.py); + 1 x
        BatchGetItem of the page. ``SearchRunning`` while a large search's run is on its way."""
        if not outside:
            try:
                return self._run_here(account_id, search_id, criteria, page)
            except SearchTooLarge:  # from now on its runs are made outside the request
                self._on_search(
                    account_id, search_id, criteria.text, f"SET {OUTSIDE} = :true", {":true": {"BOOL": True}}
                )
        total, ids = self.runs.page(account_id, search_id, criteria.text, page)  # SearchRunning while none
        return total, self._whole(account_id, ids)

    def _run_here(self, account_id: int, search_id: int, criteria: Criteria, page: slice) -> tuple[int, list[Member]]:
        now = utc_now()
        names = {t.type_name for t in criteria.event_terms()}
        found = Evaluation(self, account_id, now.date(), names, Budget(RUN_ITEMS)).members(criteria.tree)
        self.record_run(account_id, search_id, criteria.text, status_counts(found), now)
        return len(found), self._whole(account_id, [int(item["member_id"]["N"]) for item in found[page]])

    def _whole(self, account_id: int, shown: list[int]) -> list[Member]:
        """The members of a page, read whole (1 x BatchGetItem); one deleted since the run is left out."""
        whole = self._batch_get(layout.member_key(account_id, m) for m in shown) if shown else {}
        by_id = {int(item["member_id"]["N"]): item for item in whole.values()}
        return [layout.member_of(by_id[m]) for m in shown if m in by_id]

    def record_run(
        self, account_id: int, search_id: int, criteria: str, tally: dict[str, int], at: datetime, inside: bool = False
    ) -> None:
        """A run's counts and ``last_run_at`` on the search (1 x UpdateItem), unless its criteria changed or it is
        gone since; ``inside``: its runs are made in the request again (a large search that is no longer)."""
        values = {f":{k}": attr_n(v) for k, v in tally.items()} | {":at": attr_s(to_storage(at))}
        update = (
            "SET "
            + ", ".join(f"{k} = :{k}" for k in tally)
            + ", last_run_at = :at"
            + (f" REMOVE {OUTSIDE}" if inside else "")
        )
        self._on_search(account_id, search_id, criteria, update, values)

    def _on_search(self, account_id: int, search_id: int, criteria: str, update: str, values: Item) -> None:
        """An update of the search on condition that its criteria are still ``criteria`` (else nothing)."""
        self._conditionally(
            self.client.update_item,
            Key=_key(account_id, search_id),
            UpdateExpression=update,
            ConditionExpression="criteria = :criteria",
            ExpressionAttributeValues=values | {":criteria": attr_s(criteria)},
        )

    def run_outside(self, request: RunRequest, time_left: Callable[[], float]) -> int | None:
        """The run a large search's read asked for, made by the stream's consumer (search_runs.run)."""
        return run(self, request, time_left, RUN_ITEMS)

    def check_types(self, account_id: int, criteria: Criteria) -> None:
        """``ValidationFailed`` naming the first event term whose type the account does not have."""
        found = self.type_ids(account_id, {term.type_name for term in criteria.event_terms()})
        for term in criteria.event_terms():
            if term.type_name not in found:
                raise invalid((*term.path, 0), f"the account has no event type {term.type_name!r}", "criteria_type")

    # ---- what an evaluation reads (search_eval.Source) -------------------------------------------------------

    def index_members(self, account_id: int, index_keys: list[str], budget: Budget) -> list[set[int]]:
        """The members under each ``MembersByType`` key: 1 x Query per key (per 1 MB), side by side."""
        return side_by_side(partial(self._index_key, budget=budget), index_keys)

    def _index_key(self, pk: str, budget: Budget) -> set[int]:
        query = {
            "TableName": self.table_name,
            "IndexName": keys.MEMBERS_BY_TYPE_INDEX,
            "KeyConditionExpression": f"{keys.MEMBERS_BY_TYPE_PK} = :pk",
            "ExpressionAttributeValues": {":pk": attr_s(pk)},
            "ProjectionExpression": keys.MEMBERS_BY_TYPE_SK,
        }
        return {int(item[keys.MEMBERS_BY_TYPE_SK]["S"]) for item in self._pages(query, budget)}

    def _pages(self, query: dict[str, Any], budget: Budget) -> list[Item]:
        """Every item a Query matches, each page spent from ``budget`` before the next is read."""
        budget.check()  # not one page once a run is past its bounds
        return self._query_all(query, lambda page: budget.spend(sum(_units(item) for item in page)))

    def items(
        self, wanted: list[Item], budget: Budget, projection: dict[str, Any] | None = None
    ) -> dict[tuple[str, str], Item]:
        """Items by key, strongly consistent: 1 x BatchGetItem per 100 keys, side by side."""
        budget.spend(len(wanted))
        chunks = [wanted[start : start + BATCH_KEYS] for start in range(0, len(wanted), BATCH_KEYS)]
        found: dict[tuple[str, str], Item] = {}
        for part in side_by_side(partial(self._batch_get, projection=projection), chunks):
            found |= part
        return found

    def type_ids(self, account_id: int, names: Iterable[str]) -> dict[str, int]:
        """The ids of the types named, by their name guards (1 x BatchGetItem per 100): a type deleted is not."""
        guards = {(keys.account_pk(account_id), keys.event_type_name_sk(n)): n for n in names}
        found = self._batch_get(layout.name_guard(account_id, name) for name in guards.values())
        return {guards[at]: int(item["event_type_id"]["N"]) for at, item in found.items() if at in guards}

    def members(self, account_id: int, ids: Iterable[int], budget: Budget, fields: bool) -> dict[int, Item]:
        """The members' ids, statuses and dates (and ``fields``: their fields): what terms and counts read."""
        read = self.items([layout.member_key(account_id, i) for i in ids], budget, _member_terms(fields))
        budget.spend(sum(_units(item) - 1 for item in read.values()))  # a big member's fields count by their size
        return {int(item["member_id"]["N"]): item for item in read.values()}

    def every_member(self, account_id: int, budget: Budget, fields: bool) -> dict[int, Item]:
        """Every member of the account (what terms and counts read): each of the 16 ``Members`` keys read whole
        (1 Query per 1 MB), side by side."""
        read = partial(_shard, self, account_id, budget=budget, fields=fields)
        shards = side_by_side(read, range(keys.MEMBER_INDEX_SHARDS))
        return {int(item["member_id"]["N"]): item for shard in shards for item in shard}


def _shard(store: SearchStore, account_id: int, shard: int, budget: Budget, fields: bool) -> list[Item]:
    query = {
        "TableName": store.table_name,
        "IndexName": keys.MEMBER_INDEX,
        "KeyConditionExpression": f"{keys.MEMBER_INDEX_PK} = :pk",
        "ExpressionAttributeValues": {":pk": attr_s(keys.member_index_pk(account_id, shard))},
    }
    return store._pages(query | _member_terms(fields), budget)


def _key(account_id: int, search_id: int) -> Item:
    return {keys.PK: attr_s(keys.account_pk(account_id)), keys.SK: attr_s(keys.search_sk(search_id))}


def _item(search: Search) -> Item:
    return _key(search.account_id, search.search_id) | {
        "entity": attr_s("search"),
        "account_id": attr_n(search.account_id),
        "search_id": attr_n(search.search_id),
        "name": attr_s(search.name),
        "criteria": attr_s(search.criteria),
        "created_at": attr_s(to_storage(utc_now())),
    }


def _search(item: Item) -> Search:
    last: datetime | None = from_storage(item["last_run_at"]["S"]) if "last_run_at" in item else None
    return Search(
        account_id=int(item["account_id"]["N"]),
        search_id=int(item["search_id"]["N"]),
        name=item["name"]["S"],
        criteria=item["criteria"]["S"],
        active_count=int(item.get("active_count", {}).get("N", 0)),
        optout_count=int(item.get("optout_count", {}).get("N", 0)),
        error_count=int(item.get("error_count", {}).get("N", 0)),
        last_run_at=last,
        runs_outside=item.get(OUTSIDE, {}).get("BOOL", False),
    )

"""Where a cascade keeps its progress: its item (its ranges, those waiting and finished, the events each
deleted) and a cursor item per range, whose stream records start the range's steps (``cascade.py`` runs them)."""

from __future__ import annotations

import json
import uuid
from typing import Any

from emma_events import keys, layout
from emma_events.dates import to_storage, utc_now
from emma_events.domain import CascadeState, Parent
from emma_events.dynamo import Item, Table, attr_n, attr_s
from emma_events.transactions import AGAIN, Again, Cancelled, Part, transact

#: The range of a parent's events that is not a ``ByType`` shard (``CascadeProgress.ranges``).
LEGACY = "*"


class CascadeProgress(Table):
    """A cascade's item and its ranges' cursors."""

    @staticmethod
    def ranges(parent: Parent) -> list[str]:
        """The parts of a parent's events that steps read and delete in parallel: a type's ``ByType`` keys (one per
        shard, and ``*``: the one key of releases before), a member's partition (``*``)."""
        if parent.kind == "event_type":
            return [*map(str, range(keys.TYPE_INDEX_SHARDS)), LEGACY]
        return [LEGACY]

    def _cascade_key(self, parent: Parent) -> Item:
        return {
            keys.PK: attr_s(keys.cascade_pk(parent.account_id)),
            keys.SK: attr_s(keys.cascade_sk(parent.kind, parent.parent_id)),
        }

    @staticmethod
    def _cursor_key(parent: Parent, part: str) -> Item:
        pk = keys.cascade_range_pk(parent.account_id, parent.kind, parent.parent_id, part)
        return {keys.PK: attr_s(pk), keys.SK: attr_s(keys.CASCADE_RANGE_SK)}

    def _cursor(self, state: CascadeState) -> Item:
        parent = state.parent
        assert state.part is not None
        item = self._cursor_key(parent, state.part) | {
            "entity": attr_s("cascade"),
            "kind": attr_s(parent.kind),
            "account_id": attr_n(parent.account_id),
            "parent_id": attr_n(parent.parent_id),
            "part": attr_s(state.part),
            "chain": attr_s(state.chain),
            "deleted": attr_n(state.deleted),
            "pass_deleted": attr_n(state.pass_deleted),
            "steps": attr_n(state.steps),
            "settled_at": attr_n(round(state.settled_at, 3)),
            "pass_started_at": attr_n(round(state.pass_started_at, 3)),
            "updated_at": attr_s(to_storage(utc_now())),
        }
        if state.position is not None:
            item["position"] = attr_s(json.dumps(state.position, sort_keys=True))
        return item

    def begin(self, parent: Parent, settled_at: float, *, again: bool = False) -> bool:
        """Start a cascade: 1 x TransactWriteItems of the parent's cascade item (its ranges, none finished) and one
        cursor item per range, whose stream records start the ranges' first steps. Whether it started: a cascade
        already under way is left as it is (a removal's record delivered twice), unless ``again`` (a replay from
        the dead-letter queue: every range from its start; the old chains stop at their next checkpoint). The
        cursor item of a release before (one cursor for all ranges, no ``ranges``) is replaced."""
        ranges = self.ranges(parent)
        cascade = self._cascade_key(parent) | {
            "entity": attr_s("cascade_ranges"),  # no stream filter matches it: it starts nothing
            "ranges": {"SS": ranges},
            "deleted": {"M": {}},
            "updated_at": attr_s(to_storage(utc_now())),
        }
        put: dict[str, Any] = {"TableName": self.table_name, "Item": cascade}
        if not again:
            put |= {
                "ConditionExpression": "attribute_not_exists(#ranges)",
                "ExpressionAttributeNames": {"#ranges": "ranges"},
            }
        cursors = [
            {
                "Put": {
                    "TableName": self.table_name,
                    "Item": self._cursor(CascadeState(parent, None, 0, 0, 0, settled_at, 0.0, part, _token())),
                }
            }
            for part in ranges
        ]
        try:
            transact(self.client, [Part("cascade", {"Put": put}), *(Part("cursor", cursor) for cursor in cursors)])
        except Cancelled as error:
            if not error.failed("cascade"):
                raise
            return False
        return True

    def save_cascade(self, state: CascadeState, read_steps: int) -> bool:
        """Checkpoint a range: 1 x PutItem of its cursor item, whose stream record starts the range's next step,
        written only over the checkpoint its step started from (``steps`` = ``read_steps``). Whether it was: a step
        of a record delivered again finds a later checkpoint (or none: the range has finished) and its chain ends
        there, so that a range has one chain of steps at a time.

        A PutItem (not an UpdateItem) so that each checkpoint is exactly one stream record.
        """
        checkpoint = {
            "TableName": self.table_name,
            "Item": self._cursor(state),
            "ConditionExpression": "chain = :chain AND steps = :read",
            "ExpressionAttributeValues": {":chain": attr_s(state.chain), ":read": attr_n(read_steps)},
        }
        try:
            transact(self.client, [Part("cursor", {"Put": checkpoint})])
        except Cancelled:
            return False
        return True

    def _mark(self, state: CascadeState, mark: str) -> Item | None:
        """End a range's chain: 1 x DeleteItem of its cursor (unless a later checkpoint or another chain's cursor
        is there: this record is stale, and marks nothing), then 1 x UpdateItem adding the range to one of its
        cascade's sets (``finished`` or ``waiting``) with the events it deleted so far; the cascade's item as that
        update left it (of concurrent marks, exactly one sees the last range added). None when the record is stale
        or the cascade's item is gone (``close``: a step delivered again after the end)."""
        assert state.part is not None
        removed = self._conditionally(
            self.client.delete_item,
            Key=self._cursor_key(state.parent, state.part),
            ConditionExpression="attribute_not_exists(PK) OR (chain = :chain AND steps = :steps)",
            ExpressionAttributeValues={":chain": attr_s(state.chain), ":steps": attr_n(state.steps)},
        )
        if removed is None:
            return None
        marked = self._conditionally(
            self.client.update_item,
            Key=self._cascade_key(state.parent),
            UpdateExpression="ADD #mark :part SET deleted.#part = :deleted",
            ConditionExpression="attribute_exists(#ranges)",
            ExpressionAttributeNames={"#mark": mark, "#part": state.part, "#ranges": "ranges"},
            ExpressionAttributeValues={":part": {"SS": [state.part]}, ":deleted": attr_n(state.deleted)},
            ReturnValues="ALL_NEW",
        )
        return None if marked is None else marked["Attributes"]

    def finish_range(self, state: CascadeState) -> tuple[int | None, dict[str, int]]:
        """A range has no event left (``_mark``: finished). When that finishes the cascade, the events it deleted in
        all (and, for a type, 1 x UpdateItem taking it off the account's removals: nothing is left to hide), else
        None; and the ranges waiting that this step must ``wake`` (``_waking``)."""
        cascade = self._mark(state, "finished")
        if cascade is None:
            return None, {}
        if not set(cascade["ranges"]["SS"]) <= _members(cascade, "finished"):
            return None, _waking(cascade)
        parent = state.parent
        if parent.kind == "event_type":
            self.client.update_item(
                TableName=self.table_name,
                Key=layout.removals_key(parent.account_id),
                UpdateExpression="DELETE type_ids :ids",
                ExpressionAttributeValues={":ids": {"NS": [str(parent.parent_id)]}},
            )
        return sum(int(n["N"]) for n in cascade["deleted"]["M"].values()), {}

    def wait_range(self, state: CascadeState) -> dict[str, int]:
        """A range whose pass found nothing before the index has settled waits for it without holding its lane
        (``_mark``: waiting); the ranges waiting that this step must ``wake`` (``_waking``)."""
        cascade = self._mark(state, "waiting")
        return {} if cascade is None else _waking(cascade)

    def wake(self, parent: Parent, waiting: dict[str, int], settled_at: float) -> None:
        """1 x TransactWriteItems: the ``waiting`` ranges (each with the events it deleted so far, as the cascade's
        item that named them holds: a waiting range deletes nothing) taken off the cascade's item (on condition they
        are all still waiting there: else another step woke them, or the cascade has ended) and a fresh cursor for
        each, of a new chain, whose records start their final passes; tried again on a conflict."""
        parts = sorted(waiting)

        def attempt() -> tuple[list[Part], None]:
            still = " AND ".join(f"contains(waiting, :p{i})" for i in range(len(parts)))
            take_off = {
                "TableName": self.table_name,
                "Key": self._cascade_key(parent),
                "UpdateExpression": "DELETE waiting :parts",
                "ConditionExpression": f"attribute_exists(#ranges) AND {still}",
                "ExpressionAttributeNames": {"#ranges": "ranges"},
                "ExpressionAttributeValues": {":parts": {"SS": parts}}
                | {f":p{i}": attr_s(part) for i, part in enumerate(parts)},
            }
            fresh = [CascadeState(parent, None, waiting[p], 0, 0, settled_at, 0.0, p, _token()) for p in parts]
            cursors = [Part("cursor", {"Put": {"TableName": self.table_name, "Item": self._cursor(c)}}) for c in fresh]
            return [Part("cascade", {"Update": take_off}), *cursors], None

        def cancelled(error: Cancelled, _: None) -> Again | None:
            return None if error.failed("cascade") else AGAIN

        self.write(attempt, cancelled, "cascade")

    def waking(self, parent: Parent) -> dict[str, int]:
        """The ranges waiting that nothing runs to wake any more (``_waking``): 1 x GetItem."""
        cascade = self._item(self._cascade_key(parent))
        return {} if cascade is None else _waking(cascade)

    def close(self, parent: Parent) -> None:
        """1 x DeleteItem of a finished cascade's item, once its end is announced."""
        self.client.delete_item(TableName=self.table_name, Key=self._cascade_key(parent))

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
            float(image["settled_at"]["N"]),
            float(image["pass_started_at"]["N"]),
            image["part"]["S"] if "part" in image else None,
            image.get("chain", {}).get("S", ""),
        )


def _members(cascade: Item, name: str) -> set[str]:
    return set(cascade.get(name, {}).get("SS", []))


def _waking(cascade: Item) -> dict[str, int]:
    """The waiting ranges and the events each deleted so far, when no range of the cascade is running any more (each
    is waiting or finished): the step that made it so wakes them; else none."""
    waiting = _members(cascade, "waiting")
    if not set(cascade["ranges"]["SS"]) <= waiting | _members(cascade, "finished"):
        return {}
    deleted = cascade.get("deleted", {}).get("M", {})
    return {part: int(deleted[part]["N"]) if part in deleted else 0 for part in waiting}


def _token() -> str:
    return uuid.uuid4().hex

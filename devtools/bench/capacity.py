"""DynamoDB capacity of each API call, for ``make bench``.

Every call is sent with ``ReturnConsumedCapacity=INDEXES`` and what the store answers is kept ("reported"): real
figures against DynamoDB, but moto answers fixed placeholders. So the meter also models the bill from the items
themselves, by DynamoDB's published rules (on-demand request units = capacity units):

- item size: attribute names plus values (strings in UTF-8, numbers ~1 byte per 2 digits + 1, maps and lists
  3 bytes + 1 per element), as DynamoDB sizes items;
- reads: 1 unit per 4 KB, half for eventually consistent reads, rounded up per item (GetItem, BatchGetItem) or
  over the whole page (Query: every item it read, ``ScannedCount``, those its filter left out at the mean size
  of those it returned); twice for TransactGetItems; a read that finds nothing still costs the minimum;
- writes: 1 unit per 1 KB of the item, rounded up, plus 1 per keys-only index entry written and as many again for
  an entry of an index that projects the whole item; the item's (not its index entries') twice in
  TransactWriteItems; a ConditionCheck costs a transactional read of the checked item: 2 units per 4 KB, counted
  as 2 since the item is not in the request (every item this API checks is under 4 KB).

DynamoDB Local reports the same figures as this model for GetItem, Query, PutItem (index entries included) and
BatchWriteItem (tests/stores/test_capacity.py compares them on the reference tier). For TransactWriteItems its figures
do not follow the documented rules (two 500-byte Puts in one transaction: 2 units reported, 4 by the rules), so
the model keeps the rules there.

The item an UpdateItem or DeleteItem replaces is not in the request, so those count the 1 KB minimum (lower
bounds, marked ``>=``): our updated and deleted items are all under 1 KB.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

READ_UNIT = 4096
WRITE_UNIT = 1024
INDEX_KEYS = ("GSI1PK", "GSI1SK")
WHOLE_INDEX_KEY = "GSI2PK"


def attribute_size(value: dict[str, Any]) -> int:
    ((kind, inner),) = value.items()
    if kind == "S":
        return len(inner.encode())
    if kind == "N":
        digits = inner.lstrip("-").replace(".", "").strip("0") or "0"
        return math.ceil(len(digits) / 2) + 1
    if kind == "B":
        return len(inner)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "M":
        return 3 + sum(len(k.encode()) + attribute_size(v) + 1 for k, v in inner.items())
    if kind == "L":
        return 3 + sum(attribute_size(v) + 1 for v in inner)
    if kind in ("SS", "NS", "BS"):
        return sum(attribute_size({kind[0]: v}) for v in inner)
    raise ValueError(f"unknown attribute type {kind}")


def item_size(item: dict[str, Any]) -> int:
    return sum(len(name.encode()) + attribute_size(value) for name, value in item.items())


def _reads(size: int, consistent: bool = False, transactional: bool = False) -> float:
    units = max(1, math.ceil(size / READ_UNIT))
    return units * (2 if transactional else 1) * (1 if consistent or transactional else 0.5)


def write_units(item: dict[str, Any] | None, transactional: bool = False) -> dict[str, float]:
    """Units of writing ``item``, by the key that takes them: ``PK`` (the table's) and the partition key attribute
    of each index entry written (None: an item the request does not show, so the table's minimum). A transaction
    doubles the table's write (prepare and commit); its index entries are written after it commits, once
    (DynamoDB developer guide, "Amazon DynamoDB Transactions: How it works")."""
    if item is None:
        return {"PK": 2.0 if transactional else 1.0}
    size = max(1, math.ceil(item_size(item) / WRITE_UNIT))
    units = {"PK": float(size * (2 if transactional else 1))}
    if all(key in item for key in INDEX_KEYS):
        units[INDEX_KEYS[0]] = 1.0  # the KEYS_ONLY index entry (ByType)
    if WHOLE_INDEX_KEY in item:
        units[WHOLE_INDEX_KEY] = float(size)  # the ALL index entry (ByMemberType): the whole item
    return units


def _writes(item: dict[str, Any] | None, transactional: bool = False) -> tuple[float, bool]:
    """Units of writing ``item`` (None: a lower bound, the minimum)."""
    return sum(write_units(item, transactional).values()), item is None


def units_of(operation: str, params: dict[str, Any], parsed: dict[str, Any]) -> tuple[float, float, bool]:
    """(read units, write units, lower bound?) of one call, from its request and response."""
    consistent = bool(params.get("ConsistentRead"))
    if operation == "GetItem":
        return _reads(item_size(parsed.get("Item") or {}), consistent), 0.0, False
    if operation == "Query":
        items = parsed.get("Items") or []
        size = sum(item_size(i) for i in items)
        # DynamoDB charges what it read, before the filter: those it left out at the returned ones' mean size
        left_out = max(parsed.get("ScannedCount", len(items)) - len(items), 0)
        size += left_out * size // len(items) if items else 0
        lower = params.get("Select") == "COUNT" or (left_out > 0 and not items)  # sizes unknown: the minimum
        return _reads(size, consistent), 0.0, lower
    if operation == "BatchGetItem":
        reads = 0.0
        for table, request in params.get("RequestItems", {}).items():
            found = parsed.get("Responses", {}).get(table, [])
            reads += sum(_reads(item_size(i), request.get("ConsistentRead", False)) for i in found)
            reads += (len(request["Keys"]) - len(found)) * _reads(0, request.get("ConsistentRead", False))
        return reads, 0.0, False
    if operation == "TransactGetItems":
        return sum(_reads(item_size(r.get("Item") or {}), transactional=True) for r in parsed["Responses"]), 0.0, False
    if operation == "PutItem":
        writes, lower = _writes(params["Item"])
        return 0.0, writes, lower
    if operation in ("UpdateItem", "DeleteItem"):
        return 0.0, 1.0, True
    if operation == "BatchWriteItem":
        writes, lower = 0.0, False
        for requests in params["RequestItems"].values():
            for request in requests:
                units, bound = _writes(request["PutRequest"]["Item"] if "PutRequest" in request else None)
                writes, lower = writes + units, lower or bound
        return 0.0, writes, lower
    if operation == "TransactWriteItems":
        reads, writes, lower = 0.0, 0.0, False
        for action in params["TransactItems"]:
            if "ConditionCheck" in action:
                reads += 2.0
                continue
            units, bound = _writes(action["Put"]["Item"] if "Put" in action else None, transactional=True)
            writes, lower = writes + units, lower or bound
        return reads, writes, lower
    return 0.0, 0.0, False  # control-plane calls: no capacity


class CapacityMeter:
    """Counts the calls a botocore DynamoDB client makes, and the capacity they consume."""

    def __init__(self, client: Any) -> None:
        self.calls: Counter[str] = Counter()
        self.reads = 0.0
        self.writes = 0.0
        self.lower_bound = False
        self.reported = 0.0
        #: Items the Queries read, those their filters left out included (``ScannedCount``).
        self.items_read = 0
        #: Items read by key (GetItem, BatchGetItem).
        self.items_fetched = 0
        events = client.meta.events
        events.register("provide-client-params.dynamodb.*", self._ask_for_capacity)
        events.register("before-call.dynamodb.*", self._before)
        events.register("after-call.dynamodb.*", self._after)

    def reset(self) -> None:
        self.calls.clear()
        self.reads = self.writes = self.reported = 0.0
        self.items_read = self.items_fetched = 0
        self.lower_bound = False

    def _ask_for_capacity(self, params: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
        if "ReturnConsumedCapacity" in model.input_shape.members:
            params.setdefault("ReturnConsumedCapacity", "INDEXES")
        context["metered_params"] = params  # the call's own (the cascade calls from several threads)

    def _before(self, model: Any, **_: Any) -> None:
        self.calls[model.name] += 1  # once per attempt: retries are round trips too

    def _after(self, parsed: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
        reported = parsed.get("ConsumedCapacity")
        for entry in reported if isinstance(reported, list) else [reported] if reported else []:
            self.reported += float(entry.get("CapacityUnits", 0))
        if "Error" in parsed:
            return
        self.items_read += parsed.get("ScannedCount", 0)
        self.items_fetched += sum(len(found) for found in parsed.get("Responses", {}).values()) + ("Item" in parsed)
        reads, writes, lower = units_of(model.name, context.get("metered_params", {}), parsed)
        self.reads += reads
        self.writes += writes
        self.lower_bound = self.lower_bound or lower

"""The capacity model `make bench` reports (devtools/capacity.py) follows DynamoDB's published rules."""

from __future__ import annotations

import os
from typing import Any

from devtools.capacity import CapacityMeter, attribute_size, item_size, units_of


def _item(size: int, **extra: Any) -> dict[str, Any]:
    """An item of exactly ``size`` bytes: attribute "d" (1 byte of name) holding a string."""
    base = {"d": {"S": ""}, **extra}
    padding = size - item_size(base)
    assert padding >= 0
    return {**base, "d": {"S": "x" * padding}}


def test_item_sizes_follow_dynamodb_rules() -> None:
    assert attribute_size({"S": "héllo"}) == 6  # UTF-8 bytes
    assert attribute_size({"N": "123"}) == 3  # 2 digits per byte, rounded up, + 1
    assert attribute_size({"BOOL": True}) == 1
    assert attribute_size({"M": {"a": {"S": "b"}}}) == 3 + 1 + 1 + 1
    assert attribute_size({"L": [{"S": "ab"}, {"NULL": True}]}) == 3 + (2 + 1) + (1 + 1)
    assert item_size({"PK": {"S": "100"}, "n": {"N": "7"}}) == 2 + 3 + 1 + 2
    assert item_size(_item(5000)) == 5000


def test_reads_round_up_per_item_but_over_the_whole_page_for_queries() -> None:
    assert units_of("GetItem", {}, {"Item": _item(5000)}) == (1.0, 0.0, False)  # 2 units, eventually consistent
    assert units_of("GetItem", {"ConsistentRead": True}, {"Item": _item(5000)}) == (2.0, 0.0, False)
    assert units_of("GetItem", {}, {}) == (0.5, 0.0, False)  # nothing found still costs the minimum
    page = [_item(100), _item(100), _item(100)]
    assert units_of("Query", {}, {"Items": page}) == (0.5, 0.0, False)  # 300 bytes: one unit, not three
    assert units_of("Query", {"Select": "COUNT"}, {"Count": 3})[2] is True  # counted items are not returned


def test_writes_count_1_kb_units_index_entries_and_double_in_transactions() -> None:
    indexed = _item(1500, GSI1PK={"S": "100#T#1"}, GSI1SK={"S": "x"})
    assert units_of("PutItem", {"Item": indexed}, {}) == (0.0, 3.0, False)  # 2 units + 1 index entry
    assert units_of("UpdateItem", {}, {}) == (0.0, 1.0, True)  # the old item is unknown: a lower bound
    transaction = {
        "TransactItems": [
            {"Put": {"Item": _item(500)}},
            {"ConditionCheck": {"Key": {}}},
            {"Update": {"Key": {}}},
        ]
    }
    assert units_of("TransactWriteItems", transaction, {}) == (2.0, 4.0, True)
    batch = {"RequestItems": {"t": [{"PutRequest": {"Item": _item(900)}}, {"DeleteRequest": {"Key": {}}}]}}
    assert units_of("BatchWriteItem", batch, {}) == (0.0, 2.0, True)


def test_the_meter_counts_every_call_and_asks_for_the_consumed_capacity(dynamodb: Any) -> None:
    meter = CapacityMeter(dynamodb)
    table = os.environ["TABLE_NAME"]
    dynamodb.put_item(TableName=table, Item={"PK": {"S": "100"}, "SK": {"S": "x"}})
    dynamodb.get_item(TableName=table, Key={"PK": {"S": "100"}, "SK": {"S": "x"}})
    assert dict(meter.calls) == {"PutItem": 1, "GetItem": 1}
    assert (meter.reads, meter.writes) == (0.5, 1.0)
    assert meter.reported > 0  # the store answered ReturnConsumedCapacity
    meter.reset()
    assert not meter.calls
    assert meter.reads == meter.writes == meter.reported == 0

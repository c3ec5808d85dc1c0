"""The capacity model `make bench` reports (devtools/bench/capacity.py) follows DynamoDB's published rules."""

from __future__ import annotations

import os
from typing import Any

import pytest

from devtools.bench.capacity import CapacityMeter, attribute_size, item_size, units_of


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
    indexed_in_one = {"TransactItems": [{"Put": {"Item": indexed}}]}
    assert units_of("TransactWriteItems", indexed_in_one, {}) == (0.0, 5.0, False)  # 2 x 2, the entry once
    batch = {"RequestItems": {"t": [{"PutRequest": {"Item": _item(900)}}, {"DeleteRequest": {"Key": {}}}]}}
    assert units_of("BatchWriteItem", batch, {}) == (0.0, 2.0, True)


@pytest.mark.stores
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


CALLS: list[tuple[str, Any]] = [
    ("PutItem of 3 KB", lambda c, t: c.put_item(TableName=t, Item={"PK": {"S": "1"}, "SK": {"S": "a"}, **_item(3000)})),
    ("PutItem of 1.5 KB in the index", lambda c, t: c.put_item(TableName=t, Item=_indexed(1500))),
    ("GetItem of 5 KB, consistent", lambda c, t: c.get_item(TableName=t, Key=_key("big"), ConsistentRead=True)),
    ("GetItem of 5 KB, eventual", lambda c, t: c.get_item(TableName=t, Key=_key("big"))),
    ("GetItem of nothing", lambda c, t: c.get_item(TableName=t, Key=_key("none"), ConsistentRead=True)),
    (
        "Query of 3 small items",
        lambda c, t: c.query(
            TableName=t,
            KeyConditionExpression="PK = :pk AND begins_with(SK, :s)",
            ExpressionAttributeValues={":pk": {"S": "1"}, ":s": {"S": "small"}},
            ConsistentRead=True,
        ),
    ),
    (
        "BatchWriteItem of 2 x 900 B",
        lambda c, t: c.batch_write_item(
            RequestItems={t: [{"PutRequest": {"Item": {**_key(f"b{i}"), **_item(900)}}} for i in range(2)]}
        ),
    ),
]


def _key(sort: str) -> dict[str, Any]:
    return {"PK": {"S": "1"}, "SK": {"S": sort}}


def _indexed(size: int) -> dict[str, Any]:
    item = {**_key("indexed"), "GSI1PK": {"S": "1#T#1"}, "GSI1SK": {"S": "x"}}
    return {**item, "d": {"S": "x" * (size - item_size(item) - 1)}}


@pytest.mark.reference_only
@pytest.mark.parametrize("name", [name for name, _ in CALLS])
def test_the_model_agrees_with_the_capacity_dynamodb_local_reports(dynamodb: Any, name: str) -> None:
    """moto answers placeholders, so only the reference tier can check the model against computed figures.

    Not TransactWriteItems: DynamoDB Local's figures for it do not follow DynamoDB's documented rules (two Puts of
    500 B in one transaction report 2 units where the rules, 2 per 1 KB per item, make 4), so the model keeps the
    documented rules there."""
    table = os.environ["TABLE_NAME"]
    dynamodb.put_item(TableName=table, Item={**_key("big"), **_item(5000)})
    for i in range(3):
        dynamodb.put_item(TableName=table, Item={**_key(f"small{i}"), **_item(100)})
    meter = CapacityMeter(dynamodb)
    dict(CALLS)[name](dynamodb, table)
    assert (meter.reads + meter.writes, meter.lower_bound) == (meter.reported, False), name

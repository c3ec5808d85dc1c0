"""moto's TransactWriteItems, as the fast tier and the local stack run it: a failed transaction leaves the table
and its stream exactly as they were, without moto's copy of the whole table (devtools.local_stack.store)."""

from __future__ import annotations

import gc
from typing import Any

import pytest
from botocore.exceptions import ClientError

pytestmark = pytest.mark.moto_only


def _put(table: str, pk: str, sk: str, **extra: Any) -> dict[str, Any]:
    item = {"PK": {"S": pk}, "SK": {"S": sk}, **{k: {"S": v} for k, v in extra.items()}}
    return {"Put": {"TableName": table, "Item": item, "ConditionExpression": "attribute_not_exists(PK)"}}


def _stream(dynamodb: Any, table: str) -> list[tuple[str, Any]]:
    import boto3

    streams = boto3.client("dynamodbstreams", region_name="us-east-1")
    arn = dynamodb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    records = streams.get_records(ShardIterator=iterator["ShardIterator"])["Records"]
    return [(r["eventName"], r["dynamodb"]["Keys"]) for r in records]


def test_a_cancelled_transaction_leaves_items_and_stream_as_they_were(dynamodb: Any, table_items: Any) -> None:
    import os

    table = os.environ["TABLE_NAME"]
    dynamodb.transact_write_items(
        TransactItems=[_put(table, "A#1", "X", v="old"), _put(table, "A#1", "Y"), _put(table, "A#1", "W")]
    )
    before, stream_before = table_items(), _stream(dynamodb, table)
    update = {
        "Update": {
            "TableName": table,
            "Key": {"PK": {"S": "A#1"}, "SK": {"S": "X"}},
            "UpdateExpression": "SET v = :new",
            "ExpressionAttributeValues": {":new": {"S": "new"}},
        }
    }
    delete = {"Delete": {"TableName": table, "Key": {"PK": {"S": "A#1"}, "SK": {"S": "Y"}}}}
    # A new partition, an update in place and a delete are written before the last item's condition fails.
    with pytest.raises(ClientError, match="TransactionCanceled"):
        dynamodb.transact_write_items(
            TransactItems=[_put(table, "A#2", "Z"), update, delete, _put(table, "A#1", "W", v="clash")]
        )
    assert sorted(table_items(), key=str) == sorted(before, key=str)
    assert _stream(dynamodb, table) == stream_before


def test_transactions_make_no_copies_of_the_table(dynamodb: Any) -> None:
    import os

    from moto.dynamodb.models.table import Table

    table = os.environ["TABLE_NAME"]
    gc.collect()
    tables_before = sum(isinstance(o, Table) for o in gc.get_objects())
    for n in range(20):
        with pytest.raises(ClientError):
            dynamodb.transact_write_items(TransactItems=[_put(table, f"B#{n}", "X"), _put(table, f"B#{n}", "X")])
        dynamodb.transact_write_items(TransactItems=[_put(table, f"C#{n}", "X"), _put(table, f"C#{n}", "Y")])
    assert sum(isinstance(o, Table) for o in gc.get_objects()) == tables_before

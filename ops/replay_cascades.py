"""Replay failed cascades: restart the cascade delete of every parent named in the dead-letter queue.

When a stream batch of the cascade function exhausts its retries, Lambda sends a message describing it (not the
records) to the on-failure queue: the stream, shard and sequence-number range. This tool reads those records
back from the stream (kept 24 hours), finds the parents they were about (a removed type or member, or a
cascade's cursor) and begins each one's cascade again: its ranges' fresh cursor items start them from the
beginning, which is safe since every step is idempotent. Messages are deleted once their parents are restarted.

    python -m ops.replay_cascades --table TABLE --queue-url URL [--dry-run]
    python -m ops.replay_cascades --table TABLE --account 100 --event-type 7   # after the 24 hours
    python -m ops.replay_cascades --table TABLE --account 100 --member 5

Credentials and region come from the usual AWS environment; add --endpoint-url for the local stack.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterator
from typing import Any

from emma_events.cascade import cursor_state, removed_parent
from emma_events.cascade_store import CascadeStore
from emma_events.config import cascade_index_lag_s
from emma_events.domain import Parent
from ops import add_target, aws_client, one_line_errors, resolve_target


def records_in_batch(streams: Any, batch: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The stream records between a failed batch's first and last sequence numbers (the stream keeps 24 hours)."""
    iterator = streams.get_shard_iterator(
        StreamArn=batch["streamArn"],
        ShardId=batch["shardId"],
        ShardIteratorType="AT_SEQUENCE_NUMBER",
        SequenceNumber=batch["startSequenceNumber"],
    )["ShardIterator"]
    last = int(batch["endSequenceNumber"])
    while iterator:
        page = streams.get_records(ShardIterator=iterator, Limit=1000)
        for record in page["Records"]:
            if int(record["dynamodb"]["SequenceNumber"]) > last:
                return
            yield record
        if not page["Records"]:
            return
        iterator = page.get("NextShardIterator")


def parents_in_batch(streams: Any, batch: dict[str, Any]) -> set[Parent]:
    """The parents of the records between a failed batch's first and last sequence numbers."""
    parents: set[Parent] = set()
    for record in records_in_batch(streams, batch):
        images = record["dynamodb"]
        state = cursor_state(images.get("NewImage"))
        parent = state.parent if state else removed_parent(images.get("OldImage"), images.get("NewImage"))
        if parent is not None:
            parents.add(parent)
    return parents


def restart(store: CascadeStore, parent: Parent) -> None:
    """The parent's cascade begun again: fresh cursors for its ranges, whose stream records start them from the
    beginning (the steps of the failed run stop at their next checkpoint)."""
    lag = cascade_index_lag_s() if parent.kind == "event_type" else 0  # late POSTs of a type just removed
    store.begin(parent, settled_at=time.time() + lag, again=True)


def replay_queue(store: CascadeStore, sqs: Any, streams: Any, queue_url: str, dry_run: bool = False) -> list[Parent]:
    restarted: list[Parent] = []
    while True:
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
            "Messages", []
        )
        if not messages:
            return restarted
        for message in messages:
            batch = json.loads(message["Body"])["DDBStreamBatchInfo"]
            for parent in sorted(parents_in_batch(streams, batch), key=lambda p: (p.account_id, p.kind, p.parent_id)):
                print(f"restart cascade of {parent.kind} {parent.parent_id} in account {parent.account_id}")
                if not dry_run:
                    restart(store, parent)
                restarted.append(parent)
            if not dry_run:
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        if dry_run:
            return restarted


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_target(parser)
    parser.add_argument("--queue-url", help="the stack's CascadeDeadLetterQueueUrl output")
    parser.add_argument("--account", type=int)
    parser.add_argument("--event-type", type=int)
    parser.add_argument("--member", type=int)
    parser.add_argument("--dry-run", action="store_true", help="print what would be restarted; change nothing")
    args = parser.parse_args(argv)
    resolve_target(args)

    store = CascadeStore(args.table, aws_client(args))
    if args.account is not None and (args.event_type is None) != (args.member is None):
        kind, parent_id = ("event_type", args.event_type) if args.event_type is not None else ("member", args.member)
        parent = Parent(kind, args.account, parent_id)
        print(f"restart cascade of {kind} {parent_id} in account {args.account}")
        if not args.dry_run:
            restart(store, parent)
        return 0
    if not args.queue_url:
        parser.error("give --queue-url, or --account with one of --event-type/--member")
    restarted = replay_queue(
        store, aws_client(args, "sqs"), aws_client(args, "dynamodbstreams"), args.queue_url, args.dry_run
    )
    print(f"{len(restarted)} cascade(s) {'would be ' if args.dry_run else ''}restarted")
    return 0


if __name__ == "__main__":
    sys.exit(one_line_errors(main, "replay-cascades"))

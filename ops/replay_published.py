"""Replay the publisher's failed batches: the types' stats and the EventBridge entries of every stream batch named
in its dead-letter queue.

When a batch of the publisher exhausts its retries (its stats kept conflicting, or EventBridge kept refusing its
entries), Lambda sends a message describing it (not the records) to ``PublishDeadLetterQueue``: the stream, shard
and sequence-number range. This tool reads those records back from the stream (kept 24 hours) and processes them
as the function does (emma_events.member_event_stream): each stats change exactly once (its marker, kept 2 days),
then the inserted events' entries (which may reach the bus a second time: EventBridge's delivery is at least once,
and ``event_id`` tells a consumer). A message is deleted once its batch went through whole.

    python -m ops.replay_published --table TABLE --queue-url URL [--dry-run]

Credentials and region come from the usual AWS environment; add --endpoint-url for the local stack.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from emma_events.member_event_stream import process
from emma_events.publisher import Publisher
from emma_events.type_rollups import TypeRollups
from ops import add_target, aws_client, one_line_errors, resolve_target
from ops.replay_cascades import records_in_batch


def replay_queue(
    rollups: TypeRollups, publisher: Publisher, sqs: Any, streams: Any, queue_url: str, dry_run: bool = False
) -> tuple[int, int]:
    """The batches replayed, and those left in the queue (still failing: run again)."""
    replayed = left = 0
    while True:
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
            "Messages", []
        )
        if not messages:
            return replayed, left
        for message in messages:
            batch = json.loads(message["Body"])["DDBStreamBatchInfo"]
            records = list(records_in_batch(streams, batch))
            print(f"batch {batch['startSequenceNumber']}..{batch['endSequenceNumber']}: {len(records)} record(s)")
            if dry_run:
                continue
            outcome = process(records, rollups, publisher)
            if outcome.failures:
                left += 1
                print(f"  still failing from record {outcome.failures[0]}: left in the queue")
                continue
            print(f"  {outcome.added} stats change(s) added, {outcome.published} entr(ies) published")
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
            replayed += 1
        if dry_run or left:
            return replayed, left


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_target(parser)
    parser.add_argument("--queue-url", required=True, help="the stack's PublishDeadLetterQueueUrl output")
    parser.add_argument("--dry-run", action="store_true", help="print the batches; change nothing")
    args = parser.parse_args(argv)
    resolve_target(args)

    rollups = TypeRollups(args.table, aws_client(args))
    replayed, left = replay_queue(
        rollups, Publisher(), aws_client(args, "sqs"), aws_client(args, "dynamodbstreams"), args.queue_url, args.dry_run
    )
    print(f"{replayed} batch(es) replayed, {left} left")
    return 1 if left else 0


if __name__ == "__main__":
    sys.exit(one_line_errors(main, "replay-published"))

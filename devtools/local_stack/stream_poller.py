"""Lambda's event source mapping of a DynamoDB stream, locally: read a table's stream, filter, batch, invoke, retry.

For every function with a ``DynamoDB`` event in the template, a poller thread reads the table's stream (through
the DynamoDB Streams API of the embedded DynamoDB) and, as the event source mapping does:

- keeps only records that match one of the event's ``FilterCriteria`` patterns (moto's EventBridge-pattern
  matcher), and drops the others without invoking;
- invokes the function with up to ``BatchSize`` records (``{"Records": [...]}``);
- on a function error, retries the same batch (up to ``MaximumRetryAttempts``, bisecting it when
  ``BisectBatchOnFunctionError`` is set); on a ``batchItemFailures`` response, retries from the first failed
  record; records that exhaust their retries are logged as sent to the on-failure destination.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from moto.events.models import EventPattern

LOG = logging.getLogger("local_stack.streams")

Invoke = Callable[[str, str], tuple[bool, str]]  # (function name, event JSON) -> (is_error, payload)


@dataclass
class Subscription:
    """One stream subscription of a function in template.yaml (``template.stream_subscriptions``)."""

    function_name: str
    table_logical_id: str
    batch_size: int = 100
    starting_position: str = "TRIM_HORIZON"
    filters: list[EventPattern] = field(default_factory=list)
    maximum_retry_attempts: int = -1  # -1: until the record expires, as on AWS
    bisect_on_error: bool = False
    report_batch_item_failures: bool = False

    @classmethod
    def from_event(cls, function_name: str, properties: dict[str, Any], table_logical_id: str) -> Subscription:
        patterns = [f["Pattern"] for f in (properties.get("FilterCriteria") or {}).get("Filters", [])]
        return cls(
            function_name=function_name,
            table_logical_id=table_logical_id,
            batch_size=int(properties.get("BatchSize", 100)),
            starting_position=properties.get("StartingPosition", "TRIM_HORIZON"),
            filters=[EventPattern.load(p if isinstance(p, str) else json.dumps(p)) for p in patterns],
            maximum_retry_attempts=int(properties.get("MaximumRetryAttempts", -1)),
            bisect_on_error=bool(properties.get("BisectBatchOnFunctionError", False)),
            report_batch_item_failures="ReportBatchItemFailures" in properties.get("FunctionResponseTypes", []),
        )

    def matches(self, record: dict[str, Any]) -> bool:
        return not self.filters or any(pattern.matches_event(record) for pattern in self.filters)  # type: ignore[arg-type]


def lambda_record(record: dict[str, Any], stream_arn: str) -> dict[str, Any]:
    """A record of the Streams API in the shape Lambda delivers it (JSON-safe, with ``eventSourceARN``)."""
    dynamodb = {k: _base64(v) if k in IMAGES else v for k, v in record["dynamodb"].items()}
    created = dynamodb.get("ApproximateCreationDateTime")
    if isinstance(created, datetime):
        dynamodb["ApproximateCreationDateTime"] = created.timestamp()
    return {**record, "dynamodb": dynamodb, "eventSourceARN": stream_arn}


IMAGES = ("Keys", "NewImage", "OldImage")


def _base64(value: Any) -> Any:
    """Binary values (``B``, ``BS``) as Lambda's JSON carries them: base64 text."""
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode()
    if isinstance(value, dict):
        return {k: _base64(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_base64(v) for v in value]
    return value


class StreamPoller(threading.Thread):
    """Polls one table's stream for one subscription."""

    def __init__(
        self,
        subscription: Subscription,
        streams_client: Any,
        stream_arn: str,
        invoke: Invoke,
        interval: float = 0.2,
        retry_delay: float = 0.05,
    ) -> None:
        super().__init__(name=f"stream:{subscription.function_name}", daemon=True)
        self.subscription = subscription
        self.streams = streams_client
        self.stream_arn = stream_arn
        self.invoke = invoke
        self.interval = interval
        self.retry_delay = retry_delay
        self.stopping = threading.Event()
        self._iterators: dict[str, str | None] = {}
        self._last_sequence: dict[str, str] = {}
        self.invocations = 0

    def stop(self) -> None:
        self.stopping.set()

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                if not self.poll_once():
                    self.stopping.wait(self.interval)
            except Exception:
                LOG.exception("stream poller for %s failed; retrying", self.subscription.function_name)
                self.stopping.wait(1)

    def open_iterators(self) -> list[str]:
        """Position on every shard not yet read (at the subscription's ``StartingPosition``); the shard ids."""
        shards = self.streams.describe_stream(StreamArn=self.stream_arn)["StreamDescription"]["Shards"]
        for shard in shards:
            if shard["ShardId"] not in self._iterators:
                self._iterators[shard["ShardId"]] = self.streams.get_shard_iterator(
                    StreamArn=self.stream_arn,
                    ShardId=shard["ShardId"],
                    ShardIteratorType=self.subscription.starting_position,
                )["ShardIterator"]
        return [shard["ShardId"] for shard in shards]

    def poll_once(self) -> bool:
        """Read every shard once and deliver what matched. True when any record was read."""
        read_any = False
        for shard_id in self.open_iterators():
            iterator = self._iterators[shard_id]
            if iterator is None:
                continue  # a closed shard, fully read
            page = self.streams.get_records(ShardIterator=iterator, Limit=1000)
            self._iterators[shard_id] = page.get("NextShardIterator")
            if page["Records"]:
                self._last_sequence[shard_id] = page["Records"][-1]["dynamodb"]["SequenceNumber"]
            elif shard_id in self._last_sequence and self._iterators[shard_id] is not None:
                # Re-position after the last record read. Iterators expire on DynamoDB (15 minutes), and moto
                # replaces a table's stream shard with a copy when a transaction is cancelled, which leaves
                # older iterators reading a shard that no longer grows.
                self._iterators[shard_id] = self.streams.get_shard_iterator(
                    StreamArn=self.stream_arn,
                    ShardId=shard_id,
                    ShardIteratorType="AFTER_SEQUENCE_NUMBER",
                    SequenceNumber=self._last_sequence[shard_id],
                )["ShardIterator"]
            records = [lambda_record(r, self.stream_arn) for r in page["Records"]]
            read_any = read_any or bool(records)
            matching = [r for r in records if self.subscription.matches(r)]
            for start in range(0, len(matching), self.subscription.batch_size):
                self._deliver(matching[start : start + self.subscription.batch_size])
        return read_any

    def _deliver(self, batch: list[dict[str, Any]]) -> None:
        """Invoke until the batch succeeds, its records are reported done, or the retries run out."""
        pending, attempt = batch, 0
        while pending and not self.stopping.is_set():
            self.invocations += 1
            is_error, payload = self.invoke(self.subscription.function_name, json.dumps({"Records": pending}))
            if not is_error:
                failed = self._failed_from(pending, payload)
                if failed is None:
                    return
                pending = failed  # checkpoint before the first failed record, retry from there
            elif self.subscription.bisect_on_error and len(pending) > 1:
                half = len(pending) // 2
                self._deliver(pending[:half])
                pending = pending[half:]
                continue
            attempt += 1
            limit = self.subscription.maximum_retry_attempts
            if 0 <= limit < attempt:
                LOG.error(
                    "%s: %d record(s) failed %d times; discarded (on-failure destination): %s",
                    self.subscription.function_name,
                    len(pending),
                    attempt,
                    [r["eventID"] for r in pending],
                )
                return
            time.sleep(min(self.retry_delay * 2**attempt, 2))

    def _failed_from(self, batch: list[dict[str, Any]], payload: str) -> list[dict[str, Any]] | None:
        """The records to retry after a partial-batch response, or None when the whole batch succeeded."""
        if not self.subscription.report_batch_item_failures:
            return None
        try:
            failures = (json.loads(payload) or {}).get("batchItemFailures") or []
        except (ValueError, AttributeError):
            return None
        ids = [f.get("itemIdentifier") for f in failures]
        if not ids:
            return None
        positions = [i for i, r in enumerate(batch) if r["dynamodb"].get("SequenceNumber") in ids]
        if not positions or len(positions) != len(ids):  # an unknown identifier fails the whole batch on AWS
            return batch
        return batch[min(positions) :]

"""Stream consumer: deletes the events of a removed event type or member, in ranges, one bounded step per record;
and makes the runs of large searches that reads ask for (search_runs.py).

Invoked by the table's stream through an event source mapping whose FilterCriteria (template.yaml) let through
only parent removals, the cascade's own cursor writes and searches' run requests. The records of a batch (each a
range of some cascade, or a run; two of one range only when the stream delivers a record again, and then the older
one's chain ends at its checkpoint) are stepped side by side, each in a thread; Powertools' batch processor reports
each failed record in ``batchItemFailures``, so the mapping retries from there.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import AsyncBatchProcessor, EventType, async_process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

from emma_events import settles_init
from emma_events.cascade import Cascade, StepResult, cursor_state, describe, removed_parent
from emma_events.config import METRICS_NAMESPACE, settings
from emma_events.publisher import EVENT_TYPE_DELETED, MEMBER_DELETED, Publisher, entry
from emma_events.search_runs import requested
from emma_events.stores import cascades, searches

logger = Logger()
metrics = Metrics(namespace=METRICS_NAMESPACE)
processor = AsyncBatchProcessor(event_type=EventType.DynamoDBStreams)
publisher = Publisher()
#: One thread per record of a batch (the mapping's BatchSize).
steps = ThreadPoolExecutor(max_workers=10, thread_name_prefix="range")


def step(record: DynamoDBRecord, lambda_context: Any) -> StepResult | None:
    images = record.raw_event["dynamodb"]
    new_image, old_image = images.get("NewImage"), images.get("OldImage")
    config = settings()
    run = requested(new_image)
    if run is not None:  # a large search's run, asked for by a read (search_runs.py), within the step's time
        margin_ms = config.cascade_time_margin_ms
        found = searches().run_outside(run, lambda: (lambda_context.get_remaining_time_in_millis() - margin_ms) / 1000)
        logger.info("search run", extra={"account_id": run.account_id, "search_id": run.search_id, "found": found})
        return None
    cascade = Cascade(
        cascades(),
        time_margin_ms=config.cascade_time_margin_ms,
        page_size=config.cascade_page_size,
        index_lag_s=config.cascade_index_lag_s,
        key_writes_per_s=config.cascade_key_writes_per_s,
    )
    state = cursor_state(new_image)
    parent = removed_parent(old_image, new_image)
    if state is not None:
        result = cascade.step(state, lambda_context)
    elif parent is not None:
        result = cascade.start(parent, lambda_context)
    else:
        logger.warning(
            "record is neither a parent removal, a cascade cursor nor a search run", extra={"keys": images.get("Keys")}
        )
        return None
    if result.done:
        # On the bus once the parent's last event is gone, then the cascade's item goes. Should either call fail,
        # the record is retried: its range finds nothing left, finishes again and publishes then (at least once,
        # as EventBridge delivers).
        kind = result.parent.kind
        detail = {
            "account_id": result.parent.account_id,
            f"{kind}_id": result.parent.parent_id,
            "events_deleted": result.total,
        }
        publisher.publish([entry(EVENT_TYPE_DELETED if kind == "event_type" else MEMBER_DELETED, detail)])
        if kind == "event_type":
            cascade.store.drop_type_stats(result.parent)
        cascade.store.close(result.parent)
    return result


async def record_handler(record: DynamoDBRecord, lambda_context: Any) -> None:
    result = await asyncio.get_running_loop().run_in_executor(steps, step, record, lambda_context)
    if result is None:
        return
    logger.info("cascade step", extra=describe(result))  # here, in the event loop's one thread
    metrics.add_metric(name="CascadeSteps", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="EventsDeleted", unit=MetricUnit.Count, value=result.deleted)
    if result.done:
        metrics.add_metric(name="CascadesCompleted", unit=MetricUnit.Count, value=1)
        metrics.add_metric(name="EventsDeletedPerCascade", unit=MetricUnit.Count, value=result.total)


@settles_init
@metrics.log_metrics
@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> PartialItemFailureResponse:
    return async_process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )

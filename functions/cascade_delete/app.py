"""Stream consumer: deletes the events of a removed event type or member, one bounded step per record.

Invoked by the table's stream through an event source mapping whose FilterCriteria (template.yaml) let through
only parent removals and the cascade's own cursor writes. Powertools' batch processor reports each failed
record in ``batchItemFailures``, so the mapping retries from there.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

from emma_events import settles_init
from emma_events.cascade import Cascade, cursor_state, describe, removed_parent
from emma_events.config import METRICS_NAMESPACE, settings
from emma_events.publisher import EVENT_TYPE_DELETED, MEMBER_DELETED, Publisher, entry
from emma_events.stores import cascades

logger = Logger()
metrics = Metrics(namespace=METRICS_NAMESPACE)
processor = BatchProcessor(event_type=EventType.DynamoDBStreams)
publisher = Publisher()


def record_handler(record: DynamoDBRecord, lambda_context: Any) -> None:
    images = record.raw_event["dynamodb"]
    new_image, old_image = images.get("NewImage"), images.get("OldImage")
    config = settings()
    cascade = Cascade(
        cascades(),
        time_margin_ms=config.cascade_time_margin_ms,
        page_size=config.cascade_page_size,
        index_lag_s=config.cascade_index_lag_s,
    )
    state = cursor_state(new_image)
    parent = removed_parent(old_image, new_image)
    if state is not None:
        result = cascade.step(state, lambda_context)
    elif parent is not None:
        result = cascade.start(parent, lambda_context)
    else:
        logger.warning("record is neither a parent removal nor a cascade cursor", extra={"keys": images.get("Keys")})
        return
    logger.info("cascade step", extra=describe(result))
    metrics.add_metric(name="CascadeSteps", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="EventsDeleted", unit=MetricUnit.Count, value=result.deleted)
    if result.done:
        metrics.add_metric(name="CascadesCompleted", unit=MetricUnit.Count, value=1)
        metrics.add_metric(name="EventsDeletedPerCascade", unit=MetricUnit.Count, value=result.total)
        # On the bus once the parent's last event is gone. Should the call fail, the record is retried: the step
        # finds nothing left, finishes again and publishes then (at least once, as EventBridge delivers).
        kind = result.parent.kind
        detail = {
            "account_id": result.parent.account_id,
            f"{kind}_id": result.parent.parent_id,
            "events_deleted": result.total,
        }
        publisher.publish([entry(EVENT_TYPE_DELETED if kind == "event_type" else MEMBER_DELETED, detail)])


@settles_init
@metrics.log_metrics
@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> PartialItemFailureResponse:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)

"""Stream consumer: adds every recorded member event to its type's stats, and puts it on the EventBridge bus as
``Member Event Recorded`` (emma_events.member_event_stream).

Invoked by the table's stream through an event source mapping whose FilterCriteria (template.yaml) let through
only the inserts and deletions of member events: an event is published once its batch is committed, never for a
rejected one. The records whose stats change still failed after the retries (the first of them), or whose entries
EventBridge still refuses, are reported in ``batchItemFailures``, so the mapping retries from the first of them,
bisects, and finally hands the batch to the on-failure queue (``ops.replay_published`` replays it).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from emma_events import settles_init
from emma_events.config import METRICS_NAMESPACE
from emma_events.member_event_stream import process
from emma_events.publisher import Publisher
from emma_events.stores import rollups

logger = Logger()
metrics = Metrics(namespace=METRICS_NAMESPACE)
publisher = Publisher()


@settles_init
@metrics.log_metrics
@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    outcome = process(event["Records"], rollups(), publisher)
    if outcome.skipped:
        logger.warning("records that are no member event's insert or deletion", extra={"skipped": outcome.skipped})
    if outcome.deferred:  # conflicts past the retries: the stream delivers them again
        logger.warning("stats changes not applied", extra={"unapplied": outcome.deferred})
        metrics.add_metric(name="StatsChangesDeferred", unit=MetricUnit.Count, value=outcome.deferred)
    if outcome.unpublished:
        logger.error("entries not published", extra={"refused": outcome.unpublished})
        metrics.add_metric(name="EventsNotPublished", unit=MetricUnit.Count, value=outcome.unpublished)
    metrics.add_metric(name="StatsChangesApplied", unit=MetricUnit.Count, value=outcome.added)
    metrics.add_metric(name="EventsPublished", unit=MetricUnit.Count, value=outcome.published)
    return {"batchItemFailures": [{"itemIdentifier": sequence} for sequence in outcome.failures]}

"""Stream consumer: adds every recorded member event to its type's stats, and puts it on the EventBridge bus as
``Member Event Recorded``.

Invoked by the table's stream through an event source mapping whose FilterCriteria (template.yaml) let through
only the inserts and deletions of member events: an event is published once its batch is committed, never for a
rejected one. First the batch's changes go to the types' stats (emma_events.type_rollups: an insert added, a
member's cascade's deletion taken off, each exactly once however often a record comes); then the inserted events
go out 10 to a PutEvents call (emma_events.publisher). Records whose stats change still conflicted after the
retries, or whose entries EventBridge still refuses, are reported in ``batchItemFailures``, so the mapping
retries from the first of them (entries after it may go out twice, as EventBridge's delivery is at least once;
stats never count twice), bisects, and finally hands them to the on-failure queue.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from emma_events import settles_init
from emma_events.config import METRICS_NAMESPACE
from emma_events.event_models import MemberEventResponse
from emma_events.layout import event_of
from emma_events.publisher import MEMBER_EVENT_RECORDED, Publisher, PublishFailed, entry
from emma_events.stores import rollups
from emma_events.type_rollups import Change

logger = Logger()
metrics = Metrics(namespace=METRICS_NAMESPACE)
publisher = Publisher()


def changes_of(records: list[dict[str, Any]]) -> list[tuple[str, Change]]:
    """(sequence number, change) for each member event a record inserts or deletes, in stream order."""
    found = []
    for record in records:
        images = record["dynamodb"]
        new, old = images.get("NewImage"), images.get("OldImage")
        image, sign = (new, 1) if new else (old, -1)
        if not image or image.get("entity", {}).get("S") != "member_event":  # the filter lets nothing else through
            logger.warning("record is not a member event's insert or deletion", extra={"keys": images.get("Keys")})
            continue
        found.append((images["SequenceNumber"], Change(event_of(image), sign)))
    return found


def entries_of(changes: list[tuple[str, Change]]) -> list[tuple[str, dict[str, Any]]]:
    """(sequence number, entry) for each inserted event."""
    return [
        (sequence, entry(MEMBER_EVENT_RECORDED, MemberEventResponse.of(change.event).model_dump(mode="json")))
        for sequence, change in changes
        if change.sign > 0
    ]


@settles_init
@metrics.log_metrics
@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    changes = changes_of(event["Records"])
    added, unapplied = rollups().apply([change for _, change in changes])
    metrics.add_metric(name="StatsChangesApplied", unit=MetricUnit.Count, value=added)
    failures = [changes[index][0] for index in unapplied]
    if failures:  # conflicts past the retries: the stream delivers them again (the entries go out meanwhile)
        logger.warning("stats changes not applied", extra={"unapplied": len(failures)})
        metrics.add_metric(name="StatsChangesDeferred", unit=MetricUnit.Count, value=len(failures))
    found = entries_of(changes)
    try:
        publisher.publish([item for _, item in found])
    except PublishFailed as error:
        refused = {id(item) for item, _ in error.failed}
        unpublished = [sequence for sequence, item in found if id(item) in refused]
        logger.error("entries not published", extra={"refused": len(unpublished), "error": str(error)})
        metrics.add_metric(name="EventsPublished", unit=MetricUnit.Count, value=len(found) - len(unpublished))
        metrics.add_metric(name="EventsNotPublished", unit=MetricUnit.Count, value=len(unpublished))
        failures += unpublished
    else:
        metrics.add_metric(name="EventsPublished", unit=MetricUnit.Count, value=len(found))
    return {"batchItemFailures": [{"itemIdentifier": sequence} for sequence in failures]}

"""Stream consumer: adds every recorded member event to its type's stats, and puts it on the EventBridge bus as
``Member Event Recorded``.

Invoked by the table's stream through an event source mapping whose FilterCriteria (template.yaml) let through
only the inserts and deletions of member events: an event is published once its batch is committed, never for a
rejected one. First the batch's changes go to the types' stats (emma_events.type_rollups: an insert added, a
member's cascade's deletion taken off, each exactly once however often a record comes); then the inserted events
go out 10 to a PutEvents call (emma_events.publisher). The first record whose stats change still failed after the
retries, and those whose entries EventBridge still refuses, are reported in ``batchItemFailures``, so the mapping
retries from the first of them (bisects, and finally hands them to the on-failure queue); the entries from the
first stats failure on wait for that delivery (an entry goes out twice only when EventBridge refused another).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from emma_events import settles_init
from emma_events.config import METRICS_NAMESPACE
from emma_events.event_models import MemberEventResponse
from emma_events.keys import TALLIED
from emma_events.layout import event_of
from emma_events.publisher import MEMBER_EVENT_RECORDED, Publisher, PublishFailed, entry
from emma_events.stores import rollups
from emma_events.type_rollups import Change

logger = Logger()
metrics = Metrics(namespace=METRICS_NAMESPACE)
publisher = Publisher()


def changes_of(records: list[dict[str, Any]]) -> list[tuple[str, Change, bool]]:
    """(sequence number, change, whether it counts in the stats) for each member event a record inserts or deletes,
    in stream order. An event counts once it is ``tallied`` (written so by this release; ``ops.tally_events`` adds
    older ones), so a deletion takes off exactly the events an insert or the tool added."""
    found = []
    for record in records:
        images = record["dynamodb"]
        new, old = images.get("NewImage"), images.get("OldImage")
        image, sign = (new, 1) if new else (old, -1)
        if not image or image.get("entity", {}).get("S") != "member_event":  # the filter lets nothing else through
            logger.warning("record is not a member event's insert or deletion", extra={"keys": images.get("Keys")})
            continue
        found.append((images["SequenceNumber"], Change(event_of(image), sign), TALLIED in image))
    return found


def entries_of(changes: list[tuple[str, Change, bool]]) -> list[tuple[str, dict[str, Any]]]:
    """(sequence number, entry) for each inserted event."""
    return [
        (sequence, entry(MEMBER_EVENT_RECORDED, MemberEventResponse.of(change.event).model_dump(mode="json")))
        for sequence, change, _ in changes
        if change.sign > 0
    ]


@settles_init
@metrics.log_metrics
@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    changes = changes_of(event["Records"])
    counted = [(sequence, change) for sequence, change, tallied in changes if tallied]
    added, unapplied = rollups().apply([change for _, change in counted])
    metrics.add_metric(name="StatsChangesApplied", unit=MetricUnit.Count, value=added)
    found = entries_of(changes)
    failures: list[str] = []
    if unapplied:  # the stream delivers the batch again from the first of them: publish only what comes before
        first = counted[unapplied[0]][0]
        failures.append(first)
        logger.warning("stats changes not applied", extra={"unapplied": len(unapplied)})
        metrics.add_metric(name="StatsChangesDeferred", unit=MetricUnit.Count, value=len(unapplied))
        found = found[: next((n for n, (sequence, _) in enumerate(found) if int(sequence) >= int(first)), len(found))]
    try:
        publisher.publish([item for _, item in found])
    except PublishFailed as error:
        refused = {id(item) for item, _ in error.failed}
        unpublished = [sequence for sequence, item in found if id(item) in refused]
        logger.error("entries not published", extra={"refused": len(unpublished), "error": str(error)})
        metrics.add_metric(name="EventsPublished", unit=MetricUnit.Count, value=len(found) - len(unpublished))
        metrics.add_metric(name="EventsNotPublished", unit=MetricUnit.Count, value=len(unpublished))
        failures += [sequence for sequence in unpublished if sequence not in failures]
    else:
        metrics.add_metric(name="EventsPublished", unit=MetricUnit.Count, value=len(found))
    return {"batchItemFailures": [{"itemIdentifier": sequence} for sequence in failures]}

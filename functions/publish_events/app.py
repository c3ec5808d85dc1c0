"""Stream consumer: puts every recorded member event on the EventBridge bus as ``Member Event Recorded``.

Invoked by the table's stream through an event source mapping whose FilterCriteria (template.yaml) let through
only the inserts of member events: an event is published once its batch is committed, never for a rejected one.
Entries go out 10 to a PutEvents call (emma_events.publisher); records whose entries EventBridge still refuses
after the retries are reported in ``batchItemFailures``, so the mapping retries from the first of them, bisects,
and finally hands them to the on-failure queue.
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

logger = Logger()
metrics = Metrics(namespace=METRICS_NAMESPACE)
publisher = Publisher()


def entries_of(records: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    """(sequence number, entry) for each member event a record inserts, in stream order."""
    found = []
    for record in records:
        image = record["dynamodb"].get("NewImage") or {}
        if image.get("entity", {}).get("S") != "member_event":  # the filter lets nothing else through
            logger.warning("record is not a member event's insert", extra={"keys": record["dynamodb"].get("Keys")})
            continue
        detail = MemberEventResponse.of(event_of(image)).model_dump(mode="json")
        found.append((record["dynamodb"]["SequenceNumber"], entry(MEMBER_EVENT_RECORDED, detail)))
    return found


@settles_init
@metrics.log_metrics
@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    found = entries_of(event["Records"])
    try:
        publisher.publish([item for _, item in found])
    except PublishFailed as error:
        refused = {id(item) for item, _ in error.failed}
        failures = [sequence for sequence, item in found if id(item) in refused]
        logger.error("entries not published", extra={"refused": len(failures), "error": str(error)})
        metrics.add_metric(name="EventsPublished", unit=MetricUnit.Count, value=len(found) - len(failures))
        metrics.add_metric(name="EventsNotPublished", unit=MetricUnit.Count, value=len(failures))
        return {"batchItemFailures": [{"itemIdentifier": sequence} for sequence in failures]}
    metrics.add_metric(name="EventsPublished", unit=MetricUnit.Count, value=len(found))
    return {"batchItemFailures": []}

"""The API functions' structured logs and metrics (CloudWatch embedded metric format: written with the logs, no API
call), namespace POWERTOOLS_METRICS_NAMESPACE; docs/operations.md."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit, SchemaValidationError

from emma_events.config import METRICS_NAMESPACE

logger = Logger()
metrics = Metrics(namespace=METRICS_NAMESPACE)


def count(metric: str, value: int = 1) -> None:
    """Add to one of the API's business metrics (EventsRecorded, EventTypesCreated, ...) for this request."""
    metrics.add_metric(name=metric, unit=MetricUnit.Count, value=value)


def write_metrics() -> None:
    """Write this request's metrics document (Powertools' ``log_metrics`` does the same, but lets a failure to
    write fail the request). Metrics are never worth an answer: a document that cannot be written is logged and
    dropped. (Powertools keeps one metric set per process; calls running at once in one process, as the tests'
    in-process invocations do, can empty it under each other.)"""
    try:
        metrics.flush_metrics()
    except SchemaValidationError as error:
        logger.warning("metrics not written", extra={"error": str(error)})
    finally:  # with POWERTOOLS_METRICS_DISABLED the flush keeps the set, which Powertools prints at 100 values
        metrics.clear_metrics()

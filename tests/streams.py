"""Drive the cascade function from the table's real stream (moto's DynamoDB Streams API), as Lambda's event
source mapping would: the template's FilterCriteria and BatchSize, partial-batch retries. Nothing hand-written."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import boto3

from devtools.local_stack.stream_poller import StreamPoller, Subscription
from devtools.local_stack.template import stream_subscriptions
from devtools.testing.in_process import LambdaContext, load_function


class BudgetContext(LambdaContext):
    """A Lambda context whose remaining time runs out after ``checks`` calls (None: never)."""

    def __init__(self, checks: int | None = None) -> None:
        super().__init__()
        self.checks = checks

    def get_remaining_time_in_millis(self) -> int:
        if self.checks is None:
            return 900_000
        self.checks -= 1
        return 900_000 if self.checks >= 0 else 0


@dataclass
class StreamDriver:
    """Attaches a stream consumer (``function``, its folder ``folder``) to the stream when created, at its end
    (``LATEST``): the records of the test's setup are not read, as for a mapping created after them.
    ``from_start`` reads the whole stream (``TRIM_HORIZON``) instead."""

    context: Callable[[], LambdaContext] = LambdaContext
    from_start: bool = False
    invocations: list[list[dict[str, Any]]] = field(default_factory=list)
    function: str = "CascadeDeleteFunction"
    folder: str = "cascade_delete"

    def __post_init__(self) -> None:
        (properties,) = [p for name, p, _ in stream_subscriptions() if name == self.function]
        self.subscription = Subscription.from_event(self.function, properties, "EventsTable")
        if not self.from_start:
            self.subscription.starting_position = "LATEST"
        table = boto3.client("dynamodb").describe_table(TableName=os.environ["TABLE_NAME"])["Table"]
        streams = boto3.client("dynamodbstreams")
        self.poller = StreamPoller(self.subscription, streams, table["LatestStreamArn"], self._invoke, retry_delay=0)
        self.poller.open_iterators()

    def _invoke(self, name: str, event_json: str) -> tuple[bool, str]:
        event = json.loads(event_json)
        self.invocations.append(event["Records"])
        try:
            result = load_function(self.folder).lambda_handler(event, self.context())
        except Exception as error:  # a function error: the mapping retries the batch
            return True, json.dumps({"errorType": type(error).__name__, "errorMessage": str(error)})
        return False, json.dumps(result)

    def drain(self, max_polls: int = 10_000) -> int:
        """Deliver every record until the stream is quiet; returns the number of polls."""
        for polls in range(1, max_polls + 1):
            if not self.poller.poll_once():
                return polls
        raise AssertionError("the stream never went quiet")

    @property
    def delivered(self) -> list[dict[str, Any]]:
        return [record for batch in self.invocations for record in batch]


#: The cascade's consumer: the tests' usual driver.
CascadeDriver = StreamDriver


def publisher_driver(**options: Any) -> StreamDriver:
    """The EventBridge publisher's consumer (it also keeps the types' stats), from the stream's end."""
    return StreamDriver(function="PublishEventsFunction", folder="publish_events", **options)


class FakeEventBridge:
    """PutEvents that refuses the entries ``refuse(call number, entry)`` names, with ThrottlingException."""

    def __init__(self, refuse: Any = lambda call, item: False) -> None:
        self.refuse = refuse
        self.calls: list[list[dict[str, Any]]] = []

    def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        self.calls.append(Entries)
        answers = [
            {"ErrorCode": "ThrottlingException", "ErrorMessage": "Rate exceeded"}
            if self.refuse(len(self.calls), item)
            else {"EventId": f"id-{len(self.calls)}-{n}"}
            for n, item in enumerate(Entries)
        ]
        return {"FailedEntryCount": sum("ErrorCode" in a for a in answers), "Entries": answers}

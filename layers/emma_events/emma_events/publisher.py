"""Amazon EventBridge: what the stack tells the user's own systems, and how it gets there.

Every recorded member event goes on the bus as ``Member Event Recorded`` (the event as the API returns it, with
the account id), from the table's stream: it is published once it is committed, and never for a rejected batch.
A finished cascade delete publishes ``Event Type Deleted`` or ``Member Deleted``. All with ``source``
``emma-events``. Entries go out in PutEvents calls of at most 10 entries and less than 256 KB together (the
entry size as EventBridge computes it); entries a call reports failed (``FailedEntryCount``) are sent again, a
few times, and what still fails raises ``PublishFailed`` so that the stream retries, bisects and finally hands
the records to the on-failure queue.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from botocore.exceptions import ClientError

from emma_events import retry

SOURCE = "emma-events"
MEMBER_EVENT_RECORDED = "Member Event Recorded"
EVENT_TYPE_DELETED = "Event Type Deleted"
MEMBER_DELETED = "Member Deleted"

#: PutEvents takes at most 10 entries, whose sizes add up to less than 256 KB (EventBridge user guide,
#: "Calculating PutEvents event entry size").
MAX_ENTRIES_PER_CALL = 10
MAX_CALL_BYTES = 256 * 1024
#: Calls per batch: the first and the retries of the entries that failed.
PUT_EVENTS_CALLS = 4
#: PutEvents calls of one invocation side by side (a stream batch of 100 records: 10 calls).
CALLS_IN_FLIGHT = 10


class PublishFailed(Exception):
    """Entries that EventBridge still refused after the retries; ``failed`` holds them with their error codes."""

    def __init__(self, failed: list[tuple[dict[str, Any], str]]) -> None:
        codes = sorted({code for _, code in failed})
        super().__init__(f"{len(failed)} entries not published after {PUT_EVENTS_CALLS} attempts: {', '.join(codes)}")
        self.failed = failed


def entry(detail_type: str, detail: dict[str, Any], bus_name: str | None = None) -> dict[str, Any]:
    """One PutEvents entry."""
    return {
        "Source": SOURCE,
        "DetailType": detail_type,
        "Detail": json.dumps(detail, separators=(",", ":"), ensure_ascii=False),
        "EventBusName": bus_name or os.environ["EVENT_BUS_NAME"],
    }


def entry_size(item: dict[str, Any]) -> int:
    """An entry's size as EventBridge counts it: Source, DetailType, Detail and Resources in UTF-8, Time 14."""
    size = 14 if "Time" in item else 0
    size += sum(len(item.get(field, "").encode()) for field in ("Source", "DetailType", "Detail"))
    return size + sum(len(resource.encode()) for resource in item.get("Resources", []))


def batches(entries: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    """The entries in order, in groups that one PutEvents call takes."""
    batch: list[dict[str, Any]] = []
    used = 0
    for item in entries:
        size = entry_size(item)
        if batch and (len(batch) == MAX_ENTRIES_PER_CALL or used + size >= MAX_CALL_BYTES):
            yield batch
            batch, used = [], 0
        batch.append(item)
        used += size
    if batch:
        yield batch


def new_client() -> Any:
    """An EventBridge client: short timeouts and standard retries (``max_attempts`` counts the retries after the
    first attempt: 4 attempts in all), as the DynamoDB client."""
    from botocore.config import Config

    from emma_events.clients import new_client

    config = Config(connect_timeout=1, read_timeout=4, retries={"mode": "standard", "max_attempts": 3})
    return new_client("events", config)


class Publisher:
    def __init__(self, client: Any = None, *, retry_delay_s: float = 0.1) -> None:
        self._client = client
        self.retry_delay_s = retry_delay_s

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = new_client()
        return self._client

    def publish(self, entries: list[dict[str, Any]]) -> int:
        """Put every entry on its bus, up to ``CALLS_IN_FLIGHT`` calls side by side; the number of PutEvents calls
        made. ``PublishFailed`` when some entries were still refused after ``PUT_EVENTS_CALLS`` calls (the others
        are published)."""
        groups = list(batches(entries))
        if not groups:
            return 0
        if len(groups) == 1:
            outcomes = [self._put(groups[0])]
        else:
            with ThreadPoolExecutor(max_workers=min(CALLS_IN_FLIGHT, len(groups))) as pool:
                outcomes = list(pool.map(self._put, groups))
        refused = [failure for _, failures in outcomes for failure in failures]
        if refused:
            raise PublishFailed(refused)
        return sum(calls for calls, _ in outcomes)

    def _put(self, batch: list[dict[str, Any]]) -> tuple[int, list[tuple[dict[str, Any], str]]]:
        """One group's calls: the first, and the retries of its refused entries; the calls and what stayed refused."""
        pending, last_codes = batch, []
        for attempt in range(PUT_EVENTS_CALLS):
            if attempt:
                retry.pause(attempt - 1, self.retry_delay_s, 1.0)
            try:
                answer = self.client.put_events(Entries=pending)
            except ClientError as error:  # after the SDK's own retries: this group's entries, not the batch's
                return attempt + 1, [(sent, error.response["Error"]["Code"]) for sent in pending]
            if not answer.get("FailedEntryCount"):
                return attempt + 1, []
            # The answer's entries are in the order of the request's; the failed ones carry an ErrorCode.
            failed = [(sent, got) for sent, got in zip(pending, answer["Entries"], strict=True) if "ErrorCode" in got]
            pending = [sent for sent, _ in failed]
            last_codes = [got["ErrorCode"] for _, got in failed]
        return PUT_EVENTS_CALLS, list(zip(pending, last_codes, strict=True))

"""What the table stream's member-event records become: changes of the types' stats and entries on the bus, in
that order (functions/publish_events, and ``ops.replay_published`` for batches the mapping gave up on).

Only events marked ``tallied`` count in the stats (written so by this release; the ops tools add older ones in the
transaction that marks them), so a deletion takes off exactly the events an insert or a tool added. A record whose
stats change still fails after the retries is the first to deliver again: the entries from it on wait for that
delivery (an entry goes out twice only when EventBridge refused another of its batch).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from emma_events.event_models import MemberEventResponse
from emma_events.keys import TALLIED
from emma_events.layout import event_of
from emma_events.publisher import MEMBER_EVENT_RECORDED, Publisher, PublishFailed, entry
from emma_events.type_rollups import Change, TypeRollups


@dataclass
class Outcome:
    """What a batch's processing did, and the records to deliver again (the first of them is where it resumes)."""

    added: int = 0  # stats changes added now
    deferred: int = 0  # stats changes left for the next delivery
    published: int = 0
    unpublished: int = 0
    failures: list[str] = field(default_factory=list)  # sequence numbers, each once
    skipped: int = 0  # records that are no member event's insert or deletion


def changes_of(records: list[dict[str, Any]]) -> tuple[list[tuple[str, Change, bool]], int]:
    """(sequence number, change, whether it counts in the stats) for each member event a record inserts or deletes,
    in stream order; and how many records were neither (the mapping's filter lets none through)."""
    found, skipped = [], 0
    for record in records:
        images = record["dynamodb"]
        new, old = images.get("NewImage"), images.get("OldImage")
        image, sign = (new, 1) if new else (old, -1)
        if not image or image.get("entity", {}).get("S") != "member_event":
            skipped += 1
            continue
        found.append((images["SequenceNumber"], Change(event_of(image), sign), TALLIED in image))
    return found, skipped


def entries_of(changes: list[tuple[str, Change, bool]]) -> list[tuple[str, dict[str, Any]]]:
    """(sequence number, entry) for each inserted event."""
    return [
        (sequence, entry(MEMBER_EVENT_RECORDED, MemberEventResponse.of(change.event).model_dump(mode="json")))
        for sequence, change, _ in changes
        if change.sign > 0
    ]


def process(records: list[dict[str, Any]], rollups: TypeRollups, publisher: Publisher) -> Outcome:
    """The records' stats changes, then their entries (up to the first record whose stats failed)."""
    changes, skipped = changes_of(records)
    outcome = Outcome(skipped=skipped)
    counted = [(sequence, change) for sequence, change, tallied in changes if tallied]
    outcome.added, unapplied = rollups.apply([change for _, change in counted])
    found = entries_of(changes)
    if unapplied:  # delivered again from the first of them: publish only what comes before it
        first = counted[unapplied[0]][0]
        outcome.failures.append(first)
        outcome.deferred = len(unapplied)
        found = found[: next((n for n, (sequence, _) in enumerate(found) if int(sequence) >= int(first)), len(found))]
    try:
        publisher.publish([item for _, item in found])
    except PublishFailed as error:
        refused = {id(item) for item, _ in error.failed}
        unpublished = [sequence for sequence, item in found if id(item) in refused]
        outcome.unpublished = len(unpublished)
        outcome.failures += [sequence for sequence in unpublished if sequence not in outcome.failures]
    outcome.published = len(found) - outcome.unpublished
    return outcome

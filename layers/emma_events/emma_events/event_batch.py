"""Which events of a POST are wrong, and why: the rules that turn what the table holds into the batch's 400.

No DynamoDB call here: ``lookups`` names the items a batch needs read (the email and name guards; and, when those
are read anyway, the members and types named by id, so that one 400 lists every unknown one), ``resolve`` gives
each event its member and type ids or raises ``InvalidEvents`` naming every event and field at fault, and ``gone``
is the error for the members and types a transaction found deleted. ``KnownSchemas`` is what a container knows of
its types' attribute schemas, and ``schema_faults`` the events that do not match them.
"""

from __future__ import annotations

import os
import time
from collections import OrderedDict
from collections.abc import Iterable
from typing import Any

from emma_events import keys, layout
from emma_events.domain import NewMemberEvent
from emma_events.dynamo import Item
from emma_events.errors import EventProblem, InvalidEvents

Found = dict[tuple[str, str], Item]


def lookups(account_id: int, events: list[NewMemberEvent]) -> tuple[list[Item], bool]:
    """The keys to read before the batch's transaction, and whether they include the ids' own items. Without
    lookups by email or name nothing is read: the transaction's ConditionChecks report unknown members, and the
    types not known are read by id."""
    wanted = [layout.email_key(account_id, e.email) for e in events if e.email]
    wanted += [layout.name_guard(account_id, e.event_type) for e in events if e.event_type]
    if not wanted:
        return [], False
    wanted += [layout.member_key(account_id, e.member_id) for e in events if e.member_id]
    wanted += [layout.type_key(account_id, e.event_type_id) for e in events if e.event_type_id]
    return wanted, True


def resolve(account_id: int, events: list[NewMemberEvent], found: Found, check_ids: bool) -> list[tuple[int, int]]:
    """(member_id, event_type_id) of each event, from the items ``lookups`` named (``found``, by key).

    Raises ``InvalidEvents`` naming every event and field that is unknown or contradictory.
    """
    errors: list[EventProblem] = []
    resolved: list[tuple[int, int]] = []
    for index, event in enumerate(events):
        if check_ids:
            errors += _unknown_ids(account_id, index, event, found)
        member_id = event.member_id
        if event.email is not None:
            guard = found.get((keys.email_pk(account_id, event.email), keys.EMAIL_SK))
            by_email = int(guard["member_id"]["N"]) if guard else None
            if by_email is None:
                from emma_events.models import email_problem  # the request's models are loaded already

                problem = email_problem(event.email)  # not an address at all: the model's own 400
                unknown = (f"no member with email {event.email!r}", "unknown_member")
                errors.append((index, "email", *((problem, "value_error") if problem else unknown)))
            elif member_id is not None and member_id != by_email:
                message = f"member {member_id} does not have email {event.email!r}"
                errors.append((index, "member_id", message, "member_mismatch"))
            member_id = by_email if member_id is None else member_id
        event_type_id = event.event_type_id
        if event.event_type is not None:
            guard = found.get((keys.account_pk(account_id), keys.event_type_name_sk(event.event_type)))
            by_name = int(guard["event_type_id"]["N"]) if guard else None
            if by_name is None:
                message = f"no event type named {event.event_type!r}"
                errors.append((index, "event_type", message, "unknown_event_type"))
            elif event_type_id is not None and event_type_id != by_name:
                message = f"event type {event_type_id} is not named {event.event_type!r}"
                errors.append((index, "event_type_id", message, "event_type_mismatch"))
            event_type_id = by_name if event_type_id is None else event_type_id
        resolved.append((member_id or 0, event_type_id or 0))
    if errors:
        raise InvalidEvents(errors, len(events))
    return resolved


def _unknown_ids(account_id: int, index: int, event: NewMemberEvent, found: Found) -> list[EventProblem]:
    errors: list[EventProblem] = []
    if event.member_id and (keys.member_pk(account_id, event.member_id), keys.MEMBER_SK) not in found:
        message = f"no member {event.member_id} in account {account_id}"
        errors.append((index, "member_id", message, "unknown_member"))
    if event.event_type_id and (keys.account_pk(account_id), keys.event_type_sk(event.event_type_id)) not in found:
        message = f"no event type {event.event_type_id} in account {account_id}"
        errors.append((index, "event_type_id", message, "unknown_event_type"))
    return errors


def gone(
    account_id: int,
    events: list[NewMemberEvent],
    resolved: list[tuple[int, int]],
    members: set[int],
    types: set[int],
) -> InvalidEvents:
    """The error for events whose member or type did not exist when the transaction ran."""
    errors: list[EventProblem] = []
    for index, (event, (member_id, event_type_id)) in enumerate(zip(events, resolved, strict=True)):
        if member_id in members:
            field = "member_id" if event.member_id is not None else "email"
            errors.append((index, field, f"no member {member_id} in account {account_id}", "unknown_member"))
        if event_type_id in types:
            field = "event_type_id" if event.event_type_id is not None else "event_type"
            message = f"no event type {event_type_id} in account {account_id}"
            errors.append((index, field, message, "unknown_event_type"))
    return InvalidEvents(errors, len(events))


#: How long a container trusts a type's schema (and that the type exists) after reading it, from the read's start.
#: A schema change or a type's delete answers only this long after its write (``EventTypeStore``), so a POST that
#: starts after that answer never uses what was read before: the POST's transaction need not include the type's
#: item, which every POST of the type would share (docs/decisions.md, "No item shared by a type's POSTs").
FRESH_FOR_S = float(os.environ.get("TYPE_CACHE_SECONDS", "1"))  # template.yaml: the same for every function


class KnownSchemas:
    """The attribute schema (its stored text, or None) and version of the types this container has read in the
    last ``FRESH_FOR_S``, the last ``BOUND`` of them: a type's schema costs one read per container and second.
    Not names: a name a delete freed may name a new type at once (its create does not wait), so it is read in
    every POST that uses it."""

    BOUND = 1024

    def __init__(self) -> None:
        self._known: OrderedDict[tuple[int, int], tuple[int, str | None, float]] = OrderedDict()

    def learn(self, items: Iterable[Item], read_at: float) -> dict[int, tuple[int, str | None]]:
        """Remember the schema of each event type item among ``items`` (strongly consistent reads that started at
        ``read_at``, ``time.monotonic()``); the version and schema of those types."""
        learned = {}
        for item in items:
            if item.get("entity", {}).get("S") == "event_type":
                known = (int(item["account_id"]["N"]), int(item["event_type_id"]["N"]))
                schema = item.get("attributes_schema", {}).get("S")
                self._known[known] = (layout.schema_version_of(item), schema, read_at)
                self._known.move_to_end(known)
                learned[known[1]] = (layout.schema_version_of(item), schema)
        while len(self._known) > self.BOUND:
            self._known.popitem(last=False)
        return learned

    def snapshot(self, account_id: int, type_ids: list[int]) -> dict[int, tuple[int, str | None]]:
        """The version and schema of each type known and fresh now (one batch validates against these very ones,
        whatever a concurrent invocation learns or forgets meanwhile); a type not known is left out."""
        oldest = time.monotonic() - FRESH_FOR_S
        found = {t: self._known.get((account_id, t)) for t in type_ids}
        return {t: (known[0], known[1]) for t, known in found.items() if known is not None and known[2] > oldest}


def schema_faults(
    events: list[NewMemberEvent], resolved: list[tuple[int, int]], known: dict[int, tuple[int, str | None]]
) -> InvalidEvents | None:
    """The error for the events whose ``attributes`` (``{}`` when they have none) do not match their type's
    schema: one problem per failure, its field ``attributes<JSON pointer>``. Validates nothing, and imports no
    validator, for types without a schema."""
    problems: list[EventProblem] = []
    for index, (event, (_, type_id)) in enumerate(zip(events, resolved, strict=True)):
        schema = known[type_id][1]
        if schema is None:
            continue
        from emma_events import attribute_schemas

        attributes: dict[str, Any] = event.attributes or {}
        for pointer, message in attribute_schemas.failures(attribute_schemas.validator(schema), attributes):
            problems.append((index, f"attributes{pointer}", message, "attributes_schema"))
    return InvalidEvents(problems, len(events)) if problems else None

"""Which events of a POST are wrong, and why: the rules that turn what the table holds into the batch's 400.

No DynamoDB call here: ``lookups`` names the items a batch needs read (the email and name guards; and, when those
are read anyway, the members and types named by id, so that one 400 lists every unknown one), ``resolve`` gives
each event its member and type ids or raises ``InvalidEvents`` naming every event and field at fault, and ``gone``
is the error for the members and types a transaction found deleted.
"""

from __future__ import annotations

from emma_events import keys, layout
from emma_events.domain import NewMemberEvent
from emma_events.dynamo import Item
from emma_events.errors import EventProblem, InvalidEvents

Found = dict[tuple[str, str], Item]


def lookups(account_id: int, events: list[NewMemberEvent]) -> tuple[list[Item], bool]:
    """The keys to read before the batch's transaction, and whether they include the ids' own items. Without
    lookups by email or name nothing is read: the transaction's ConditionChecks report unknown ids."""
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

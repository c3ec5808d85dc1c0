"""One way to write several items: a transaction of named parts, and the one loop every such write runs.

Each part names what it is about (``Part.kind``, ``Part.ident``), so that a cancelled transaction is read by name,
not by position. Every conditioned part asks for the item as its condition found it
(``ReturnValuesOnConditionCheckFailure``): a write that failed because the item is gone, or already holds this
request's own earlier attempt (a resend whose answer was lost), is told apart from a conflict without reading
the item again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple, TypeVar, cast

from botocore.exceptions import ClientError

from emma_events import retry
from emma_events.errors import ServiceUnavailable

T = TypeVar("T")
Item = dict[str, dict[str, Any]]

#: How often a transaction that lost a race (``TransactionConflict``) or saw a stale read is tried in all.
#: DynamoDB cancels concurrent transactions on the same item (a ConditionCheck included), so waits grow
#: exponentially with full jitter (spreading the retries), from ``BACKOFF_BASE_S`` up to ``BACKOFF_CAP_S``: at
#: most ~1.5 s in all, well within a function's timeout.
TRANSACTION_TRIES = 8
BACKOFF_BASE_S = 0.01
BACKOFF_CAP_S = 0.5
FAILED = "ConditionalCheckFailed"


class Part(NamedTuple):
    """One item of a transaction and what it is about."""

    kind: str  # e.g. "member", "event", "count", "record", "type", "name"
    action: dict[str, Any]  # one TransactItems entry: {"Put": …}, {"Update": …}, {"Delete": …}, {"ConditionCheck": …}
    ident: int = 0  # the member's or event's id, where there are several of a kind


class Outcome(NamedTuple):
    part: Part
    code: str  # "None", "ConditionalCheckFailed", "TransactionConflict", ...
    item: Item | None  # the item as a failed condition found it; None: absent (or no condition failed)


class Cancelled(Exception):
    """A transaction DynamoDB cancelled: each part's reason, in the order of the parts."""

    def __init__(self, outcomes: list[Outcome]) -> None:
        super().__init__(", ".join(sorted({o.code for o in outcomes if o.code != "None"})))
        self.outcomes = outcomes

    def failed(self, kind: str | None = None) -> list[Outcome]:
        """The parts (of ``kind``) whose condition failed."""
        return [o for o in self.outcomes if o.code == FAILED and kind in (None, o.part.kind)]

    def gone(self, kind: str) -> bool:
        """Whether a part of ``kind`` failed its condition because its item is not there."""
        return any(o.item is None for o in self.failed(kind))


def transact(client: Any, parts: list[Part]) -> None:
    """1 x TransactWriteItems of the parts; one part alone is a single write (half the capacity). ``Cancelled``
    (with each part's reason and, for a failed condition, the item as it stood) when it is not written."""
    actions = [_returning_old(part.action) for part in parts]
    if len(parts) == 1 and "ConditionCheck" not in actions[0]:
        _write_one(client, parts[0], actions[0])
        return
    try:
        client.transact_write_items(TransactItems=actions)
    except ClientError as error:
        if error.response["Error"]["Code"] != "TransactionCanceledException":
            raise
        reasons: list[Any] = list(error.response.get("CancellationReasons", []))
        reasons += [{}] * (len(parts) - len(reasons))  # should the service omit any
        outcomes = [Outcome(p, r.get("Code", "None"), r.get("Item")) for p, r in zip(parts, reasons, strict=False)]
        raise Cancelled(outcomes) from error


_SINGLE = {"Put": "put_item", "Update": "update_item", "Delete": "delete_item"}


def _write_one(client: Any, part: Part, action: dict[str, Any]) -> None:
    ((name, body),) = action.items()
    try:
        getattr(client, _SINGLE[name])(**body)
    except ClientError as error:
        if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        raise Cancelled([Outcome(part, FAILED, cast(Item | None, error.response.get("Item")))]) from error


def _returning_old(action: dict[str, Any]) -> dict[str, Any]:
    ((name, body),) = action.items()
    if "ConditionExpression" not in body:
        return action
    return {name: body | {"ReturnValuesOnConditionCheckFailure": "ALL_OLD"}}


class Again:
    """What a cancellation handler answers to read, build and write anew."""


AGAIN = Again()


def write(
    client: Any,
    attempt: Callable[[], tuple[list[Part], T | Again]],
    cancelled: Callable[[Cancelled, T], T | Again],
    what: str,
) -> T:
    """The one transaction loop. ``attempt`` reads what it needs and returns the parts and what their success
    answers; when DynamoDB cancels them, ``cancelled`` reads the reasons (and the items as the failed conditions
    found them) and answers, raises, or returns ``AGAIN``: read and build anew, after a jittered backoff when no
    condition failed (a conflict with a concurrent transaction). ``ServiceUnavailable`` after
    ``TRANSACTION_TRIES`` rounds."""
    for tries in range(TRANSACTION_TRIES):
        parts, answer = attempt()
        if not parts:  # nothing to write: the answer, or AGAIN (what was read is changing: read again)
            if not isinstance(answer, Again):
                return answer
            retry.pause(tries, BACKOFF_BASE_S, BACKOFF_CAP_S)
            continue
        try:
            transact(client, parts)
            return answer  # type: ignore[return-value]  # AGAIN comes with no parts
        except Cancelled as error:
            outcome = cancelled(error, answer)  # type: ignore[arg-type]
            if not isinstance(outcome, Again):
                return outcome
            retry.pause(tries, BACKOFF_BASE_S, BACKOFF_CAP_S)
    raise ServiceUnavailable(f"The {what} is being changed concurrently; retry the request.")

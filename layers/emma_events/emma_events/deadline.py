"""The DynamoDB client of every function, and the invocation's deadline it keeps: short timeouts and the SDK's
standard retries, which stop when the time left could not fit one more attempt (``set_deadline``)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from contextvars import ContextVar, copy_context
from functools import lru_cache
from typing import TYPE_CHECKING, Any, TypeVar

from botocore.config import Config

from emma_events import clients

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
else:
    DynamoDBClient = Any

#: Standard retry mode (exponential backoff with jitter, throttling-aware; max_attempts counts retries, so 5
#: attempts in all), short timeouts: a Lambda behind
#: API Gateway (29 s limit) must fail fast and let the client retry rather than hang on one slow connection.
#: TCP keep-alive, and one client per container (``stores.client``), so warm invocations reuse the connection.
CLIENT_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 4},
    connect_timeout=1,
    read_timeout=4,
    tcp_keepalive=True,
    max_pool_connections=32,  # the cascade: a batch's ranges (up to 10) and its 16 workers (cascade_store.py)
    parameter_validation=False,
)
#: The longest one attempt can take (connect + read): no attempt starts unless it can end before the deadline.
ATTEMPT_WORST_CASE_S = 1 + 4 + 0.5
#: When the invocation must have its answer: the SDK's retries stop before it (``set_deadline``).
_deadline: ContextVar[float | None] = ContextVar("dynamodb_deadline", default=None)


T = TypeVar("T")
R = TypeVar("R")
#: Calls one request makes side by side (a members page's 16 shards, a member's stats per type).
SIDE_BY_SIDE = 16


class DeadlineReached(Exception):
    """No DynamoDB attempt can end before the invocation's deadline."""


def set_deadline(seconds_left: float | None) -> None:
    """Bound every DynamoDB call of this invocation by the time it has left (the Lambda context's remaining time):
    retries stop, and the request is answered 503 with ``Retry-After``, before the function would time out (a
    timeout is a 502 from API Gateway, and the SDK alone may retry for ~20 s). None: no bound."""
    _deadline.set(None if seconds_left is None else time.monotonic() + seconds_left)


@contextmanager
def within(seconds: float) -> Iterator[None]:
    """Every DynamoDB call of this block bounded by ``seconds`` from now (``set_deadline``), the bound before it
    restored after."""
    token = _deadline.set(time.monotonic() + seconds)
    try:
        yield
    finally:
        _deadline.reset(token)


def seconds_left() -> float | None:
    """The time this invocation has left (None: no bound)."""
    deadline = _deadline.get()
    return None if deadline is None else deadline - time.monotonic()


def _check_deadline(**_: Any) -> None:
    """Before each attempt: refuse it when it could not end before the deadline."""
    deadline = _deadline.get()
    if deadline is not None and time.monotonic() + ATTEMPT_WORST_CASE_S > deadline:
        raise DeadlineReached


def _retry_within_deadline(attempts: int, **_: Any) -> bool | None:
    """Before botocore's retry handler: no retry (False) when its longest backoff (standard mode: up to
    2^(attempts-1) s for throttling) and one more attempt could not end before the deadline; else None, and
    botocore decides."""
    deadline = _deadline.get()
    if deadline is None:
        return None
    longest_backoff = min(2.0 ** (attempts - 1), 20.0)
    return False if time.monotonic() + longest_backoff + ATTEMPT_WORST_CASE_S > deadline else None


def new_client() -> DynamoDBClient:
    """The DynamoDB client (``clients``), whose attempts and retries stop at the invocation's deadline."""
    client: DynamoDBClient = clients.new_client("dynamodb", CLIENT_CONFIG)
    client.meta.events.register("before-send.dynamodb.*", _check_deadline)  # every attempt, retries included
    client.meta.events.register_first("needs-retry.dynamodb.*", _retry_within_deadline)
    return client


@lru_cache(maxsize=1)
def _pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=SIDE_BY_SIDE, thread_name_prefix="side-by-side")


def side_by_side(call: Callable[[T], R], each: Iterable[T]) -> list[R]:
    """``call`` of each, in the container's threads, each in a copy of this context (so the invocation's deadline
    holds in them too); the results in order, the first error raised (those not begun then are not begun)."""
    futures = [_pool().submit(copy_context().run, call, one) for one in each]
    try:
        return [future.result() for future in futures]
    except BaseException:
        for future in futures:
            future.cancel()
        raise

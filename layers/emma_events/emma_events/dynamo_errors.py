"""The stores' errors as the API answers them: DynamoDB throttling, or no answer in the time left, is a 503 with
``Retry-After`` (``ServiceUnavailable``), never a botocore error."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import ParamSpec, TypeVar

from botocore.exceptions import ClientError, ConnectionError, HTTPClientError

from emma_events.deadline import DeadlineReached
from emma_events.errors import ServiceUnavailable

P = ParamSpec("P")
R = TypeVar("R")

_THROTTLING = {
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
    "InternalServerError",
    "ServiceUnavailable",
}


def translate_errors(method: Callable[P, R]) -> Callable[P, R]:
    """Map the SDK's throttling errors (raised after its own retries) to ``ServiceUnavailable``."""

    @wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return method(*args, **kwargs)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in _THROTTLING:
                raise ServiceUnavailable("The database is busy; retry the request later.") from error
            if _index_being_built(error):  # a deploy added it; DynamoDB fills it in the background
                raise ServiceUnavailable("An index this request reads is being built; retry it later.") from error
            raise
        except (DeadlineReached, ConnectionError, HTTPClientError):  # out of time, or no answer after the retries
            raise ServiceUnavailable("The database did not answer in time; retry the request later.") from None

    return wrapper


def _index_being_built(error: ClientError) -> bool:
    """A Query of a global secondary index that a deploy has just added: DynamoDB answers ValidationException
    ("Cannot read from backfilling global secondary index") until it is ``ACTIVE``."""
    problem = error.response.get("Error", {})
    return problem.get("Code") == "ValidationException" and "backfilling" in str(problem.get("Message", "")).lower()

"""Shared code of the Emma member-events API: models, the DynamoDB stores, errors and HTTP glue.

Shipped to every function as the ``EventsLayer`` Lambda layer (``layers/emma_events``).

In a Lambda sandbox (``AWS_LAMBDA_FUNCTION_NAME`` set), importing this package pauses the cyclic garbage
collector until the function's first invocation is over (``settles_init``): the init allocates ~100,000 objects
that nearly all live as long as the sandbox, and the ~95 collections they would trigger find ~500 garbage objects
for ~29 ms of CPU, ~10% of a cold start (docs/performance.md). The first invocation then freezes them
(``gc.freeze``: later collections skip them) and collection resumes.
"""

from __future__ import annotations

import gc as _gc
import os as _os
import random as _random
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

if _os.environ.get("AWS_LAMBDA_FUNCTION_NAME"):
    _gc.disable()

H = TypeVar("H", bound=Callable[..., Any])


def settles_init(handler: H) -> H:
    """A Lambda handler whose first invocation in an execution environment first reseeds ``random`` (an
    environment restored from a SnapStart snapshot would otherwise draw the same retry jitter as every other
    restored from it) and, once over (answered or raised), freezes the objects made so far and resumes garbage
    collection."""
    first = [True]  # in a SnapStart snapshot too: each restored environment starts with its first invocation

    @wraps(handler)
    def settled(event: Any, context: Any) -> Any:
        if not first[0]:
            return handler(event, context)
        _random.seed()
        try:
            return handler(event, context)
        finally:
            first[0] = False
            if not _gc.isenabled():
                _gc.freeze()
                _gc.enable()

    return settled  # type: ignore[return-value]

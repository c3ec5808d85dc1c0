"""The one wait between tries, for every loop here that tries again (a transaction that lost a race, batch items
left unprocessed, PutEvents entries refused): exponential, with full jitter, so that calls which collided once
do not collide again in step ("Exponential Backoff And Jitter", AWS Architecture Blog)."""

from __future__ import annotations

import random
import time


def pause(attempt: int, base_s: float, cap_s: float) -> None:
    """Sleep before the try after ``attempt`` (0 for the first): a uniform draw in [0, min(cap, base x 2^attempt)]."""
    time.sleep(random.uniform(0, min(cap_s, base_s * 2**attempt)))  # noqa: S311 - jitter, not a secret

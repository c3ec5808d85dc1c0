"""How long the tests wait for what a loaded machine slows down: a local stack's start, an HTTP answer, a stream's
delivery, a child process's exit.

Each wait is its figure on a quiet machine times the patience: ``TEST_PATIENCE`` when set, else 3 times the load
per core (at least 3). A wait that is met costs nothing more, so the margin only matters on a busy machine; a wait
that runs out says how long it waited and names the setting.
"""

from __future__ import annotations

import os


def cores() -> int:
    """The cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def patience() -> float:
    given = os.environ.get("TEST_PATIENCE", "").strip()
    if given:
        return max(1.0, float(given))
    return 3 * max(1.0, os.getloadavg()[0] / cores())


def seconds(quiet: float) -> float:
    """How long to wait for what takes ``quiet`` seconds at most on a quiet machine."""
    return quiet * patience()


def ran_out(what: str, waited: float) -> str:
    """The message of a wait that ran out."""
    return f"{what} after {waited:.0f} s (TEST_PATIENCE={patience():g}: set it higher on a loaded machine)"

"""What an action costs, in CPU and in memory: the measure of the budget tests and ``make bench``."""

from __future__ import annotations

import ctypes
import gc
import time
from collections.abc import Callable
from typing import Any


def measured(action: Callable[[], Any]) -> tuple[float, float, Any]:
    """(CPU ms in this thread, MB of resident memory at its peak above where it started, the result). Linux:
    the peak is reset through /proc/self/clear_refs; freed memory is returned first, so the action's shows."""
    gc.collect()
    gc.freeze()
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    with open("/proc/self/clear_refs", "w") as peak:
        peak.write("5")
    before = _peak_kb()
    started = time.thread_time()
    result = action()
    cpu = (time.thread_time() - started) * 1000
    after = _peak_kb()
    gc.unfreeze()
    return cpu, (after - before) / 1024, result


def _peak_kb() -> int:
    with open("/proc/self/status") as status:
        return int(next(line for line in status if line.startswith("VmHWM")).split()[1])

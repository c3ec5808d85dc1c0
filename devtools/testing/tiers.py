"""``make test``: both tiers of the test suite, one after the other, each spread over the machine's cores.

- the fast tier: every test, on moto (in memory, in process);
- the reference tier: every test that touches a store, again on AWS's DynamoDB Local (tests/conftest.py).

Each tier is one pytest run over ``TEST_WORKERS`` processes (pytest-xdist; default: two more than the cores this
process may use, since a process waiting on a local stack, DynamoDB Local or a cascade's sleep leaves its core to
the others: measured here on 2 cores, 289 s with 2 processes, 268 s with 3; later, one commit back to back, 291 s
with 3 and 273 s with 4), its progress printed as it goes. Tests
are handed out as processes free up, an idle one taking tests queued for a busy one (``--dist worksteal``: the
long tests no longer end a tier alone); a process starts the shared local stack (``api_stack``) the first time one
of its tests needs it. Without DynamoDB Local (not installed, or no Java 17+) the
reference tier is skipped with one line saying why, except in CI (``CI=true``), where that is a failure. Extra
arguments go to every pytest run.

``--fast`` (``make test-fast``, the inner loop): only the handler-level tests, on moto, in one process.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

from devtools import ROOT
from devtools.local_stack.store import dynamodb_local_unavailable
from devtools.testing.patience import cores

#: The inner loop (make test-fast): every endpoint's handler, on moto.
HANDLER_LEVEL = (
    "tests/handlers/test_event_types.py",
    "tests/handlers/test_members.py",
    "tests/handlers/test_member_events.py",
)
NAMES = {"moto": "fast tier (moto)", "dynamodb-local": "reference tier (DynamoDB Local)"}


def workers() -> int:
    """TEST_WORKERS, or two more than the cores this process may run on."""
    given = os.environ.get("TEST_WORKERS", "").strip()
    if given:
        return max(1, int(given))
    return 2 + cores()


def main(argv: list[str]) -> int:
    pytest = [sys.executable, "-m", "pytest"]
    if argv[:1] == ["--fast"]:  # make test-fast: the inner loop, the handler-level tests on moto in this process
        return subprocess.call([*pytest, "--store=moto", *HANDLER_LEVEL, *argv[1:]], cwd=ROOT)  # noqa: S603
    stores = ["moto"]
    unavailable = dynamodb_local_unavailable()
    if unavailable is None:
        stores.append("dynamodb-local")
    elif os.environ.get("CI") == "true":
        print(f"reference tier cannot run: {unavailable}", flush=True)
        return 1
    else:
        print(f"reference tier skipped: {unavailable}", flush=True)
    count = workers()
    started, status = time.monotonic(), 0
    for store in stores:
        print(f"===== {NAMES[store]}, {count} processes (TEST_WORKERS) =====", flush=True)
        tier_started = time.monotonic()
        options = [f"--store={store}", "-n", str(count), "--dist", "worksteal"] if count > 1 else [f"--store={store}"]
        code = subprocess.call([*pytest, *options, *argv], cwd=ROOT)  # noqa: S603
        print(f"===== {NAMES[store]}: exit {code} in {time.monotonic() - tier_started:.0f} s =====", flush=True)
        status = status or code
    print(f"===== every tier in {time.monotonic() - started:.0f} s =====", flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""``make test``: both tiers of the test suite, side by side.

- the fast tier: every test, on moto (in memory, in process);
- the reference tier: every test that touches a store, again on AWS's DynamoDB Local (tests/conftest.py).

They run as pytest processes at once, each writing to its own log, printed whole when it ends, so the output reads
as plain pytest runs. Each tier runs as two processes (the handler-level tests, the cascade's, the timeline's and
the hostile input's; the rest), the fast tier three (the local stacks' and the benchmark's too), so that the
machine's cores stay busy to the end: the reference tier spends most
of its time waiting on DynamoDB Local's answers (~10 ms each), and each of its processes has its own DynamoDB
Local.
Without DynamoDB Local (not installed, or no Java 17+) the reference tier is skipped with one line saying why,
except in CI (``CI=true``), where that is a failure. Extra arguments go to every pytest run.

``--fast`` (``make test-fast``, the inner loop): only the handler-level tests, on moto, in one process.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time

from devtools import ROOT
from devtools.local_stack.store import dynamodb_local_unavailable

#: The handler-level tests: make test-fast runs them alone.
HANDLER_LEVEL = ("test_event_types", "test_members", "test_member_events")
#: Each tier's first process runs these too, so that its two processes take about as long (measured: the
#: hostile-input tests weigh most on moto, where they run in the test's own process).
FIRST_PROCESS = {
    "moto": (*HANDLER_LEVEL, "test_cascade", "test_member_timeline", "test_hostile_input"),
    "dynamodb-local": (*HANDLER_LEVEL, "test_cascade", "test_member_timeline"),
}
#: The moto tier's third process: the tests of whole local stacks and the benchmark, which mostly wait on other
#: processes (a stack's functions, DynamoDB Local, a cascade's 20 s), so a process of their own shortens the run.
STACKS = ("test_bench", "test_local_stack_http", "test_local_stack_runtime", "test_local_stack_start_stop")
NAMES = {"moto": "fast tier (moto)", "dynamodb-local": "reference tier (DynamoDB Local)"}


def _split(store: str) -> dict[str, list[str]]:
    """A tier's processes: its first (FIRST_PROCESS), on moto the stacks' (STACKS), and the rest."""
    groups = [FIRST_PROCESS[store], *([STACKS] if store == "moto" else [])]
    split = {}
    for group in groups:
        label = ", ".join(name.removeprefix("test_").replace("_", " ") for name in group)
        split[f"{NAMES[store]}, {label}"] = [f"--store={store}", *(f"tests/{name}.py" for name in group)]
    ignored = [f"--ignore=tests/{name}.py" for group in groups for name in group]
    return split | {f"{NAMES[store]}, the rest": [f"--store={store}", *ignored]}


def main(argv: list[str]) -> int:
    handler_level = [f"tests/{name}.py" for name in HANDLER_LEVEL]
    if argv[:1] == ["--fast"]:  # make test-fast: the inner loop, the handler-level tests on moto in this process
        return subprocess.call([sys.executable, "-m", "pytest", "--store=moto", *handler_level, *argv[1:]], cwd=ROOT)  # noqa: S603
    tiers = _split("moto")
    unavailable = dynamodb_local_unavailable()
    if unavailable is None:
        tiers |= _split("dynamodb-local")
    elif os.environ.get("CI") == "true":
        print(f"reference tier cannot run: {unavailable}", flush=True)
        return 1
    else:
        print(f"reference tier skipped: {unavailable}", flush=True)
    started = time.monotonic()
    running = {}
    for name, options in tiers.items():
        log = tempfile.TemporaryFile()  # noqa: SIM115 - closed below
        command = [sys.executable, "-m", "pytest", *options, *argv]
        running[name] = (subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT), log)  # noqa: S603
    status = 0
    for name, (process, log) in running.items():
        code = process.wait()
        log.seek(0)
        print(f"===== {name}: exit {code} =====", flush=True)
        sys.stdout.buffer.write(log.read())
        sys.stdout.flush()
        log.close()
        status = status or code
    print(f"===== every tier in {time.monotonic() - started:.0f} s =====", flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

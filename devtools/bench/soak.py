"""``make soak``: the local stack under a day of use, on each store.

2,000 sequential POSTs of 10 events (one member, one type, as an ETL job sends them) through the local stack over
HTTP. It prints, per store, the latency of the first and the last 200 requests and the resident memory of the
stack with everything it started (worker processes, DynamoDB Local's JVM), sampled as it goes, and exits non-zero
when a bound is passed:

- memory: the peak resident set of the whole process tree stays under ``MEMORY_BOUND_MB[store]``;
- latency stays flat: the p99 of the last 200 requests is at most ``P99_GROWTH`` times the p99 of the first 200
  (plus ``P99_SLACK_MS`` for this machine's noise);
- stopping: Ctrl-C afterwards stops the stack and everything it started within ``STOP_BOUND_S``.

Every request must answer 200 with 10 events, and the member must have exactly 10 x (2,000 + 20 warm-up
requests, which meet the cold starts and are not timed) events at the end.
"""

from __future__ import annotations

import argparse
import json
import signal
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from devtools.local_stack.store import dynamodb_local_unavailable
from devtools.testing.stack_process import running_stack

#: The bound on the stack's whole process tree (stack, function workers, store), by store. DynamoDB Local keeps
#: its data in SQLite (in memory here) under a JVM that takes ~400 MB; moto keeps the table and every stream
#: record as Python objects in the stack's own process: since the types' stats, each event also writes its marker
#: (and the stats items change once a batch), ~5 KB more an event on moto (peak 677-696 MB before, 801 after).
MEMORY_BOUND_MB = {"dynamodb-local": 1000, "moto": 900}
P99_GROWTH = 1.5
P99_SLACK_MS = 25.0
WINDOW = 200
#: Ctrl-C after the run (all that data in the store) stops everything within this.
STOP_BOUND_S = 3.0
#: Requests sent before the measured ones (the first of them meet cold starts), not timed.
WARMUP = 20


def tree_rss_mb(pid: int) -> float:
    """Resident memory of ``pid`` and all its descendants (Linux /proc), in MB."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":", 1) for line in status.read_text().splitlines() if ":" in line)
        except OSError:
            continue
        this = int(status.parent.name)
        children.setdefault(int(fields["PPid"].strip()), []).append(this)
        rss[this] = int(fields.get("VmRSS", "0 kB").split()[0])
    total, pending = 0, [pid]
    while pending:
        current = pending.pop()
        total += rss.get(current, 0)
        pending.extend(children.get(current, []))
    return total / 1024


def p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[98]


def soak(store: str, requests: int) -> dict[str, Any]:
    with running_stack(store=store, startup_timeout=60) as stack:
        process = stack.process
        assert process is not None  # started here
        created = stack.request("POST", "/100/events", {"event_type": "soak", "display_name": "Soak"})
        assert created.status == 200, created.text
        member = stack.request("POST", "/100/members/add", {"email": "soak@example.com"})
        assert member.status == 200, member.text
        batch = {"events": [{"member_id": member.json["member_id"], "event_type": "soak"} for _ in range(10)]}
        for _ in range(WARMUP):  # cold starts of the authorizer and the function are not what is measured
            assert stack.request("POST", "/100/events/members", batch).status == 200
        latencies: list[float] = []
        peak = start_rss = tree_rss_mb(process.pid)
        started = time.monotonic()
        for n in range(requests):
            before = time.perf_counter()
            reply = stack.request("POST", "/100/events/members", batch)
            latencies.append((time.perf_counter() - before) * 1000)
            if reply.status != 200 or len(reply.json) != 10:
                raise AssertionError(f"request {n}: {reply.status} {reply.text[:300]}")
            if n % 50 == 0 or n == requests - 1:
                peak = max(peak, tree_rss_mb(process.pid))
        elapsed = time.monotonic() - started
        end_rss = tree_rss_mb(process.pid)
        count = stack.request("GET", f"/100/events/members/{member.json['member_id']}?count=true")
        assert count.json == (WARMUP + requests) * 10, count.text
        stopping = time.monotonic()
        process.send_signal(signal.SIGINT)  # Ctrl-C, with all that data in the store
        process.wait(timeout=60)
        stop_s = time.monotonic() - stopping
    first, last = latencies[:WINDOW], latencies[-WINDOW:]
    return {
        "store": store,
        "requests": requests,
        "seconds": round(elapsed, 1),
        "first_p50_ms": round(statistics.median(first), 1),
        "first_p99_ms": round(p99(first), 1),
        "last_p50_ms": round(statistics.median(last), 1),
        "last_p99_ms": round(p99(last), 1),
        "rss_start_mb": round(start_rss),
        "rss_peak_mb": round(peak),
        "rss_end_mb": round(end_rss),
        "stop_s": round(stop_s, 1),
    }


def verdicts(result: dict[str, Any]) -> list[str]:
    """What passed a bound (empty when all held)."""
    failed = []
    bound = MEMORY_BOUND_MB[result["store"]]
    if result["rss_peak_mb"] > bound:
        failed.append(f"{result['store']}: peak memory {result['rss_peak_mb']} MB > {bound} MB")
    if result["stop_s"] > STOP_BOUND_S:
        failed.append(f"{result['store']}: stopping took {result['stop_s']} s > {STOP_BOUND_S} s")
    allowed = result["first_p99_ms"] * P99_GROWTH + P99_SLACK_MS
    if result["last_p99_ms"] > allowed:
        failed.append(
            f"{result['store']}: p99 of the last {WINDOW} {result['last_p99_ms']} ms > {allowed:.1f} ms "
            f"({P99_GROWTH}x the first {WINDOW}'s {result['first_p99_ms']} ms + {P99_SLACK_MS:g} ms)"
        )
    return failed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--store", action="append", choices=["dynamodb-local", "moto"])
    args = parser.parse_args(argv)
    stores = args.store or ["dynamodb-local", "moto"]
    unavailable = dynamodb_local_unavailable()
    if "dynamodb-local" in stores and unavailable:
        print(f"soak: DynamoDB Local skipped: {unavailable}", flush=True)
        stores.remove("dynamodb-local")
    failed: list[str] = []
    results = []
    for store in stores:
        print(f"soak: {args.requests} POSTs of 10 events through the local stack on {store} ...", flush=True)
        result = soak(store, args.requests)
        results.append(result)
        print(
            f"  {store}: {result['seconds']} s; latency first {WINDOW}: p50 {result['first_p50_ms']} ms, "
            f"p99 {result['first_p99_ms']} ms; last {WINDOW}: p50 {result['last_p50_ms']} ms, "
            f"p99 {result['last_p99_ms']} ms; memory (stack + workers + store) {result['rss_start_mb']} MB at "
            f"start, peak {result['rss_peak_mb']} MB (bound {MEMORY_BOUND_MB[store]} MB), "
            f"end {result['rss_end_mb']} MB; Ctrl-C stopped it in {result['stop_s']} s",
            flush=True,
        )
        failed += verdicts(result)
    Path("soak-results.json").write_text(json.dumps(results, indent=2) + "\n")
    for line in failed:
        print(f"soak: FAILED {line}", flush=True)
    if not failed:
        print("soak: every bound held", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

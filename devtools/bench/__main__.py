"""``make bench``: cold starts, request cost, warm latency and the cascade, measured here; a table printed and the
figures written as JSON (bench-results.json).

1. Cold start of every function from the ``sam build`` output against a boto3-only floor (coldstart.py).
2. Request cost: every operation through its real handler on moto's in-memory DynamoDB; DynamoDB calls counted
   by a botocore hook, capacity units modelled from the items (capacity.py), against their budgets.
3. Warm latency of every endpoint in-process, p50 and p99, with DynamoDB's answers replayed.
4. The cascade delete of 10,000 events against a plain loop of deletes, over HTTP to the embedded DynamoDB.
5. Attribute schemas: the validator's import, checking 10 events of 32 KB, and the search for the dearest schema
   the API accepts (schemas.py, schema_search.py).
6. A member's timeline at 10, 100,000 and (modelled) 10,000,000 events on DynamoDB Local: every page and count
   against its budget (scale.py).

Exits 1 when a budget or a target is missed.

    python -m devtools.bench [--runs 5] [--warm-calls 1000] [--cascade-events 10000] [--schema-examples 300]
                             [--scale-events 100000]
                             [--json bench-results.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from pathlib import Path
from typing import Any

from devtools import ROOT
from devtools.bench.cascade import cascade_benchmark
from devtools.bench.request_cost import run
from devtools.bench.warm_latency import warm_latency


def _environment() -> None:
    os.environ.update(
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",  # noqa: S106 - a dummy credential for moto
        AWS_DEFAULT_REGION="us-east-1",
        AWS_REGION="us-east-1",
        TABLE_NAME="emma-events-bench",
        POWERTOOLS_LOG_LEVEL="ERROR",
        POWERTOOLS_METRICS_DISABLED="true",  # no metrics documents on stdout while measuring
    )
    for variable in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB"):
        os.environ.pop(variable, None)


#: Every function's cold start within this ratio of its boto3-only floor, in CPU time (user + system) of the whole
#: cold process: the ratio of medians of interleaved runs (docs/performance.md says why CPU).
COLD_START_TARGET = 1.3


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", type=Path, default=ROOT / "bench-results.json")
    parser.add_argument("--runs", type=int, default=11, help="cold starts of each function and of its floor")
    parser.add_argument("--warm-calls", type=int, default=1000, help="warm invocations per endpoint")
    parser.add_argument("--cascade-events", type=int, default=10_000, help="0 skips the cascade benchmark")
    parser.add_argument("--skip-cold-starts", action="store_true", help="no sam build, no cold starts")
    parser.add_argument("--schema-examples", type=int, default=300, help="schemas the search generates (phase 5)")
    parser.add_argument("--scale-events", type=int, default=100_000, help="the big member's events (0 skips phase 6)")
    args = parser.parse_args(argv)
    _environment()
    import time

    started = time.monotonic()
    phases: dict[str, float] = {}
    failed: list[str] = []
    results: dict[str, Any] = {"machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.system()}"}

    if not args.skip_cold_starts:
        from devtools.bench import coldstart

        print(f"1. Cold starts ({args.runs} of each function and of its floor, alternating) ...", flush=True)
        cold = coldstart.measure(args.runs, lambda line: print(line, flush=True))
        results["cold_start"] = cold
        print(
            f"\n{'function':<22} {'CPU':>6} {'floor':>6} {'ratio':>5} {'spread':>11}  {'wall':>5} {'floor':>5} "
            f"{'ratio':>5}  {'modules':>7}   ({cold['python']} -S, {cold['machine']}, medians of {args.runs} "
            "interleaved runs; CPU: the whole process, wall: import + first request; floor = boto3 + the same calls)"
        )
        for r in cold["functions"]:
            verdict = ""
            if r["cpu_ratio"] > COLD_START_TARGET:
                verdict = f"  OVER {COLD_START_TARGET}x"
                failed.append(f"cold start of {r['function']}")
            low, high = r["cpu_ratio_spread"]
            print(
                f"{r['function']:<22} {r['cpu_ms']:6.0f} {r['floor_cpu_ms']:6.0f} {r['cpu_ratio']:5.2f} "
                f"{low:5.2f}-{high:<5.2f}  {r['total_ms']:5.0f} {r['floor_total_ms']:5.0f} {r['ratio']:5.2f}  "
                f"{r['modules']:>3}/{r['floor_modules']:<3}{verdict}"
            )
        print("what each import adds to get_event_type's, in load order (median ms, each after the ones above):")
        for piece in cold["imports"]:
            print(f"  {piece['module']:<52} {piece['ms']:7.1f}")
        layer, code = cold["layer"], cold["bytecode"]
        print(
            f"layer: {layer['bytes'] / 1e6:.1f} MB unzipped, {layer['files']} files ({layer['pyc_files']} .pyc), "
            f"boto3/botocore inside: {'YES' if layer['boto3_inside'] else 'no'}"
        )
        print(
            f"bytecode: {code['function']} {code['precompiled_ms']:.0f} ms with the layer's .pyc, "
            f"{code['sources_only_ms']:.0f} ms with sources only (Lambda cannot cache what it compiles)"
        )
        if layer["boto3_inside"]:
            failed.append("boto3 in the layer")
        phases["cold starts (incl. sam build)"] = time.monotonic() - started

    print("\n2. Request cost (moto in-process; capacity modelled from item sizes, bench/capacity.py)", flush=True)
    rows = run()
    results["round_trips"] = rows
    width = max(len(r["operation"]) for r in rows)
    print(f"{'operation':<{width}}  trips  budget    RCU    WCU  calls")
    for r in rows:
        budget = "" if r["budget"] is None else str(r["budget"])
        verdict = "" if r["budget"] is None or r["round_trips"] <= r["budget"] else "  OVER BUDGET"
        calls = ", ".join(f"{name} x{n}" for name, n in r["calls"].items())
        bound = ">=" if r["lower_bound"] else "  "
        print(
            f"{r['operation']:<{width}}  {r['round_trips']:>5}  {budget:>6}  {r['read_units']:5.1f} "
            f"{bound}{r['write_units']:4.0f}  {calls}{verdict}"
        )
        if verdict:
            failed.append(r["operation"])
    scans = [r["operation"] for r in rows if "Scan" in r["calls"]]
    print(f"Scan calls: {len(scans)}")
    failed += [f"scan in {name}" for name in scans]
    phases["request cost"] = time.monotonic() - started - sum(phases.values())

    print(f"\n3. Warm latency ({args.warm_calls} calls per endpoint, in-process, DynamoDB answers replayed)")
    warm = warm_latency(args.warm_calls)
    results["warm_latency"] = warm
    print(f"{'endpoint':<22} {'p50 ms':>7} {'p99 ms':>7}  round trips")
    for r in warm:
        wait = f"  + {r['wait_s']:g} s wait by design (docs/data-model.md)" if r["wait_s"] else ""
        print(f"{r['endpoint']:<22} {r['p50_ms']:7.2f} {r['p99_ms']:7.2f}  {r['round_trips']}{wait}")
    phases["warm latency"] = time.monotonic() - started - sum(phases.values())

    cascades = []
    if args.cascade_events:
        from devtools.local_stack.store import dynamodb_local_unavailable

        unavailable = dynamodb_local_unavailable()
        if unavailable:
            print(f"\n4. Cascade on DynamoDB Local skipped: {unavailable}")
            failed.append("cascade on DynamoDB Local")
        stores = (["dynamodb-local"] if not unavailable else []) + ["moto"]
        # Moto's server is for comparison only (its Query costs ~1 ms per item): one run of each there.
        cascades = [cascade_benchmark(args.cascade_events, s, 2 if s == "dynamodb-local" else 1) for s in stores]
    results["cascade"] = cascades
    for cascade in cascades:
        calls = ", ".join(f"{name} x{n}" for name, n in cascade["cascade_calls"].items())
        per = cascade["per_1000_events"]
        reference = cascade["store"] == "dynamodb-local"
        what = "DynamoDB Local, the reference" if reference else "moto's server, for comparison"
        print(f"\n4. Cascade delete of {cascade['events']:,} events ({what}, over HTTP):")
        print(f"  cascade     {cascade['cascade_seconds']:>7.2f} s  {calls}")
        print(
            f"  per 1,000 events: {per['round_trips']} round trips, {per['read_units']} RCU, {per['write_units']} WCU"
        )
        plain = cascade["plain_loop_calls"]["BatchWriteItem"]
        print(f"  plain loop  {cascade['plain_loop_seconds']:>7.2f} s  BatchWriteItem x{plain}")
        timed = zip(cascade["cascade_runs_seconds"], cascade["plain_loop_runs_seconds"], strict=True)
        runs = ", ".join(f"{c} / {p}" for c, p in timed)
        print(f"  runs (cascade / plain loop, s, alternating; the fastest of each compared): {runs}")
        print(
            f"  ratio       {cascade['ratio']:>7.3f}    time, goal <= {cascade['ratio_goal']}; "
            f"requests {cascade['request_ratio']:.3f}; events left: {cascade['left_after_cascade']}"
        )
        if cascade["left_after_cascade"]:
            failed.append(f"cascade on {cascade['store']} left events behind")
        if reference and cascade["events"] >= 10_000 and cascade["ratio"] > cascade["ratio_goal"]:
            failed.append("cascade time ratio on DynamoDB Local")  # the goal is for a large type
        if not reference and cascade["ratio"] > cascade["ratio_goal"]:
            print("  over the goal on moto only: its Query costs ~1 ms per item it returns (not the service's cost)")
    if args.cascade_events and "cascade on DynamoDB Local" not in failed:
        from devtools.bench.cascade import parallel_speedup, print_ranges

        results["cascade_ranges"] = parallel_speedup(members=max(args.cascade_events // 20, 20))
        failed += print_ranges(results["cascade_ranges"])
    phases["cascade"] = time.monotonic() - started - sum(phases.values())

    if args.scale_events:
        from devtools.bench.scale import report, scale_benchmark
        from devtools.local_stack.store import dynamodb_local_unavailable

        unavailable = dynamodb_local_unavailable()
        if unavailable:
            print(f"\n6. A member's timeline at scale skipped: {unavailable}")
            failed.append("timeline at scale on DynamoDB Local")
        else:
            results["scale"] = scale_benchmark(args.scale_events)
            report(results["scale"])
            failed += results["scale"]["failed"]
        from devtools.bench.ceilings import below_target, ceilings, print_ceilings

        results.setdefault("scale", {})["ceilings"] = found = ceilings()
        print_ceilings(found)
        failed += below_target(found)
        phases["scale"] = time.monotonic() - started - sum(phases.values())

    from devtools.bench import schemas

    results["attribute_schemas"], missed = schemas.phase(not args.skip_cold_starts, args.schema_examples)
    failed += missed
    phases["attribute schemas"] = time.monotonic() - started - sum(phases.values())
    results["seconds"] = {name: round(seconds, 1) for name, seconds in phases.items()}
    print("\ntime: " + ", ".join(f"{name} {seconds:.0f} s" for name, seconds in phases.items()))
    args.json.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nfigures written to {args.json}")
    if failed:
        print(f"FAILED: {failed}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

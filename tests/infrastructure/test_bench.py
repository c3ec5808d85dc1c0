"""The round-trip budgets hold: `make bench` (devtools/bench/__main__.py) exits 0 and reports them within budget.

Its phases that seed stores (the cascade, the timeline, members, stats and searches at scale: ~40 s of CPU even at
small sizes) are left to `make bench` itself, which CI runs whole (.ci/run)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_operation_is_within_its_round_trip_budget(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "TABLE_NAME"))}
    done = subprocess.run(  # noqa: S603
        [
            *(sys.executable, "-m", "devtools.bench", "--json", str(out)),
            *("--skip-cold-starts", "--warm-calls", "20", "--cascade-events", "0", "--schema-examples", "10"),
            *("--scale-events", "0"),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    rows = {row["operation"]: row for row in json.loads(out.read_text())["round_trips"]}
    assert rows["POST 10 events by ids"]["round_trips"] <= 2
    assert rows["POST 10 events by email and name"]["round_trips"] <= 3
    # A type this container has not read yet costs one BatchGetItem more, once; with a schema too.
    assert rows["POST 10 events by ids, type not read yet by this container"]["round_trips"] <= 3
    assert rows["POST 10 events by email and name, type not read yet"]["round_trips"] <= 4
    assert rows["POST 10 events with a schema by ids, schema not read yet"]["round_trips"] <= 3
    assert rows["POST 10 events with a schema by ids"]["round_trips"] <= 2
    schemas = json.loads(out.read_text())["attribute_schemas"]
    assert schemas["import"]["ms"] > 0
    assert all(row["ten_events_ms"] <= row["target_ms"] for row in schemas["validation"])
    assert schemas["search"]["examples"] == 10
    assert {row["name"] for row in schemas["search"]["rows"]} >= {"16 $defs under unevaluatedProperties"}
    first = rows["member events: first page (500)"]["round_trips"]
    assert first <= 2
    assert rows["member events: cursor page (after 1,000)"]["round_trips"] == first
    assert all("Scan" not in row["calls"] for row in rows.values())
    warm = {row["function"]: row for row in json.loads(out.read_text())["warm_latency"]}
    assert warm["create_member_events"]["round_trips"] == rows["POST 10 events by ids"]["round_trips"]
    assert all(0 < row["p50_ms"] <= row["p99_ms"] for row in warm.values())

"""Phase 5 of ``make bench``: what attribute schemas cost where they are used.

- The validator's import (jsonschema-rs), in fresh processes: CPU of ``import jsonschema_rs`` alone, medians. Only
  a request that declares a schema, or a batch with events of a type that has one, pays it (tests show that
  nothing else imports it).
- Checking 10 events of ~32 KB against a realistic schema (an order and its lines), valid and failing.
- The search (schema_search.py): generated schemas built to cost the most, with batches at the request limits,
  and the review's attacks; the dearest found against the budget and against its own estimate.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from functools import partial
from pathlib import Path
from typing import Any

from devtools.bench import schema_search

#: Target: what 10 events of 32 KB may cost to check against a realistic schema, in CPU ms.
REALISTIC_TARGET_MS = 50.0

ORDER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["order_id", "currency", "total", "lines"],
    "properties": {
        "order_id": {"type": "string", "pattern": "^ORD-[0-9]{4,12}$"},
        "currency": {"enum": ["USD", "EUR", "GBP", "CAD"]},
        "total": {"type": "number", "minimum": 0},
        "coupon": {"type": "string", "maxLength": 32},
        "channel": {"enum": ["web", "app", "store"]},
        "customer": {
            "type": "object",
            "properties": {"tier": {"enum": ["gold", "silver", "none"]}, "since": {"type": "string", "format": "date"}},
            "additionalProperties": False,
        },
        "lines": {"type": "array", "maxItems": 1000, "items": {"$ref": "#/$defs/line"}},
    },
    "additionalProperties": False,
    "$defs": {
        "line": {
            "type": "object",
            "required": ["sku", "quantity", "price"],
            "properties": {
                "sku": {"type": "string", "pattern": "^[A-Z]{3}-[0-9]{1,6}$"},
                "quantity": {"type": "integer", "minimum": 1},
                "price": {"type": "number", "minimum": 0},
                "tags": {"type": "array", "items": {"type": "string", "maxLength": 20}, "uniqueItems": True},
            },
            "additionalProperties": False,
        }
    },
}


def _order(lines: int, good: bool = True) -> dict[str, Any]:
    line = {"sku": "ABC-123", "quantity": 2, "price": 19.99, "tags": ["sale", "new"]}
    bad = {"sku": "abc", "quantity": 0, "price": "19.99", "tags": ["x", "x"]}
    return {
        "order_id": "ORD-100200",
        "currency": "EUR",
        "total": 12.5,
        "channel": "web",
        "customer": {"tier": "gold", "since": "2020-01-01"},
        "lines": [line if good or n % 50 else bad for n in range(lines)],
    }


def _largest(make: Any, budget: int) -> dict[str, Any]:
    """The largest attributes ``make(n)`` builds within ``budget`` bytes (the model's own measure)."""
    from emma_events.models import ATTRIBUTES_MAX_BYTES

    low, high = 1, 100_000
    while low < high:
        middle = (low + high + 1) // 2
        size = len(json.dumps(make(middle), separators=(",", ":"), ensure_ascii=False).encode())
        low, high = (middle, high) if size <= min(budget, ATTRIBUTES_MAX_BYTES) else (low, middle - 1)
    return dict(make(low))


def _cpu_ms(action: Any, runs: int = 11) -> float:
    times = []
    for _ in range(runs):
        started = time.process_time()
        action()
        times.append((time.process_time() - started) * 1000)
    return statistics.median(times)


def _check_ten(compiled: Any, attributes: dict[str, Any]) -> None:
    from emma_events.attribute_schemas import failures

    for _ in range(10):
        failures(compiled, attributes)


def import_cost(python: Path | None = None, path: Path | None = None, runs: int = 11) -> dict[str, Any]:
    """CPU ms of ``import jsonschema_rs`` in fresh processes (``python -S`` with ``path`` first on sys.path:
    the runtime's Python and the built layer, as on Lambda), median of ``runs``."""
    python = python or Path(sys.executable)
    flags = ["-S"] if path else []
    script = (
        f"import sys, time; sys.path.insert(0, {str(path)!r}); " if path else "import sys, time; "
    ) + "t = time.process_time(); import jsonschema_rs; print((time.process_time() - t) * 1000)"
    command = [str(python), *flags, "-c", script]
    times = [float(subprocess.run(command, capture_output=True, text=True, check=True).stdout) for _ in range(runs)]  # noqa: S603
    return {"python": str(python), "layer": str(path) if path else None, "ms": statistics.median(times)}


def validation() -> list[dict[str, Any]]:
    """CPU ms to check 10 events of ~32 KB against a realistic schema, valid and failing, with its estimate."""
    from emma_events import attribute_schemas, layout

    cases = [
        ("realistic: an order of ~450 lines", ORDER_SCHEMA, lambda n: _order(n), REALISTIC_TARGET_MS),
        ("realistic, failing (every 50th line)", ORDER_SCHEMA, lambda n: _order(n, good=False), REALISTIC_TARGET_MS),
    ]
    rows = []
    for name, schema, make, target in cases:
        attribute_schemas.check(schema)
        text = layout.schema_text(schema)
        attributes = _largest(make, 32 * 1024)
        compile_ms = _cpu_ms(partial(attribute_schemas._compiled, text), 5)
        compiled = attribute_schemas.validator(text)
        ms = _cpu_ms(partial(_check_ten, compiled, attributes), 5)
        failures = attribute_schemas.failures(compiled, attributes)
        rows.append(
            {
                "case": name,
                "schema_bytes": len(text.encode()),
                "subschemas": attribute_schemas.subschemas(schema),
                "event_bytes": len(json.dumps(attributes, separators=(",", ":")).encode()),
                "compile_ms": round(compile_ms, 2),
                "ten_events_ms": round(ms, 2),
                "estimate_ms": round(attribute_schemas.batch_ms(compiled.cost), 1),
                "failures_per_event": len(failures),
                "target_ms": target,
            }
        )
    return rows


def phase(with_layer: bool, examples: int = 300) -> tuple[dict[str, Any], list[str]]:
    """Measure and print phase 5; its figures and the targets it missed. ``with_layer``: the cold-start phase
    built the layer, so the import is measured with the runtime's Python on it; ``examples``: schemas the search
    generates (each with a batch at the request limits)."""
    from devtools.bench import coldstart

    where = (coldstart.runtime_python(), coldstart.LAYER) if with_layer else (None, None)
    imported = import_cost(*where)
    rows = validation()
    found = schema_search.search(examples)
    on = "the runtime on the built layer" if with_layer else "this venv"
    print(f"\n5. Attribute schemas (jsonschema-rs; CPU, medians; {on})")
    print(f"  import jsonschema_rs: {imported['ms']:.1f} ms, only where a schema is met (none on types without one)")
    heading = f"{'schema':>7} {'subsch.':>7} {'event':>7} {'compile':>8} {'10 events':>10}  failures"
    print(f"  {'checking 10 events':<46} {heading}")
    failed = []
    for r in rows:
        over = r["ten_events_ms"] > r["target_ms"]
        print(
            f"  {r['case']:<46} {r['schema_bytes']:>6}B {r['subschemas']:>7} {r['event_bytes']:>6}B "
            f"{r['compile_ms']:>6.2f}ms {r['ten_events_ms']:>8.2f}ms  {r['failures_per_event']:>4}/event"
            f"  (target {r['target_ms']:.0f} ms, estimate {r['estimate_ms']:.0f} ms){'  OVER' if over else ''}"
        )
        if over:
            failed.append(f"attribute schemas: {r['case']}")
    failed += _print_search(found)
    return {"import": imported, "validation": rows, "search": found}, failed


def _print_search(found: dict[str, Any]) -> list[str]:
    """The search's figures, and what it found past the budget or past its estimate."""
    budget = f"budget {schema_search.BUDGET_MS} ms / {schema_search.BUDGET_MB} MB"
    print(
        f"  the search: {found['examples']} generated schemas x batches at the request limits, "
        f'{found["accepted"]} accepted, {found["refused"]} refused ({budget} more than {{"type": "object"}})'
    )
    failed = []
    labels = {"dearest": "dearest (CPU)", "largest": "largest (memory)", "closest_to_estimate": "closest to estimate",
              "slowest_compile": "slowest to compile"}  # fmt: skip
    for key, label in labels.items():
        r = found[key]
        print(
            f"  {label:<22} {r['ms']:8.1f} ms {r['mb']:6.1f} MB (estimate {r['estimate_ms']:7.1f} ms, compile "
            f"{r['compile_ms']:.1f} ms) {r['plan']['shape']} x{r['plan']['events']}: {r['schema'][:110]}"
        )
    for r in found["rows"]:
        if r.get("refused"):
            print(f"  {r['name']:<48} refused")
        else:
            print(f"  {r['name']:<48} {r['ms']:8.1f} ms {r['mb']:6.1f} MB (estimate {r['estimate_ms']:.1f} ms)")
    everything = [found[key] for key in labels] + [r for r in found["rows"] if not r.get("refused")]
    if any(r["ms"] > schema_search.BUDGET_MS or r["mb"] > schema_search.BUDGET_MB for r in everything):
        failed.append("attribute schemas: a batch past the budget")
    if any(r["ms"] > r["estimate_ms"] for r in everything):
        failed.append("attribute schemas: a batch past its schema's estimate")
    return failed

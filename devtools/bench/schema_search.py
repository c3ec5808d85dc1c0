"""Phase 5 of ``make bench``, the search: schemas generated to cost the most (devtools/testing/hostile_schemas.py),
each with a batch of events at the request limits that meets it, and the review's attacks. For every schema the
API accepts, what checking the batch costs (compiling the schema, then every event: CPU in this thread, and the
peak of resident memory above where it started) against the budget (0.5 s and 64 MB more than a schema that
checks nothing) and against the schema's own estimate (``attribute_schemas.batch_ms``), which must not be short.
"""

from __future__ import annotations

import json
from typing import Any

from devtools.testing.measure import measured

#: What a batch may cost more than under ``{"type": "object"}`` (CPU ms, MB), whatever the schema.
BUDGET_MS = 500
BUDGET_MB = 64
SEED = 20261204


def check_batch(schema: dict[str, Any], attributes: list[dict[str, Any]]) -> tuple[float, float, float]:
    """(CPU ms, MB, compile ms) of checking ``attributes`` against a schema the container has not compiled."""
    from emma_events import attribute_schemas, layout

    text = layout.schema_text(schema)
    attribute_schemas._cache.clear()
    compile_ms, _, _ = measured(lambda: attribute_schemas.validator(text))
    attribute_schemas._cache.clear()

    def everything() -> None:
        found = attribute_schemas.validator(text)
        for event in attributes:
            attribute_schemas.failures(found, event)

    ms, mb, _ = measured(everything)
    return ms, mb, compile_ms


def search(examples: int) -> dict[str, Any]:
    """The dearest accepted schemas the search finds, and the review's attacks, measured."""
    from hypothesis import HealthCheck, Phase, given, seed, settings, target

    from devtools.testing.hostile_schemas import ROWS, batch, plan_of, plans, schemas
    from emma_events import attribute_schemas
    from emma_events.attribute_schemas import BATCH_STRING_BYTES, BATCH_VALUES
    from emma_events.models import ATTRIBUTES_MAX_BYTES

    found: list[dict[str, Any]] = []
    refused = [0]
    plain = {"type": "object"}

    def measure(schema: dict[str, Any], plan: dict[str, Any], name: str | None = None) -> dict[str, Any] | None:
        try:
            attribute_schemas.check(schema)
        except ValueError:
            refused[0] += 1
            return None
        per_event = min(ATTRIBUTES_MAX_BYTES, BATCH_STRING_BYTES // plan["events"])
        attributes = batch(schema, plan, BATCH_VALUES - 500, per_event - 64)
        ms, mb, compile_ms = check_batch(schema, attributes)
        base_ms, base_mb, _ = check_batch(plain, attributes)
        estimate = attribute_schemas.batch_ms(attribute_schemas.cost(schema))
        row = {
            "name": name,
            "ms": round(ms - base_ms, 2),
            "mb": round(mb - base_mb, 2),
            "compile_ms": round(compile_ms, 2),
            "estimate_ms": round(estimate, 1),
            "plan": plan,
            "schema": json.dumps(schema)[:300],
        }
        found.append(row)
        return row

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        phases=[Phase.generate, Phase.target],
        suppress_health_check=list(HealthCheck),
    )
    @seed(SEED)
    @given(schemas(), plans)
    def explore(schema: dict[str, Any], plan: dict[str, Any]) -> None:
        row = measure(schema, plan)
        if row is not None:
            target(row["ms"], label="CPU ms")
            target(row["ms"] / max(row["estimate_ms"], 1.0), label="measured / estimate")
            target(row["mb"], label="MB")

    explore()
    rows = [
        measure(schema, plan_of(plan), name) or {"name": name, "refused": True} for name, (schema, plan) in ROWS.items()
    ]
    accepted = [r for r in found if r["name"] is None]
    return {
        "examples": examples,
        "accepted": len(accepted),
        "refused": refused[0],
        "dearest": max(found, key=lambda r: r["ms"]),
        "largest": max(found, key=lambda r: r["mb"]),
        "closest_to_estimate": max(found, key=lambda r: r["ms"] / max(r["estimate_ms"], 1.0)),
        "slowest_compile": max(found, key=lambda r: r["compile_ms"]),
        "rows": rows,
    }

"""Every accepted schema validates in bounded time and memory: a POST of events at the request limits costs at most
0.5 s more CPU and 64 MB more memory than the same POST under ``{"type": "object"}``; a schema past its cost is
a 400 naming the schema, and declaring any schema costs as little.

Schemas are generated from the grammar of the keywords (devtools/testing/hostile_schemas.py), events built to
meet them at the size limits; the attacks that asked for the bound are fixed examples. The seed is printed.
Measured in this thread's CPU and in the peak of this process's resident memory, each POST's own, the collector
kept off the test's heap; the generated search runs on the reference tier, where the store's work is in another
process (tests/local_stack/test_request_limits_http.py sends the same attacks through the local stack)."""

from __future__ import annotations

import contextlib
import os
import random
from typing import Any

import pytest
from helpers import create_typed, new_member
from hypothesis import HealthCheck, Phase, given, note, seed, settings, target
from hypothesis.errors import InvalidArgument

from devtools.testing.events import api_event
from devtools.testing.hostile_schemas import ROWS, batch, plan_of, plans, schemas
from devtools.testing.in_process import invoke
from devtools.testing.measure import measured

SEED = int(os.environ.get("HYPOTHESIS_SEED") or random.SystemRandom().randrange(2**32))
CPU_MS = 500
MEMORY_MB = 64
#: Declaring a schema (the checks, the cost model, compiling it) costs at most this much CPU.
DECLARE_MS = 100


def say(text: str) -> None:
    """A note in hypothesis's report of a failing example (the parametrized rows run outside it)."""
    with contextlib.suppress(InvalidArgument):
        note(text)


@pytest.fixture
def world(dynamodb: Any) -> dict[str, Any]:
    member = new_member(100)
    plain = create_typed(name="plain", schema={"type": "object"}).body["event_type_id"]
    return {"member": member, "plain": plain, "names": iter(range(10**6))}


def _post(world: dict[str, Any], type_id: int, attributes: list[dict[str, Any]]) -> Any:
    events = [{"member_id": world["member"], "event_type_id": type_id, "attributes": a} for a in attributes]
    event = api_event("create_member_events", path={"account_id": 100}, body={"events": events})
    event["headers"].pop("Idempotency-Key")
    event["multiValueHeaders"].pop("Idempotency-Key")
    return invoke("create_member_events", event)


def costs_within_the_bound(world: dict[str, Any], schema: Any, plan: dict[str, Any]) -> None:
    from emma_events.attribute_schemas import BATCH_STRING_BYTES, BATCH_VALUES
    from emma_events.models import ATTRIBUTES_MAX_BYTES

    say(f"seed: HYPOTHESIS_SEED={SEED} repeats this run")
    body = {"event_type": f"t{next(world['names'])}", "display_name": "T", "attributes_schema": schema}
    declare = api_event("create_event_type", path={"account_id": 100}, body=body)
    declare_ms, _, declared = measured(lambda: invoke("create_event_type", declare))
    say(f"declared: {declared.status} in {declare_ms:.1f} ms; {str(declared.body)[:300]}")
    assert declare_ms <= DECLARE_MS
    if declared.status != 200:
        assert declared.status == 400, declared.body
        assert [e["field"] for e in declared.body["errors"]] == ["body.attributes_schema"]
        return
    per_event = min(ATTRIBUTES_MAX_BYTES, BATCH_STRING_BYTES // plan["events"])
    attributes = batch(schema, plan, BATCH_VALUES - 500, per_event - 64)
    _post(world, world["plain"], attributes[:1])  # the plain type's validator and the handler warm
    plain_ms, plain_mb, plain = measured(lambda: _post(world, world["plain"], attributes))
    checked_ms, checked_mb, checked = measured(lambda: _post(world, declared.body["event_type_id"], attributes))
    say(f"{plan}: {checked.status} in {checked_ms:.1f} ms / {checked_mb:.1f} MB; plain {plain_ms:.1f} / {plain_mb:.1f}")
    assert plain.status == 200, plain.body
    assert checked.status in (200, 400), checked.body
    with contextlib.suppress(InvalidArgument):
        target(checked_ms - plain_ms, label="CPU ms more than the plain type")  # the search climbs toward the dearest
    assert checked_ms - plain_ms <= CPU_MS
    assert checked_mb - plain_mb <= MEMORY_MB


@pytest.mark.reference_only  # measured in this thread's CPU: moto's store would run in it too
@settings(
    max_examples=30,
    deadline=None,
    database=None,
    print_blob=True,
    phases=[Phase.explicit, Phase.generate, Phase.target, Phase.shrink],  # not explain: its tracer would be measured
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
@seed(SEED)
@given(schema=schemas(), plan=plans)
def test_any_accepted_schema_checks_a_batch_within_the_bound(world: dict[str, Any], schema: Any, plan: Any) -> None:
    costs_within_the_bound(world, schema, plan)


@pytest.mark.stores  # on moto, then again on DynamoDB Local
@pytest.mark.parametrize("row", sorted(ROWS))
def test_the_reviews_attacks_are_refused_or_within_the_bound(world: dict[str, Any], row: str) -> None:
    schema, plan = ROWS[row]
    costs_within_the_bound(world, schema, plan_of(plan))

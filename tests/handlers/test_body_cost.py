"""Bodies cost what their bytes cost: a batch padded to 1 MB with JSON of any shape (in a field the API ignores)
costs at most twice the same batch padded with one string, in CPU of the whole request, in process. A shape past
the values a body may hold is refused before it is parsed; one just under it is parsed whole.

Generated shapes (hypothesis), repeated to 1 MB or to just under ``BODY_MAX_COST``; the seed is printed."""

from __future__ import annotations

import gc
import json
import os
import random
import time
from collections.abc import Iterator
from typing import Any

import pytest
from helpers import create_type, new_member
from hypothesis import HealthCheck, Phase, example, given, note, seed, settings
from hypothesis import strategies as st

from devtools.testing.events import api_event
from devtools.testing.in_process import invoke

# The store's own CPU is outside the function's on DynamoDB Local (and on AWS); moto's runs in this very thread.
pytestmark = pytest.mark.reference_only

SEED = int(os.environ.get("HYPOTHESIS_SEED") or random.SystemRandom().randrange(2**32))
MB = 1_000_000
RATIO = 2.0
BATCH = {"events": [{"member_id": 1, "event_type_id": 1, "attributes": {"sku": "A-1"}} for _ in range(10)]}

units = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=8)),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=4), inner, max_size=4)),
    max_leaves=12,
)


def _body(pad: str) -> str:
    return json.dumps(BATCH)[:-1] + ', "pad": ' + pad + "}"


def _cost(unit_text: str) -> int:
    from emma_events import json_text

    return json_text.cost(json_text.skeleton(unit_text))


def _padding(unit_text: str, under_the_bound: bool) -> str:
    """``unit_text`` repeated in an array to 1 MB, or as often as a body may hold (and a string to 1 MB)."""
    from emma_events.json_text import BODY_MAX_COST

    copies = MB // (len(unit_text.encode()) + 1)
    if not under_the_bound:
        return "[" + ",".join([unit_text] * copies) + "]"
    copies = min(copies, (BODY_MAX_COST - 200) // _cost(unit_text))
    array = "[" + ",".join([unit_text] * copies) + "]"
    return f'[{array}, "{"x" * max(0, MB - len(array.encode()))}"]'


_keys = iter(range(10**9))


def _cpu_ms(body: str) -> tuple[float, int]:
    """The request's CPU in this thread, with an Idempotency-Key of its own (a fingerprint is taken)."""
    gc.collect()
    gc.freeze()  # the test process's own heap (moto, hypothesis) is not a function's to walk
    event = api_event("create_member_events", path={"account_id": 1}, body={})
    event["body"] = body
    key = f"cost-{next(_keys)}"
    event["headers"]["Idempotency-Key"], event["multiValueHeaders"]["Idempotency-Key"] = key, [key]
    started = time.thread_time()
    status = invoke("create_member_events", event).status
    return (time.thread_time() - started) * 1000, status


@pytest.fixture
def ratio(dynamodb: Any) -> Iterator[Any]:
    """The CPU of a request with a body, and its ratio to the same request with a 1 MB string in the ignored
    field, taken right before it: the least of three such pairs (a busy moment slows both of a pair; the least of
    each kind, taken at different moments, could compare a quiet one with a busy one)."""
    new_member(1)
    create_type(1)
    string = _body(json.dumps("x" * MB))
    _cpu_ms(string)

    def measure(body: str) -> tuple[float, float, int]:
        pairs = [(_cpu_ms(string)[0], _cpu_ms(body)) for _ in range(3)]
        times, ms = min((measured / reference, measured) for reference, (measured, _) in pairs)
        return times, ms, pairs[-1][1][1]

    try:
        yield measure
    finally:
        gc.unfreeze()


@settings(
    max_examples=20,
    deadline=None,
    database=None,
    print_blob=True,
    phases=[Phase.explicit, Phase.generate, Phase.shrink],  # not explain: its line tracer would be measured too
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@seed(SEED)
@given(unit=units, under_the_bound=st.booleans())
@example(unit=[], under_the_bound=False)
@example(unit={}, under_the_bound=False)
@example(unit="", under_the_bound=False)
@example(unit=[[[[[[[[[[[[[[[[[[[[[[[[[[[[[0]]]]]]]]]]]]]]]]]]]]]]]]]]]]], under_the_bound=False)
@example(unit={"a": 0}, under_the_bound=True)
@example(unit={}, under_the_bound=True)
@example(unit=[[]], under_the_bound=True)
def test_a_1_mb_body_of_any_shape_costs_at_most_twice_a_1_mb_string(
    ratio: Any, unit: Any, under_the_bound: bool
) -> None:
    note(f"seed: HYPOTHESIS_SEED={SEED} repeats this run")
    body = _body(_padding(json.dumps(unit), under_the_bound))
    times, ms, status = ratio(body)
    note(f"{len(body.encode())} bytes: {ms:.1f} ms, {times:.2f} x a string's; status {status}")
    assert status in (200, 400), status
    assert times <= RATIO, f"{ms:.1f} ms: {times:.2f} x a 1 MB string's"

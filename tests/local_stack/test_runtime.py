"""The local stack's Lambda emulation, on a test-only app: isolation, warm state, errors, timeouts, streams."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devtools.testing.patience import seconds
from devtools.testing.stack_process import RunningStack, dynamodb_client, running_stack

pytestmark = pytest.mark.stores  # on moto, then again on DynamoDB Local

APP = Path(__file__).parent / "fixtures" / "stack_app" / "template.yaml"


@pytest.fixture(scope="module")
def stack() -> Iterator[RunningStack]:
    with running_stack(template=APP) as running:
        yield running


def probe(stack: RunningStack, name: str) -> Any:
    reply = stack.request("GET", f"/probe/{name}")
    assert reply.status == 200, reply.text
    return reply.json


def test_each_function_runs_in_its_own_warm_process_with_its_own_environment(stack: RunningStack) -> None:
    a1, b1, a2 = probe(stack, "a"), probe(stack, "b"), probe(stack, "a")

    # Warm: the same process and module state serve the second call of a function.
    assert a2["pid"] == a1["pid"]
    assert a2["calls"] == a1["calls"] + 1
    # Isolated: another process, its own app.py, its own variables; no variable set by the other leaks in.
    assert b1["pid"] != a1["pid"]
    assert a1["app_file"].endswith("probe_a/app.py")
    assert b1["app_file"].endswith("probe_b/app.py")
    assert a2["leaks"] == ["LEAK_FROM_A"]
    assert b1["leaks"] == ["LEAK_FROM_B"]
    # The template's Globals and function variables, with !Ref resolved as SAM resolves it.
    assert (a1["probe"], b1["probe"]) == ("a", "b")
    assert a1["global_setting"] == "from-globals"
    assert a1["table_name"] == "Table"
    # A Lambda context, the embedded DynamoDB endpoint and forced dummy credentials.
    assert a1["function_name"] == "ProbeAFunction"
    assert 0 < a1["remaining_ms"] <= 5000
    assert a1["endpoint"].startswith("http://127.0.0.1:")
    assert a1["access_key"] == "local"
    assert a1["path"] == "/probe/a"


def test_a_crashing_function_is_502(stack: RunningStack) -> None:
    reply = stack.request("GET", "/misbehave/crash")
    assert reply.status == 502
    assert reply.json == {"message": "Internal server error"}


def test_a_malformed_function_response_is_502(stack: RunningStack) -> None:
    assert stack.request("GET", "/misbehave/malformed").status == 502


def test_payloads_over_lambdas_6_mb_are_refused_as_on_api_gateway(stack: RunningStack) -> None:
    """Lambda refuses a synchronous request or response over 6 MB: API Gateway answers a request that would pass
    it 413 (docs/security.md), a response that does 502; neither SAM's emulation nor a plain process enforces
    it, so the local stack does."""
    assert stack.request("GET", "/misbehave/huge").status == 502
    assert stack.request("GET", "/misbehave/fine").status == 200
    under = stack.request("POST", "/misbehave/echo", raw=b"x" * (5 * 1024 * 1024))
    assert (under.status, under.text) == (200, str(5 * 1024 * 1024))
    over = stack.request("POST", "/misbehave/echo", raw=b"x" * (6 * 1024 * 1024 + 1))
    assert (over.status, over.json) == (413, {"message": "Request Too Long"})  # this stack has no gateway responses


def test_a_function_whose_process_dies_is_502_and_the_next_call_gets_a_new_one(stack: RunningStack) -> None:
    assert stack.request("GET", "/misbehave/exit").status == 502
    assert stack.request("GET", "/misbehave/fine").status == 200


def test_a_function_past_its_timeout_is_502_as_on_api_gateway(stack: RunningStack) -> None:
    """Lambda ends a timed-out invocation with an error, which API Gateway answers 502 (504 is for its own 29 s
    integration timeout, which a function with Timeout 2 never reaches)."""
    started = time.monotonic()
    reply = stack.request("GET", "/misbehave/timeout")
    assert reply.status == 502
    assert reply.json == {"message": "Internal server error"}
    assert time.monotonic() - started < 10  # Timeout: 2 in the template, not the 30 s the function sleeps
    assert stack.request("GET", "/misbehave/fine").status == 200


def test_a_slow_request_does_not_block_the_others(stack: RunningStack) -> None:
    probe(stack, "b")  # warm
    slow_done = threading.Event()

    def slow() -> None:
        stack.request("GET", "/misbehave/slow")
        slow_done.set()

    thread = threading.Thread(target=slow)
    thread.start()
    time.sleep(0.2)
    probe(stack, "b")
    fast_finished_first = not slow_done.is_set()
    thread.join()
    assert fast_finished_first


def test_the_stream_delivers_matching_records_only_in_batches_and_retries_failures(stack: RunningStack) -> None:
    endpoint = probe(stack, "a")["endpoint"]
    client = dynamodb_client(endpoint)
    keys = [("watched#1", "a"), ("watched#1", "b"), ("other#1", "c"), ("watched#1", "fail-once-d")]
    for pk, sk in keys:
        client.put_item(TableName="Table", Item={"PK": {"S": pk}, "SK": {"S": sk}})
    for pk, sk in keys:
        client.delete_item(TableName="Table", Key={"PK": {"S": pk}, "SK": {"S": sk}})

    def seen() -> dict[str, dict[str, Any]]:
        found = {}
        for sk in ("a", "b", "c", "fail-once-d"):
            item = client.get_item(TableName="Table", Key={"PK": {"S": f"seen#{sk}"}, "SK": {"S": "seen"}}).get("Item")
            if item:
                found[sk] = item
        return found

    deadline = time.monotonic() + seconds(20)
    while set(seen()) != {"a", "b", "fail-once-d"} and time.monotonic() < deadline:
        time.sleep(0.2)
    records = seen()

    assert set(records) == {"a", "b", "fail-once-d"}  # "other#" is filtered out, and so are all INSERTs
    assert all(item["event_name"]["S"] == "REMOVE" for item in records.values())
    assert all(int(item["batch_size"]["N"]) <= 2 for item in records.values())  # BatchSize: 2
    # fail-once-d was reported in batchItemFailures the first time, then retried and recorded.
    assert int(records["fail-once-d"]["deliveries"]["N"]) == 1


@pytest.mark.reference_only
def test_data_survives_a_restart_and_dynamodb_endpoint_reuses_it(tmp_path: Path) -> None:
    """`make run` keeps DynamoDB Local's data in a folder: a restart finds it. DYNAMODB_ENDPOINT points the stack
    at a DynamoDB it does not start (here DynamoDB Local on those same files): the tables are reused."""
    from devtools.local_stack.store import DynamoDBLocalProcess

    with running_stack(store="dynamodb-local", data_dir=tmp_path) as stack:
        reply = stack.request("POST", "/100/events", {"event_type": "kept", "display_name": "Kept"})
        assert reply.status == 200, reply.text
        assert f"data in {tmp_path}" in stack.log()
    external = DynamoDBLocalProcess("127.0.0.1", 0, tmp_path)
    external.start()
    try:
        endpoint = f"http://127.0.0.1:{external.port}"
        item = dynamodb_client(endpoint).get_item(
            TableName="EventsTable", Key={"PK": {"S": "100"}, "SK": {"S": "ETNAME#kept"}}
        )
        assert "Item" in item
        with running_stack(extra_env={"DYNAMODB_ENDPOINT": endpoint}) as stack:
            assert f"DynamoDB at {endpoint}" in stack.log()
            assert [t["event_type"] for t in stack.request("GET", "/100/events").json] == ["kept"]
    finally:
        external.stop()


@pytest.mark.moto_only  # no store: the runtime alone
def test_stopping_ends_the_workers_of_invocations_still_running() -> None:
    """A Ctrl-C while a function runs (a cascade waiting out the index's lag, say) leaves no process behind."""
    import json

    from devtools.local_stack.runtime import FunctionSpec, ProcessRuntime

    spec = FunctionSpec(
        "Misbehaving",
        APP.parent / "misbehaving",
        [],
        timeout=60,
        environment={"AWS_LAMBDA_FUNCTION_HANDLER": "app.lambda_handler"},
    )
    runtime = ProcessRuntime(max_workers=2)
    event = json.dumps({"pathParameters": {"how": "timeout"}})  # sleeps 30 s
    threading.Thread(target=lambda: runtime.invoke(spec, event), daemon=True).start()
    deadline = time.monotonic() + seconds(20)
    while not runtime._workers and time.monotonic() < deadline:
        time.sleep(0.05)
    (worker,) = runtime._workers
    runtime.close()
    assert worker.process.poll() is not None  # ended with the runtime, not 30 s later
    with pytest.raises(RuntimeError, match="stopping"):
        runtime.invoke(spec, event)

"""``make invoke``: ``sam local invoke`` without Docker. One function, one event, Lambda's output.

    python -m devtools.local_stack.invoke GetEventTypeFunction -e events/get_event_type.json
    make invoke FUNCTION=GetEventTypeFunction EVENT=events/get_event_type.json

The interface and output are ``sam local invoke``'s: the function's logical id from template.yaml (optional when
the template has one function), ``-e/--event FILE`` (``-`` for stdin; no event is ``{}``), ``--env-vars`` (SAM's
env.json: a section per function logical id and ``Parameters`` for all), ``--parameter-overrides``. The function's
JSON result goes to stdout; its logs and Lambda's START / END / REPORT lines go to stderr. When the function
raises, Lambda's error document (``errorMessage``, ``errorType``, ``stackTrace``) goes to stdout and the exit
status is 1.

The function is resolved and run as the local stack runs it (``server.SamRuntimeAdapter``: SAM CLI's
providers for handler, code folder, layers, environment and timeout; ``runtime``'s worker process): a fresh
execution environment, so every invoke is a cold start, as with ``sam local invoke``. Its DynamoDB is a running
`make run`'s when one is up (the invoke sees and changes the stack's data; `make seed` writes the world below into
an empty stack), else, or with ``--seeded`` (`make invoke SEEDED=1`), one of its own, in memory, seeded with the
world the events/ files name (account 100, type 1 "purchase", member 1, the development key), so that each
events/ file answers as documented.
"""

from __future__ import annotations

import argparse
import functools
import json
import logging
import math
import os
import sys
import uuid
from pathlib import Path
from typing import Any

from devtools.local_stack import template
from devtools.local_stack.runtime import FunctionTimeout, ProcessRuntime
from devtools.local_stack.server import LocalEventBus, SamRuntimeAdapter
from devtools.local_stack.state import force_local_credentials, running_stack
from devtools.local_stack.store import STORES, EmbeddedDynamoDB, function_environment


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="invoke", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("function_identifier", nargs="?", help="the function's logical id in the template")
    parser.add_argument("-e", "--event", help="JSON file with the event ('-' for stdin); default: {}")
    parser.add_argument("-t", "--template", "--template-file", type=Path, default=template.TEMPLATE)
    parser.add_argument("-n", "--env-vars", type=Path, help="JSON file of environment variables (SAM's format)")
    parser.add_argument("--parameter-overrides", nargs="+", default=[], help="Key=Value ... (template parameters)")
    parser.add_argument(
        "--store",
        choices=STORES,
        default=os.environ.get("STORE", "auto"),
        help="the DynamoDB started when no `make run` is up: auto (DynamoDB Local when installed), moto, ...",
    )
    parser.add_argument("--dynamodb-endpoint", default=os.environ.get("DYNAMODB_ENDPOINT") or None)
    parser.add_argument("--seeded", action="store_true", help="a store of its own with the world of events/")
    return parser.parse_args(argv)


def parameter_overrides(values: list[str]) -> dict[str, str]:
    """SAM's ``--parameter-overrides`` forms: ``Key=Value`` pairs or ``ParameterKey=K,ParameterValue=V``."""
    from samcli.cli.types import CfnParameterOverridesType

    return dict(CfnParameterOverridesType().convert(" ".join(values), None, None)) if values else {}


@functools.lru_cache(maxsize=8)
def function_provider(template_path: str, overrides: tuple[tuple[str, str], ...]) -> Any:
    """SAM CLI's function provider for the template (parsing it takes ~0.4 s: kept for the process's next invoke)."""
    from samcli.lib.providers.sam_function_provider import SamFunctionProvider
    from samcli.lib.providers.sam_stack_provider import SamLocalStackProvider

    stacks, _ = SamLocalStackProvider.get_stacks(
        template_path, parameter_overrides=dict(overrides), language_extensions_enabled=True
    )
    return SamFunctionProvider(stacks, use_raw_codeuri=True)


def read_event(source: str | None) -> str:
    if source is None:
        return "{}"
    text = sys.stdin.read() if source == "-" else Path(source).read_text()
    json.loads(text)  # SAM refuses an event that is not JSON too
    return text


def report_line(request_id: str, result: Any, memory_size: str) -> str:
    """Lambda's REPORT line. The INIT phase of a cold start is billed too (on-demand ZIP functions on managed
    runtimes, since August 2025), so billed duration = Duration + Init Duration, rounded up to the millisecond."""
    duration, init = round(result.duration_ms, 2), round(result.init_duration_ms or 0.0, 2)
    fields = [
        f"RequestId: {request_id}",
        f"Duration: {duration:.2f} ms",
        f"Billed Duration: {math.ceil(round(duration + init, 2))} ms",
        f"Memory Size: {memory_size} MB",
        f"Max Memory Used: {result.max_memory_mb if result.max_memory_mb is not None else '-'} MB",
    ]
    if result.init_duration_ms is not None:
        fields.append(f"Init Duration: {result.init_duration_ms:.2f} ms")
    return "REPORT " + "\t".join(fields) + "\t"


def seed_events_world(dynamodb: EmbeddedDynamoDB, function: str) -> None:
    from devtools.testing.seeding import seed_example_world
    from emma_events.stores import Stores

    seed_example_world(Stores("EventsTable", dynamodb.client()), function=function)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    force_local_credentials()
    logging.basicConfig(level=logging.WARNING, format="%(name)s %(levelname)s %(message)s")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # the embedded DynamoDB's request log
    from samcli.commands.local.lib.local_lambda import LocalLambdaRunner

    template_path = args.template.resolve()
    functions = function_provider(
        str(template_path), tuple(sorted(parameter_overrides(args.parameter_overrides).items()))
    )
    names = sorted(f.name for f in functions.get_all())
    name = args.function_identifier or (names[0] if len(names) == 1 else None)
    if name is None or name not in names:
        problem = f"function {name!r} not found" if name else "more than one function in the template"
        print(f"invoke: {problem}; possible options in your template: {names}", file=sys.stderr)
        return 2
    event = read_event(args.event)
    env_vars = json.loads(args.env_vars.read_text()) if args.env_vars else None

    running = None if args.seeded else running_stack()
    endpoint = args.dynamodb_endpoint or (running.dynamodb_endpoint if running else None)
    dynamodb = EmbeddedDynamoDB(port=0, endpoint=endpoint, store=args.store, data_dir=None)
    runtime = ProcessRuntime(log=sys.stderr, max_workers=1)
    bus = LocalEventBus()
    bus_endpoint, bus_server = bus.serve_in_background()
    try:
        dynamodb.start()
        adapter = SamRuntimeAdapter(
            runtime, function_environment(dynamodb.endpoint, bus_endpoint), template_path.parent
        )
        runner = LocalLambdaRunner(
            local_runtime=adapter,
            function_provider=functions,
            cwd=str(template_path.parent),
            real_path=str(template_path.parent),
            env_vars_values=env_vars,
        )
        config = runner.get_invoke_config(runner.get_function(name))
        spec = adapter.spec(config)
        # Its own store: the template's tables, and for this project's template the world events/ presupposes.
        if endpoint is None and "EventsTable" in dynamodb.create_tables(template_path, empty=True):
            seed_events_world(dynamodb, spec.code_dir.name)
        print(f"Invoking {config.handler} ({config.runtime})", file=sys.stderr, flush=True)
        where = (
            f"the running local stack's DynamoDB at {endpoint}"
            if endpoint and not args.dynamodb_endpoint
            else dynamodb.description.split(":  ")[0].replace("when the stack stops", "when the invoke ends")
            + ("" if endpoint else ", seeded with the world of events/")
        )
        print(f"Store: {where}", file=sys.stderr, flush=True)
        request_id = str(uuid.uuid4())
        print(f"START RequestId: {request_id} Version: $LATEST", file=sys.stderr, flush=True)
        try:
            result = runtime.invoke(spec, event, request_id)
        except FunctionTimeout as timeout:
            message = f"RequestId: {request_id} Error: Task timed out after {timeout.after_s:.2f} seconds"
            print(f"END RequestId: {request_id}", file=sys.stderr, flush=True)
            print(json.dumps({"errorType": "Sandbox.Timedout", "errorMessage": message}), flush=True)
            return 1
        for entry in bus.published():  # what it put on EventBridge (among its log lines, before END)
            print(f"EventBridge PutEvents entry: {json.dumps(entry)}", file=sys.stderr)
        print(f"END RequestId: {request_id}", file=sys.stderr)
        print(
            report_line(request_id, result, spec.environment.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")),
            file=sys.stderr,
            flush=True,
        )
        print(result.payload, flush=True)
        return 1 if result.error else 0
    finally:
        bus_server.shutdown()
        runtime.close()
        dynamodb.stop()


if __name__ == "__main__":
    sys.exit(main())

"""Cold start of every function, from the ``sam build`` output, against a boto3-only floor (``make bench``).

For each function, a fresh process of the runtime's Python (3.12, with ``-S``: no site-packages, so only the
standard library, the function's folder, the layer's ``python/`` folder and boto3 are importable, as on Lambda)
imports the handler and serves its first request (the function's ``events/<name>.json``) against the embedded
DynamoDB. The floor is a handler that imports boto3, creates its client and makes the same DynamoDB calls (recorded
during the function's first run). Runs alternate function and floor, on a freshly seeded table each time;
the figures are medians, and the ratio is taken within the same run.

Lambda mounts code read-only, so nothing compiled at run time is kept: the processes run with
PYTHONDONTWRITEBYTECODE=1 and use only the bytecode the build shipped.

The layer is built by the template's own build (layers/emma_events/Makefile through ``sam build``) for this
machine's architecture (PLATFORM=manylinux2014_<machine>) into .aws-sam/bench, since the arm64 wheels of
pydantic-core cannot load here. boto3 for the runtime's Python is installed (and precompiled, as the runtime's is)
into .aws-sam/bench-runtime at the version the tests use.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

from devtools import ROOT

BUILD_DIR = ROOT / ".aws-sam" / "bench"
RUNTIME_DIR = ROOT / ".aws-sam" / "bench-runtime"
LAYER = BUILD_DIR / "EventsLayer" / "python"
CACHE_DIR = ROOT / ".aws-sam" / "bench-cache"
RUNTIME_VERSION = "3.12"
TABLE = "EventsTable"

# The process each run starts: the stand-in for Lambda's runtime bootstrap (which has json and time loaded before it
# imports the handler). It prints one JSON line: import and first-request milliseconds, and what the handler said.
DRIVER = r"""
import json, sys, time
started, cpu_started = time.perf_counter(), time.process_time()
import importlib
module = importlib.import_module(sys.argv[1])
imported = time.perf_counter()
event = json.loads(open(sys.argv[2]).read())
calls = []
if len(sys.argv) > 3:  # record the AWS calls of this first request (not a timed run)
    import botocore.client
    make_api_call = botocore.client.BaseClient._make_api_call
    def recording(self, operation_name, api_params):
        calls.append([self.meta.service_model.service_name, operation_name, api_params])
        return make_api_call(self, operation_name, api_params)
    botocore.client.BaseClient._make_api_call = recording
class Context:
    function_name = "bench"
    function_version = "$LATEST"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bench"
    aws_request_id = "00000000-0000-4000-8000-000000000000"
    log_group_name = "/aws/lambda/bench"
    log_stream_name = "bench"
    def get_remaining_time_in_millis(self):
        return 10000
before = time.perf_counter()
answer = module.lambda_handler(event, Context())
answered, cpu_answered = time.perf_counter(), time.process_time()
if len(sys.argv) > 3:
    open(sys.argv[3], "w").write(json.dumps(calls, default=str))
print(json.dumps({
    "import_ms": (imported - started) * 1000,
    "first_request_ms": (answered - before) * 1000,
    "cpu_ms": (cpu_answered - cpu_started) * 1000,
    "answer": answer,
    "modules": len(sys.modules),
}), flush=True)
import os
os._exit(0)  # a Lambda sandbox is frozen, not torn down: skip the interpreter's exit work
"""

# The floor: what any Python function that talks to DynamoDB (or EventBridge) pays, whatever its framework.
FLOOR = """
import json
import boto3
from botocore import xform_name
from botocore.exceptions import ClientError

with open(__file__.replace("floor.py", "calls.json")) as f:
    CALLS = json.load(f)
clients = {service: boto3.client(service) for service in sorted({service for service, _, _ in CALLS})}


def lambda_handler(event, context):
    for service, operation, params in CALLS:
        try:
            getattr(clients[service], xform_name(operation))(**params)
        except ClientError:
            pass
    return {"statusCode": 200}
"""


@dataclass
class Function:
    name: str  # its folder under functions/, and its events/<name>.json
    logical_id: str  # its folder in the build output
    environment: dict[str, str]


def runtime_python() -> Path:
    """The runtime's Python, as a real executable (not a pyenv shim): python3.12 on PATH, or pyenv's 3.12."""
    candidates = [f"python{RUNTIME_VERSION}"]
    if shutil.which("pyenv"):
        bare = subprocess.run(["pyenv", "versions", "--bare"], capture_output=True, text=True, check=False)  # noqa: S607
        root = subprocess.run(["pyenv", "root"], capture_output=True, text=True, check=False).stdout.strip()  # noqa: S607
        candidates += [
            f"{root}/versions/{name}/bin/python{RUNTIME_VERSION}"
            for name in bare.stdout.split()
            if name.startswith(RUNTIME_VERSION + ".")
        ]
    probe = f"import sys; assert '%d.%d' % sys.version_info[:2] == '{RUNTIME_VERSION}'; print(sys.executable)"
    for candidate in candidates:
        try:
            done = subprocess.run([candidate, "-c", probe], capture_output=True, text=True, check=False)  # noqa: S603
        except OSError:
            continue
        if done.returncode == 0:
            return Path(done.stdout.strip())
    raise SystemExit(f"make bench needs Python {RUNTIME_VERSION} (the Lambda runtime's version) on PATH or in pyenv")


def build(python: Path, log: Callable[[str], None]) -> None:
    """``sam build`` of the template into BUILD_DIR, the layer's wheels for this machine."""
    env = {
        **os.environ,
        "PATH": f"{python.parent}{os.pathsep}{os.environ['PATH']}",
        "PLATFORM": f"manylinux2014_{platform.machine()}",
        "SAM_CLI_TELEMETRY": "0",
    }
    env.pop("PYENV_VERSION", None)
    sam = Path(sys.executable).parent / "sam"
    # A cache of its own: SAM's cache is keyed by the sources, not by PLATFORM, so sharing .aws-sam/cache would
    # hand this machine's wheels to the next deploy build (and arm64 wheels to this one).
    command = [str(sam), "build", "--build-dir", str(BUILD_DIR), "--cache-dir", str(CACHE_DIR), "--parallel"]
    log(f"sam build --build-dir {BUILD_DIR.relative_to(ROOT)} (layer for {env['PLATFORM']}) ...")
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)  # noqa: S603
    if done.returncode:
        raise SystemExit(f"sam build failed:\n{done.stdout}\n{done.stderr}")
    marker = RUNTIME_DIR / f"boto3-{version('boto3')}"
    if not marker.exists():
        log(f"boto3 {version('boto3')} for Python {RUNTIME_VERSION} into {RUNTIME_DIR.relative_to(ROOT)} ...")
        shutil.rmtree(RUNTIME_DIR, ignore_errors=True)
        pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-compile"]
        pins = [f"boto3=={version('boto3')}", f"botocore=={version('botocore')}"]
        subprocess.run([*pip, "--target", str(RUNTIME_DIR), *pins], check=True)  # noqa: S603
        subprocess.run([str(python), "-m", "compileall", "-q", "-j", "0", str(RUNTIME_DIR)], check=True)  # noqa: S603
        marker.touch()


def functions() -> list[Function]:
    """Every function of the template, with the environment the template gives it."""
    from devtools.local_stack.template import load_template

    template = load_template()
    shared = template["Globals"]["Function"].get("Environment", {}).get("Variables", {})
    found = []
    for logical_id, declared in template["Resources"].items():
        if declared["Type"] != "AWS::Serverless::Function":
            continue
        variables = {**shared, **declared["Properties"].get("Environment", {}).get("Variables", {})}
        environment = {key: _resolve(value) for key, value in variables.items()}
        found.append(Function(Path(declared["Properties"]["CodeUri"]).name, logical_id, environment))
    return sorted(found, key=lambda f: f.name)


#: The template's conditions with its default parameters (no EventBusName: the stack creates its bus).
DEFAULT_CONDITIONS = {"CreateEventBus": True}


def _resolve(value: Any) -> str:
    if isinstance(value, str):
        return value
    known = {
        "EventsTable": TABLE,
        "LogLevel": "INFO",
        "EventBus": "emma-events-bench",
        "EventBusName": "",
        "AWS::StackName": "emma-events-bench",
    }
    if isinstance(value, dict) and value.get("Ref") in known:
        return known[value["Ref"]]
    if isinstance(value, dict) and "Fn::If" in value:  # the template's conditions, as its defaults decide them
        condition, when_true, when_false = value["Fn::If"]
        return _resolve(when_true if DEFAULT_CONDITIONS[condition] else when_false)
    raise ValueError(f"cannot resolve {value!r} for the benchmark")


class Seeder:
    """Puts the embedded DynamoDB in the state each function's events/ file expects, before every run: account
    100's type 1 "purchase" (absent for create_event_type, which creates it), member 1 ada@example.com, and the
    development key the authorizer's event presents."""

    def __init__(self, client: Any) -> None:
        from devtools.local_stack.template import create_table_kwargs

        self.client = client
        self.create_table = create_table_kwargs(TABLE)

    def seed(self, function: str) -> None:
        from devtools.testing.seeding import seed_example_world
        from emma_events.stores import Stores

        if TABLE in self.client.list_tables()["TableNames"]:
            self.client.delete_table(TableName=TABLE)
        self.client.create_table(**self.create_table)
        seed_example_world(Stores(TABLE, self.client), function=function)


@dataclass
class Run:
    import_ms: float
    first_request_ms: float
    process_ms: float
    modules: int
    #: CPU time (user + system) of the import and the first request.
    cpu_ms: float
    #: CPU time of the whole cold process (interpreter start, import, first request): what the guard uses, being
    #: what a busy machine disturbs least (docs/performance.md).
    process_cpu_ms: float

    @property
    def total_ms(self) -> float:
        return self.import_ms + self.first_request_ms


class ColdStarts:
    def __init__(self, python: Path, endpoint: str, workdir: Path, events_endpoint: str = "") -> None:
        self.python = python
        self.endpoint = endpoint
        self.events_endpoint = events_endpoint
        self.workdir = workdir

    def _env(self, function: Function) -> dict[str, str]:
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "C.UTF-8",
            "PYTHONDONTWRITEBYTECODE": "1",  # Lambda's code is read-only: bytecode comes from the build or not at all
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_ENDPOINT_URL_DYNAMODB": self.endpoint,
            "AWS_ENDPOINT_URL_EVENTBRIDGE": self.events_endpoint,
            "AWS_LAMBDA_FUNCTION_NAME": function.logical_id,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
            **function.environment,
            "POWERTOOLS_LOG_LEVEL": "WARNING",  # one log line per request would be noise here
        }

    def run(self, function: Function, code: Path, module: str, record: Path | None = None, layer: Path = LAYER) -> Run:
        """One cold start: a new process imports ``module`` from ``code`` (+ the layer, + boto3) and answers."""
        import time

        paths = [code, layer, RUNTIME_DIR]
        env = self._env(function) | {"PYTHONPATH": os.pathsep.join(map(str, paths))}
        event = ROOT / "events" / f"{function.name}.json"
        command = [str(self.python), "-S", "-c", DRIVER, module, str(event), *([str(record)] if record else [])]
        started, children = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)  # noqa: S603
        elapsed, reaped = (time.perf_counter() - started) * 1000, resource.getrusage(resource.RUSAGE_CHILDREN)
        # The whole process: the interpreter's start too, as Lambda's init does (the only child reaped meanwhile).
        process_cpu = (reaped.ru_utime - children.ru_utime + reaped.ru_stime - children.ru_stime) * 1000
        if done.returncode:
            raise RuntimeError(f"{function.name} ({module}) failed:\n{done.stderr}")
        figures = json.loads(done.stdout.strip().splitlines()[-1])
        answer = figures["answer"]
        status = answer.get("statusCode", 200)
        allowed = answer.get("policyDocument", {"Statement": [{"Effect": "Allow"}]})["Statement"][0]["Effect"]
        failures = answer.get("batchItemFailures", [])
        if status != 200 or allowed != "Allow" or failures:
            raise RuntimeError(f"{function.name} ({module}) did not succeed: {answer}")
        return Run(
            figures["import_ms"],
            figures["first_request_ms"],
            elapsed,
            figures["modules"],
            figures["cpu_ms"],
            process_cpu,
        )

    def floor_folder(self, function: Function) -> Path:
        """Where the boto3-only handler for ``function`` lives; its calls.json is written by the recording run."""
        folder = self.workdir / f"floor-{function.name}"
        folder.mkdir(exist_ok=True)
        (folder / "floor.py").write_text(FLOOR)
        return folder


def measure(runs: int, log: Callable[[str], None], only: list[str] | None = None) -> dict[str, Any]:
    """Median cold start of every function and of its floor, ``runs`` of each, alternating; and of one function
    with the layer's bytecode removed (what Lambda would do with a layer of sources only)."""
    import logging

    from devtools.local_stack.server import LocalEventBus
    from devtools.local_stack.store import EmbeddedDynamoDB
    from devtools.local_stack.template import api_functions

    python = runtime_python()
    build(python, log)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # the embedded DynamoDB's request log
    store = EmbeddedDynamoDB(port=0)
    store.start()
    events_endpoint, event_bus = LocalEventBus().serve_in_background()
    rows = []
    try:
        seeder = Seeder(store.client())
        with tempfile.TemporaryDirectory(prefix="coldstart-") as workdir:
            bench = ColdStarts(python, store.endpoint, Path(workdir), events_endpoint)
            selected = [f for f in functions() if not only or f.name in only]
            api_ids = set(api_functions())  # the guard for API functions; the authorizer and stream consumers: other
            for function in selected:
                floor = bench.floor_folder(function)
                mine: list[Run] = []
                base: list[Run] = []
                for attempt in range(runs):
                    # The first run also records the function's DynamoDB calls for the floor (outside the timed
                    # parts: the driver wraps botocore after the import and writes the calls after the answer).
                    record = floor / "calls.json" if attempt == 0 else None
                    seeder.seed(function.name)
                    mine.append(bench.run(function, BUILD_DIR / function.logical_id, "app", record=record))
                    seeder.seed(function.name)
                    base.append(bench.run(function, floor, "floor"))
                calls = [operation for _, operation, _ in json.loads((floor / "calls.json").read_text())]
                total, floor_total = _median(r.total_ms for r in mine), _median(r.total_ms for r in base)
                cpu, floor_cpu = [r.process_cpu_ms for r in mine], [r.process_cpu_ms for r in base]
                row: dict[str, Any] = {
                    "function": function.name,
                    "api": function.logical_id in api_ids,
                    "dynamodb_calls": calls,
                    "runs": runs,
                    "import_ms": _median(r.import_ms for r in mine),
                    "first_request_ms": _median(r.first_request_ms for r in mine),
                    "total_ms": total,
                    "floor_total_ms": floor_total,
                    "ratio": round(total / floor_total, 3),
                    "import_and_request_cpu_ms": _median(r.cpu_ms for r in mine),
                    "floor_import_and_request_cpu_ms": _median(r.cpu_ms for r in base),
                    "cpu_ms": _median(cpu),
                    "floor_cpu_ms": _median(floor_cpu),
                    "cpu_ratio": round(statistics.median(cpu) / statistics.median(floor_cpu), 3),
                    # the ratio's spread: the function's quartiles over the floor's opposite quartiles
                    "cpu_ratio_spread": [
                        round(_quartile(cpu, 1) / _quartile(floor_cpu, 3), 3),
                        round(_quartile(cpu, 3) / _quartile(floor_cpu, 1), 3),
                    ],
                    "process_ms": _median(r.process_ms for r in mine),
                    "floor_process_ms": _median(r.process_ms for r in base),
                    "modules": mine[0].modules,
                    "floor_modules": base[0].modules,
                }
                rows.append(row)
                log(f"  {function.name:<22} CPU {row['cpu_ms']:6.1f} ms, floor {row['floor_cpu_ms']:6.1f} ms")
            sources_only = Path(workdir) / "layer-without-bytecode"
            shutil.copytree(LAYER, sources_only, ignore=shutil.ignore_patterns("__pycache__"))
            probe = next(f for f in selected if f.name == "get_event_type") if not only else selected[0]
            with_pyc, without = [], []
            for _ in range(max(3, runs // 2)):
                seeder.seed(probe.name)
                with_pyc.append(bench.run(probe, BUILD_DIR / probe.logical_id, "app").total_ms)
                seeder.seed(probe.name)
                without.append(bench.run(probe, BUILD_DIR / probe.logical_id, "app", layer=sources_only).total_ms)
    finally:
        event_bus.shutdown()
        store.stop()
    version = subprocess.run([str(python), "-V"], capture_output=True, text=True, check=False).stdout.strip()  # noqa: S603
    return {
        "python": version,
        "machine": platform.machine(),
        "imports": import_decomposition(python),
        "functions": rows,
        "bytecode": {"function": probe.name, "precompiled_ms": _median(with_pyc), "sources_only_ms": _median(without)},
        "layer": layer_report(),
    }


#: The pieces of an API function's import, in the order they load; each one's figure is what importing it adds
#: once the ones before it are loaded.
IMPORT_PIECES = (
    "botocore.session",
    "pydantic",
    "aws_lambda_powertools.logging",
    "aws_lambda_powertools.metrics",
    "emma_events.endpoint",
    "emma_events.models",
    "emma_events.event_type_store",
    "emma_events.api",
    "app",
)


def import_decomposition(python: Path, function: str = "get_event_type", runs: int = 3) -> list[dict[str, Any]]:
    """What each piece of a function's import adds (medians of fresh processes, each importing the pieces before
    it, then timing the next one)."""
    function_dir = next(f for f in functions() if f.name == function).logical_id
    paths = [BUILD_DIR / function_dir, LAYER, RUNTIME_DIR]
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONDONTWRITEBYTECODE": "1", "AWS_REGION": "us-east-1"}
    env |= {"PYTHONPATH": os.pathsep.join(map(str, paths)), "TABLE_NAME": TABLE, "POWERTOOLS_SERVICE_NAME": "bench"}
    rows = []
    for index, piece in enumerate(IMPORT_PIECES):
        before = "".join(f"import {name}\n" for name in IMPORT_PIECES[:index])
        probe = f"import time\n{before}started = time.perf_counter()\nimport {piece}\n"
        probe += "print((time.perf_counter() - started) * 1000)"
        samples = []
        for _ in range(runs):
            done = subprocess.run(  # noqa: S603
                [str(python), "-S", "-c", probe], env=env, capture_output=True, text=True, check=True
            )
            samples.append(float(done.stdout.strip().splitlines()[-1]))
        rows.append({"module": piece, "ms": _median(samples)})
    return rows


def layer_report() -> dict[str, Any]:
    """The built layer: its size, and whether boto3/botocore sneaked in."""
    files = [p for p in LAYER.parent.rglob("*") if p.is_file()]
    return {
        "bytes": sum(p.stat().st_size for p in files),
        "files": len(files),
        "pyc_files": sum(1 for p in files if p.suffix == ".pyc"),
        "boto3_inside": any((LAYER / name).exists() for name in ("boto3", "botocore")),
        "packages": sorted(p.name for p in LAYER.iterdir() if p.is_dir() and not p.name.endswith(".dist-info")),
    }


def _median(values: Any) -> float:
    return round(statistics.median(list(values)), 1)


def _quartile(values: list[float], which: int) -> float:
    return statistics.quantiles(values, n=4)[which - 1]


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=11)
    parser.add_argument("functions", nargs="*", help="only these (default: all)")
    args = parser.parse_args(argv)
    print(json.dumps(measure(args.runs, print, args.functions or None), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

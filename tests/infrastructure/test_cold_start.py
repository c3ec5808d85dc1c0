"""What the layer does for a cold start: no garbage collection until the first invocation has answered, and a
client's creation that does not list botocore's ~420 service folders (docs/performance.md)."""

from __future__ import annotations

import contextlib
import gc
import os
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from devtools.testing.events import load_event
from devtools.testing.in_process import LambdaContext, new_environment
from devtools.testing.seeding import seed_example_world

ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS = sorted(path.name for path in (ROOT / "functions").iterdir() if (path / "app.py").exists())


def _collector_after_import(env: dict[str, str]) -> str:
    code = "import gc, emma_events; print(gc.isenabled())"
    layer = ROOT / "layers" / "emma_events"
    done = subprocess.run(  # noqa: S603 - this interpreter, a fixed program
        [sys.executable, "-c", code], env=env | {"PYTHONPATH": str(layer)}, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def test_in_a_lambda_sandbox_importing_the_layer_pauses_the_collector() -> None:
    env = {key: value for key, value in os.environ.items() if key != "AWS_LAMBDA_FUNCTION_NAME"}
    assert _collector_after_import(env | {"AWS_LAMBDA_FUNCTION_NAME": "GetEventTypeFunction"}) == "False"
    assert _collector_after_import(env) == "True"  # elsewhere (tests, tools) nothing changes


@pytest.mark.stores
@pytest.mark.parametrize("function", FUNCTIONS)
def test_every_function_resumes_collection_after_its_first_invocation(function: str, dynamodb: Any) -> None:
    from emma_events.stores import Stores

    seed_example_world(Stores.of_this_container(), function=function)
    handler = new_environment(function).lambda_handler
    gc.disable()  # as importing the layer in a sandbox leaves it
    try:
        with contextlib.suppress(Exception):  # answered or raised, the init is over either way
            handler(load_event(function), LambdaContext(function_name=function))
        assert gc.isenabled()
        assert gc.get_freeze_count() > 0  # what the init made is out of later collections
    finally:
        gc.unfreeze()
        gc.enable()


def test_the_first_invocation_of_an_environment_reseeds_random() -> None:
    from emma_events import settles_init

    draws: list[float] = []
    handler = settles_init(lambda event, context: draws.append(random.random()))  # noqa: S311
    random.seed(7)
    seeded = random.random()  # noqa: S311 - a reproducible draw is the point
    random.seed(7)  # the state an environment restored from a snapshot starts with, as every other one
    handler({}, None)
    random.seed(7)
    handler({}, None)  # later invocations leave random alone
    assert draws[0] != seeded
    assert draws[1] == seeded


def test_the_client_loader_lists_only_the_services_the_functions_call(monkeypatch: pytest.MonkeyPatch) -> None:
    import botocore.loaders

    from emma_events import clients

    listed: list[str] = []
    listdir = os.listdir
    monkeypatch.setattr(os, "listdir", lambda path: listed.append(str(path)) or listdir(path))
    loader = clients._Loader()
    assert loader.list_available_services("service-2") == ["dynamodb", "events"]
    assert len(listed) <= 2 * len(clients.SERVICES)  # each service's folder, not botocore/data's ~420
    botocores = botocore.loaders.Loader()
    for service in clients.SERVICES:  # the same models as botocore's own loader
        assert loader.load_service_model(service, "service-2") == botocores.load_service_model(service, "service-2")


def test_a_client_of_another_service_is_refused() -> None:
    from botocore.config import Config

    from emma_events.clients import new_client

    with pytest.raises(ValueError, match="not among the services"):
        new_client("s3", Config())

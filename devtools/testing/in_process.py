"""Load a function's ``app.py`` as its own module and call its handler in-process (tests and benchmarks)."""

from __future__ import annotations

import importlib.util
import json
import threading
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from devtools import ROOT
from devtools.local_stack.worker import LambdaContext  # the one context, also the local stack's

FUNCTIONS = ROOT / "functions"

_modules: dict[str, ModuleType] = {}
#: Environments not in use, per function: the function's own module first, then any made for concurrent calls.
_idle: dict[str, list[ModuleType]] = {}
_lock = threading.Lock()


@dataclass
class HttpResult:
    status: int
    headers: dict[str, str]
    body: Any

    @property
    def content_type(self) -> str:
        return self.headers.get("Content-Type", "")


def _one_metrics_change_at_a_time() -> None:
    """Powertools keeps one metrics set per process, which Lambda never shares between two invocations; concurrent
    calls here do (a flush would iterate the set another call is adding to), so its changes take turns."""
    from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import AmazonCloudWatchEMFProvider

    turn = threading.RLock()
    for name in ("add_metric", "add_metadata", "serialize_metric_set", "flush_metrics", "clear_metrics"):
        method = getattr(AmazonCloudWatchEMFProvider, name)

        def in_turn(self: Any, *args: Any, _method: Any = method, **kwargs: Any) -> Any:
            with turn:
                return _method(self, *args, **kwargs)

        setattr(AmazonCloudWatchEMFProvider, name, in_turn)


_one_metrics_change_at_a_time()


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"functions_{name}_app", FUNCTIONS / name / "app.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_function(name: str) -> ModuleType:
    """functions/<name>/app.py as module ``functions_<name>_app`` (every function has an ``app.py``): the one
    ``invoke`` uses whenever no other call of the function is running."""
    with _lock:
        if name not in _modules:
            _modules[name] = _load(name)
            _idle.setdefault(name, []).insert(0, _modules[name])
        return _modules[name]


def _acquire(name: str) -> ModuleType:
    """An execution environment of the function that no other call is using. Like Lambda, which runs one
    invocation at a time per environment, concurrent calls get one each (a module of their own, whose first
    invocation is a cold one)."""
    load_function(name)
    with _lock:
        if _idle[name]:
            return _idle[name].pop(0)
    return _load(name)


def _release(name: str, module: ModuleType) -> None:
    with _lock:
        if module is _modules[name]:
            _idle[name].insert(0, module)
        else:
            _idle[name].append(module)


def new_environment(name: str) -> ModuleType:
    """functions/<name>/app.py loaded afresh: a new execution environment, whose next invocation is its first."""
    return _load(name)


def invoke(name: str, event: dict[str, Any]) -> HttpResult:
    """Invoke a function's ``lambda_handler`` with an API Gateway event and decode its proxy response."""
    module = _acquire(name)
    try:
        response = module.lambda_handler(event, LambdaContext(function_name=name))
    finally:
        _release(name, module)
    headers = dict(response.get("headers") or {})
    for key, values in (response.get("multiValueHeaders") or {}).items():
        headers.setdefault(key, values[-1])
    body = response.get("body")
    return HttpResult(response["statusCode"], headers, json.loads(body) if body else None)

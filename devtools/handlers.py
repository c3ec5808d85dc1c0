"""Load a function's ``app.py`` as its own module and call its handler in-process (tests and benchmarks)."""

from __future__ import annotations

import importlib.util
import json
import threading
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

FUNCTIONS = Path(__file__).resolve().parent.parent / "functions"

_modules: dict[tuple[str, int | None], ModuleType] = {}


@dataclass
class LambdaContext:
    function_name: str = "local-function"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:local-function"
    aws_request_id: str = "00000000-0000-4000-8000-000000000000"
    log_group_name: str = "/aws/lambda/local-function"
    log_stream_name: str = "local"

    def get_remaining_time_in_millis(self) -> int:
        return 15_000  # the API functions' Timeout in template.yaml


@dataclass
class HttpResult:
    status: int
    headers: dict[str, str]
    body: Any

    @property
    def content_type(self) -> str:
        return self.headers.get("Content-Type", "")


def load_function(name: str) -> ModuleType:
    """functions/<name>/app.py as module ``functions_<name>_app`` (every function has an ``app.py``).

    Like Lambda, which runs one invocation at a time per execution environment, a thread other than the main one
    gets an environment of its own: its own module, so its own resolver (whose per-request state is not meant to
    be shared by two invocations at once).
    """
    thread = None if threading.current_thread() is threading.main_thread() else threading.get_ident()
    if (name, thread) not in _modules:
        spec = importlib.util.spec_from_file_location(f"functions_{name}_app", FUNCTIONS / name / "app.py")
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        _modules[name, thread] = module
    return _modules[name, thread]


def invoke(name: str, event: dict[str, Any]) -> HttpResult:
    """Invoke a function's ``lambda_handler`` with an API Gateway event and decode its proxy response."""
    response = load_function(name).lambda_handler(event, LambdaContext(function_name=name))
    headers = dict(response.get("headers") or {})
    for key, values in (response.get("multiValueHeaders") or {}).items():
        headers.setdefault(key, values[-1])
    body = response.get("body")
    return HttpResult(response["statusCode"], headers, json.loads(body) if body else None)

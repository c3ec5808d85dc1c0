"""The local stack's DynamoDB: moto in server mode (in memory), or a DynamoDB Local the user already runs."""

from __future__ import annotations

import logging
import socket
import threading
from pathlib import Path
from typing import Any

from devtools import template

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


class EmbeddedDynamoDB:
    """Starts moto's server on ``host:port`` (port 0 picks a free one), unless ``endpoint`` is given."""

    def __init__(self, host: str = "127.0.0.1", port: int = 8000, endpoint: str | None = None) -> None:
        self.external = endpoint
        self.host = host
        self.port = port
        self._server: Any = None

    @property
    def endpoint(self) -> str:
        host = "127.0.0.1" if self.host == "0.0.0.0" else self.host  # noqa: S104 - a bind address, not a target
        return self.external or f"http://{host}:{self.port}"

    @property
    def description(self) -> str:
        if self.external:
            return f"DynamoDB at {self.external} (DYNAMODB_ENDPOINT)"
        return f"embedded in-memory DynamoDB (moto) at {self.endpoint}: data is lost when the stack stops"

    def start(self) -> None:
        if self.external:
            return
        from moto.server import ThreadedMotoServer

        make_moto_requests_atomic()
        if self.port and not _free(self.host, self.port):
            LOG.warning("port %s is in use (a DynamoDB Local?); the embedded DynamoDB takes a free port", self.port)
            self.port = 0
        self._server = ThreadedMotoServer(ip_address=self.host, port=self.port, verbose=False)
        self._server.start()
        self.port = self._server._server.server_port  # the real port when 0 was asked for

    def stop(self) -> None:
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

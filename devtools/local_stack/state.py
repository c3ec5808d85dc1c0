"""Where a running `make run` is: its state file (.local-stack.json, git-ignored; or LOCAL_STACK_STATE) names its
DynamoDB endpoint and its process, so that `make invoke`, `make seed` and the operations tools' ``--local``
find it by themselves. Light on imports: the operations tools read it too."""

from __future__ import annotations

import json
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[2]
#: The local stack's table, as template.yaml names it.
TABLE = "EventsTable"
#: The dummy credentials and region of everything local (boto3 reads them from the environment).
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local",
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def state_file() -> Path:
    return Path(os.environ.get("LOCAL_STACK_STATE") or ROOT / ".local-stack.json")


@dataclass(frozen=True)
class Running:
    dynamodb_endpoint: str
    pid: int


def running_stack() -> Running | None:
    """The `make run` that is up now (its process alive, its DynamoDB answering), or None."""
    try:
        state = json.loads(state_file().read_text())
        running = Running(str(state["dynamodb_endpoint"]), int(state["pid"]))
        os.kill(running.pid, 0)
        where = urlsplit(running.dynamodb_endpoint)
        socket.create_connection((where.hostname, where.port), timeout=1).close()
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return running


class NoLocalStack(Exception):
    def __init__(self) -> None:
        super().__init__("no local stack is running: start one with `make run` (in another terminal), then try again")


def force_local_credentials() -> None:
    """Dummy credentials in this process, forced (no profile, token or endpoint of the developer's own), so that
    nothing started from it can touch a real AWS account; SAM CLI's telemetry off."""
    for variable in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
        os.environ.pop(variable, None)
    os.environ.update(CREDENTIALS)
    os.environ["SAM_CLI_TELEMETRY"] = "0"


def local_target() -> tuple[str, str]:
    """The running local stack's DynamoDB endpoint and table, its dummy credentials forced for boto3; or
    NoLocalStack."""
    running = running_stack()
    if running is None:
        raise NoLocalStack
    force_local_credentials()
    return running.dynamodb_endpoint, TABLE

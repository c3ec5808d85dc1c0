"""Where a running `make run` is: its state file (.local-stack.json, git-ignored; or LOCAL_STACK_STATE) names its
URL, its DynamoDB endpoint and its process, so that `make invoke`, `make seed` and the operations tools' ``--local``
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
    url: str
    dynamodb_endpoint: str
    pid: int


def running_stack() -> Running | None:
    """The `make run` that is up now (its process alive, its DynamoDB answering), or None."""
    try:
        state = json.loads(state_file().read_text())
        running = Running(str(state["url"]), str(state["dynamodb_endpoint"]), int(state["pid"]))
        os.kill(running.pid, 0)
        where = urlsplit(running.dynamodb_endpoint)
        socket.create_connection((where.hostname, where.port), timeout=1).close()
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return running


def running_stack_endpoint() -> str | None:
    """The DynamoDB endpoint of a `make run` that is up now, or None."""
    running = running_stack()
    return running.dynamodb_endpoint if running else None


class NoLocalStack(Exception):
    def __init__(self) -> None:
        super().__init__("no local stack is running: start one with `make run` (in another terminal), then try again")


def local_target() -> tuple[str, str]:
    """The running local stack's DynamoDB endpoint and table, its dummy credentials set for boto3; or NoLocalStack."""
    running = running_stack()
    if running is None:
        raise NoLocalStack
    os.environ.update(CREDENTIALS)
    return running.dynamodb_endpoint, TABLE

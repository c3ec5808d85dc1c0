"""Fixtures: a moto DynamoDB table built from template.yaml, functions loaded from functions/, events/ loader."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "layers" / "emma_events"))
sys.path.insert(0, str(ROOT))

# Dummy credentials and a fixed region: nothing in the tests can reach a real AWS account.
os.environ.update(
    AWS_ACCESS_KEY_ID="testing",
    AWS_SECRET_ACCESS_KEY="testing",
    AWS_SESSION_TOKEN="testing",
    AWS_DEFAULT_REGION="us-east-1",
    AWS_REGION="us-east-1",
    TABLE_NAME="emma-events-test",
    POWERTOOLS_SERVICE_NAME="emma-events",
    POWERTOOLS_METRICS_NAMESPACE="EmmaEvents",
    CASCADE_TIME_MARGIN_MS="1000",
    POWERTOOLS_LOG_LEVEL="WARNING",
)
for variable in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB"):
    os.environ.pop(variable, None)

from moto import mock_aws  # noqa: E402

from devtools.handlers import HttpResult, LambdaContext, invoke, load_function  # noqa: E402
from devtools.make_events import UNSET, vary  # noqa: E402
from devtools.template import create_table_kwargs  # noqa: E402

__all__ = ["HttpResult", "LambdaContext", "api_event", "invoke", "load_event", "load_function"]

EVENTS = ROOT / "events"


def load_event(name: str) -> dict[str, Any]:
    """An event from events/, the same file ``sam local invoke -e events/<name>.json`` takes."""
    return json.loads((EVENTS / f"{name}.json").read_text())


def api_event(
    name: str,
    *,
    path: dict[str, Any] | None = None,
    body: Any = UNSET,
    raw_body: str | None = UNSET,
    query: dict[str, str] | None = UNSET,
    headers: dict[str, str] | None = None,
    authorized_account: Any = UNSET,
) -> dict[str, Any]:
    """A variation of events/<name>.json: other path parameters, body, query string or headers.

    The authorizer's context names the path's account, as API Gateway passes it after allowing the call, unless
    ``authorized_account`` names another (or None: no authorizer context)."""
    return vary(
        load_event(name),
        path=path,
        body=body,
        raw_body=raw_body,
        query=query,
        headers=headers,
        authorized_account=authorized_account,
    )


@pytest.fixture(scope="session")
def _moto() -> Iterator[None]:
    """One in-memory AWS for the session; every test gets a table of its own in it."""
    with mock_aws():
        yield


_table_numbers = iter(range(1, 1_000_000))


@pytest.fixture
def dynamodb(_moto: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A fresh table per test, created from template.yaml's definition; the repository is rebuilt on it."""
    import boto3

    from emma_events.config import settings
    from emma_events.repository import get_repository

    table_name = f"emma-events-test-{next(_table_numbers)}"
    monkeypatch.setenv("TABLE_NAME", table_name)
    client = boto3.client("dynamodb", region_name="us-east-1")
    client.create_table(**create_table_kwargs(table_name))
    settings.cache_clear()
    get_repository.cache_clear()
    yield client
    client.delete_table(TableName=table_name)
    settings.cache_clear()
    get_repository.cache_clear()


@pytest.fixture
def table_items(dynamodb: Any) -> Any:
    """All items of the table (a test-only Scan, to assert nothing else was written)."""

    def items() -> list[dict[str, Any]]:
        return dynamodb.scan(TableName=os.environ["TABLE_NAME"], ConsistentRead=True)["Items"]

    return items


@pytest.fixture
def atomic_dynamodb(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make each moto request atomic, as every DynamoDB request is on the real service.

    moto handles requests without a lock (a failed transaction even restores a snapshot of the whole table), so
    concurrent tests would measure moto's races instead of ours. With one lock per request, threads still
    interleave *between* DynamoDB calls, which is exactly where a read-then-write implementation would break.
    """
    import threading

    from moto.core.responses import BaseResponse

    lock = threading.RLock()
    original = BaseResponse.call_action

    def call_action(self: Any) -> Any:
        with lock:
            return original(self)

    monkeypatch.setattr(BaseResponse, "call_action", call_action)

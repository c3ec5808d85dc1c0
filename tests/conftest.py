"""Fixtures: a fresh DynamoDB table per test (built from template.yaml), the local stacks; and each test's tier.

Two stores, chosen with ``--store`` (or TEST_STORE):

- ``moto`` (default): the fast tier, in memory, in this process; every test runs but those marked
  ``reference_only``.
- ``dynamodb-local``: the reference tier, on AWS's DynamoDB Local (installed by `make dynamodb-local`, Java 17+):
  the tests marked ``stores`` (and ``reference_only``) run again there, except those marked ``moto_only`` (faults
  injected into moto itself). Where a test passes on moto and fails here, the code is wrong: DynamoDB Local
  behaves as the service does where moto is lenient.

A test that uses a store fixture must declare its tier with one of those markers (the run stops otherwise). What
tests share besides fixtures comes from ``devtools.testing`` and ``tests/helpers.py``; nothing imports this file.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Dummy credentials and a fixed region: nothing in the tests can reach a real AWS account.
os.environ.update(
    AWS_ACCESS_KEY_ID="testing",
    AWS_SECRET_ACCESS_KEY="testing",
    AWS_SESSION_TOKEN="testing",
    AWS_DEFAULT_REGION="us-east-1",
    AWS_REGION="us-east-1",
    TABLE_NAME="emma-events-test",
    EVENT_BUS_NAME="default",  # moto's, which every account has
    POWERTOOLS_SERVICE_NAME="emma-events",
    POWERTOOLS_METRICS_NAMESPACE="EmmaEvents",
    CASCADE_TIME_MARGIN_MS="1000",
    CASCADE_INDEX_LAG_SECONDS="0",  # no index lags here, but in the test that injects a lag
    TYPE_CACHE_SECONDS="0.3",  # a type's delete or change waits this long: the mechanism, at a third of the time
    POWERTOOLS_LOG_LEVEL="WARNING",
    # Never the developer's running `make run`: an invoke would find its state file and use its data.
    LOCAL_STACK_STATE=os.path.join(tempfile.mkdtemp(prefix="emma-events-tests-"), "no-local-stack.json"),
)
for variable in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL_DYNAMODB_STREAMS"):
    os.environ.pop(variable, None)

from moto import mock_aws  # noqa: E402

from devtools.local_stack.template import create_table_kwargs  # noqa: E402

STORES = ("moto", "dynamodb-local")
#: Fixtures that put a test on a store; in the reference tier, tests without one are not run again.
STORE_FIXTURES = {"dynamodb", "stack", "stack_with_state", "table_items"}
#: Where the processes of one run (pytest-xdist's) find what they share: the run's local stack (``api_stack``).
SHARED_DIR = "TEST_RUN_SHARED_DIR"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--store",
        choices=STORES,
        default=os.environ.get("TEST_STORE", "moto"),
        help="moto: the fast tier (default); dynamodb-local: the reference tier on AWS's DynamoDB Local",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "stores: touches a store; runs on moto, then again on DynamoDB Local")
    config.addinivalue_line("markers", "moto_only: relies on moto itself (faults injected into it); fast tier only")
    config.addinivalue_line("markers", "reference_only: a difference from moto that only DynamoDB Local shows")
    config.addinivalue_line("markers", "e2e: over HTTP at a base URL (the local stack, or E2E_API_URL's stage)")
    store = config.getoption("--store")
    os.environ["TEST_STORE"] = store  # local stacks started by the tests run on the same store
    if not hasattr(config, "workerinput"):  # the run's controller: its processes inherit the folder
        os.environ[SHARED_DIR] = tempfile.mkdtemp(prefix="test-run-")
    if store == "dynamodb-local":
        from devtools.local_stack.store import dynamodb_local_unavailable

        reason = dynamodb_local_unavailable()
        if reason:
            raise pytest.UsageError(f"--store=dynamodb-local: {reason}")


def pytest_unconfigure(config: pytest.Config) -> None:
    """The run's controller stops what its processes shared."""
    if hasattr(config, "workerinput") or SHARED_DIR not in os.environ:
        return
    import shutil

    from devtools.testing.stack_process import stop_shared_stacks

    shared = Path(os.environ.pop(SHARED_DIR))
    stop_shared_stacks(shared)
    shutil.rmtree(shared, ignore_errors=True)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Each test's tier is declared: ``stores`` runs it on moto, then again on DynamoDB Local; ``moto_only`` and
    ``reference_only`` on one of them; a test without any runs on moto alone. A test that uses a store fixture
    without declaring its tier stops the run, so that no tier is ever guessed."""
    undeclared = []
    for item in items:
        on_a_store = bool(STORE_FIXTURES & set(getattr(item, "fixturenames", ())))
        declared = any(item.get_closest_marker(m) for m in ("stores", "moto_only", "reference_only"))
        if on_a_store and not declared:
            undeclared.append(item.nodeid)
    if undeclared:
        listed = "\n  ".join(undeclared)
        raise pytest.UsageError(f"mark the tier of these tests (stores, moto_only or reference_only):\n  {listed}")
    store = config.getoption("--store")
    selected, deselected = [], []
    for item in items:
        if store == "dynamodb-local":
            wanted = any(item.get_closest_marker(m) for m in ("stores", "reference_only"))
            keep = wanted and item.get_closest_marker("moto_only") is None
        else:
            keep = item.get_closest_marker("reference_only") is None
        (selected if keep else deselected).append(item)
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = selected


@pytest.fixture(scope="session")
def store(request: pytest.FixtureRequest) -> str:
    return str(request.config.getoption("--store"))


@pytest.fixture(scope="session")
def _dynamodb_local(store: str) -> Iterator[Any]:
    """The reference tier's DynamoDB Local (in memory, one for the session), or None on the moto tier."""
    if store != "dynamodb-local":
        yield None
        return
    from devtools.testing.reference_store import reference_store

    with reference_store() as reference:
        yield reference


@pytest.fixture(scope="session")
def api_stack(store: str, request: pytest.FixtureRequest) -> Iterator[Any]:
    """One local stack of template.yaml for the HTTP test modules, which each use accounts of their own: one for
    the whole run, shared by its processes (started by the first that needs it, stopped by the run's end)."""
    from devtools.testing.stack_process import running_stack, shared_stack

    if hasattr(request.config, "workerinput"):  # a pytest-xdist process
        yield shared_stack(Path(os.environ[SHARED_DIR]), store)
        return
    with running_stack(store=store) as running:
        yield running


@pytest.fixture(scope="session")
def run_once() -> Any:
    """``run_once(name, setup)``: ``setup()``'s JSON answer, computed once for the whole run (whichever of its
    processes asks first): a module's data on the shared ``api_stack``."""
    from devtools.testing.stack_process import once

    return lambda name, setup: once(Path(os.environ[SHARED_DIR]), name, setup)


@pytest.fixture(scope="session")
def run_counter() -> Any:
    """``run_counter(name, first)``: the next number of a counter of the whole run (``first``, then up)."""
    from devtools.testing.stack_process import take

    return lambda name, first: take(Path(os.environ[SHARED_DIR]), name, first)


@pytest.fixture(scope="session")
def _moto(_dynamodb_local: Any) -> Iterator[None]:
    """One in-memory AWS for the session; every test gets a table of its own in it. On the reference tier,
    DynamoDB and its streams are DynamoDB Local's (moto lets requests to other endpoints through)."""
    if _dynamodb_local:
        os.environ["AWS_ENDPOINT_URL_DYNAMODB"] = _dynamodb_local.endpoint
        os.environ["AWS_ENDPOINT_URL_DYNAMODB_STREAMS"] = _dynamodb_local.endpoint
    from devtools.local_stack.store import make_moto_requests_atomic, roll_back_transactions_item_by_item

    make_moto_requests_atomic()  # the cascade and the publisher call DynamoDB from several threads
    roll_back_transactions_item_by_item()
    with mock_aws():
        yield


_table_numbers = iter(range(1, 1_000_000))


@pytest.fixture
def dynamodb(_moto: None, _dynamodb_local: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A fresh table per test, created from template.yaml's definition; the stores are rebuilt on it."""
    import boto3

    if _dynamodb_local:
        _dynamodb_local.refresh()
    from emma_events import stores
    from emma_events.config import settings

    table_name = f"emma-events-test-{next(_table_numbers)}"
    monkeypatch.setenv("TABLE_NAME", table_name)
    client = boto3.client("dynamodb", region_name="us-east-1")
    client.create_table(**create_table_kwargs(table_name))
    settings.cache_clear()
    stores.reset()
    yield client
    client.delete_table(TableName=table_name)
    settings.cache_clear()
    stores.reset()


@pytest.fixture
def table_items(dynamodb: Any) -> Any:
    """All items of the table (a test-only Scan, to assert nothing else was written)."""

    def items() -> list[dict[str, Any]]:
        return dynamodb.scan(TableName=os.environ["TABLE_NAME"], ConsistentRead=True)["Items"]

    return items

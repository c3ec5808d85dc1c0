"""The reference tier's DynamoDB Local, started afresh once the tests have written enough to slow it down.

DynamoDB Local keeps every stream record it wrote (deleted tables' too), and each write slows with the records it
keeps: 100 BatchWriteItems of 25 items took 1.5 s on a fresh one and 27 s after 30,000 writes to a table with a
stream (the same 100 took 1 s without streams). The service trims a stream after 24 hours and shows no such
slowdown, so a long test session would measure the emulator's growing database, not the code. The session counts
the items its clients write and starts DynamoDB Local again, on the same port, before the first test after
``RESTART_AFTER_ITEMS``; each test has a table of its own, so nothing a later test reads is lost.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from devtools.local_stack.store import DynamoDBLocalProcess

#: Items written between two starts: a start costs ~2 s, and writes grow slower with the records kept (18x at
#: 30,000; if linearly, ~2.7x at 3,000).
RESTART_AFTER_ITEMS = 3000


def items_written(operation: str, params: dict[str, Any]) -> int:
    """How many items a DynamoDB request writes (each write adds a stream record)."""
    if operation == "BatchWriteItem":
        return sum(len(requests) for requests in params.get("RequestItems", {}).values())
    if operation == "TransactWriteItems":
        return len(params.get("TransactItems", ()))
    return 1 if operation in ("PutItem", "UpdateItem", "DeleteItem") else 0


class ReferenceStore:
    def __init__(self) -> None:
        self.process = DynamoDBLocalProcess("127.0.0.1", 0, None)
        self.written = 0
        self._lock = threading.Lock()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.process.port}"

    def count(self, operation: str, params: dict[str, Any]) -> None:
        written = items_written(operation, params)
        if written:
            with self._lock:
                self.written += written

    def refresh(self) -> bool:
        """Between tests: a fresh DynamoDB Local when the last one has kept too many records. True if it was."""
        if self.written < RESTART_AFTER_ITEMS:
            return False
        self.process.stop()
        self.process.start()
        self.written = 0
        return True


@contextmanager
def reference_store() -> Iterator[ReferenceStore]:
    """A DynamoDB Local for the session, and every botocore client's writes counted for it."""
    import botocore.client

    store = ReferenceStore()
    client_class: Any = botocore.client.BaseClient
    original = client_class._make_api_call

    def counted(client: Any, operation: str, params: dict[str, Any]) -> Any:
        if client.meta.service_model.service_name == "dynamodb":
            store.count(operation, params)
        return original(client, operation, params)

    store.process.start()
    client_class._make_api_call = counted
    try:
        yield store
    finally:
        client_class._make_api_call = original
        store.process.stop()

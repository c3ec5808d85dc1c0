"""What no emulator shows, injected into a botocore DynamoDB client (moto's or DynamoDB Local's alike):
transaction conflicts and per-key throttling, by AWS's documented rules.

- **Conflicts** (DynamoDB developer guide, "Transaction conflict handling"): a ``TransactWriteItems`` that
  includes an item of another ongoing ``TransactWriteItems`` is cancelled (reason ``TransactionConflict``), and so
  is a ``PutItem``/``UpdateItem``/``DeleteItem`` of such an item (``TransactionConflictException``). A transaction
  is "ongoing" for ``latency_s`` around its call (DynamoDB's are tens of milliseconds; emulators' are instants, so
  overlaps would be rare without it).
- **Throttling** ("Best practices for designing and using partition keys effectively"): one partition key value,
  of the table or of an index, takes at most 1,000 write units and 3,000 read units a second. Units follow
  ``devtools.bench.capacity.write_units`` (an item's twice in a transaction, its index entries once). Seconds are those
  of a ``clock``: the test's own, advanced by the events it offers, so that a run models a rate (say 2,000 events
  a second) whatever this machine's speed.

``TableFaults(client, clock)`` registers on the client's event hooks (as ``LaggingIndex`` does) and counts what it
injected: ``conflicts`` and ``throttles``, and per key the hottest second (``hottest``).
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable
from typing import Any

from devtools.bench.capacity import READ_UNIT, item_size, write_units

WRITE_LIMIT = 1000.0
READ_LIMIT = 3000.0


class OfferedLoad:
    """A clock that reads the seconds a load of ``events_per_s`` would have taken for the events offered so far."""

    def __init__(self, events_per_s: float) -> None:
        self.events_per_s = events_per_s
        self._events = 0
        self._lock = threading.Lock()

    def offer(self, events: int) -> None:
        with self._lock:
            self._events += events

    def __call__(self) -> float:
        return self._events / self.events_per_s


class _Response:
    status_code = 400


class TableFaults:
    def __init__(self, client: Any, clock: Callable[[], float], latency_s: float = 0.02) -> None:
        self.clock, self.latency_s = clock, latency_s
        self.conflicts = self.throttles = 0
        self._lock = threading.Lock()
        self._ongoing: dict[tuple[str, str], int] = {}  # item -> the call holding it
        self._units: dict[tuple[str, str, str], deque[tuple[float, float]]] = defaultdict(deque)
        self.hottest: dict[tuple[str, str, str], float] = defaultdict(float)
        self.spent: dict[tuple[str, str, str], float] = defaultdict(float)  # in all, per key
        self._held = threading.local()
        events = client.meta.events
        events.register("before-parameter-build.dynamodb.*", _remember)
        events.register("before-call.dynamodb.*", self._before)
        events.register("after-call.dynamodb.*", self._after)
        events.register("after-call-error.dynamodb.*", self._after)

    # ---- the rules ----------------------------------------------------------------------------------------
    def _before(self, context: dict[str, Any], **_: Any) -> Any:
        name, params = context["faults"]
        if name == "TransactWriteItems":
            actions = [next(iter(a.items())) for a in params["TransactItems"]]
            items = [_item_of(body) for _, body in actions]
            held = [_key(item) for item in items]
            with self._lock:
                conflicts = [key in self._ongoing for key in held]
                if any(conflicts):
                    self.conflicts += 1
                    reasons = [{"Code": "TransactionConflict" if c else "None"} for c in conflicts]
                    return _error("TransactionCanceledException", "Transaction cancelled", reasons)
                pairs = zip(actions, items, strict=True)
                units = [u for (kind, body), item in pairs for u in self._write_units(kind, body, item, True)]
                if self._over(units, WRITE_LIMIT):
                    self.throttles += 1
                    reasons = [{"Code": "ThrottlingError"} for _ in actions]
                    return _error("TransactionCanceledException", "Transaction cancelled", reasons)
                self._spend(units)
                self._ongoing |= dict.fromkeys(held, threading.get_ident())
            self._held.keys = held
            time.sleep(self.latency_s)  # ongoing for as long as a transaction is on DynamoDB
            return None
        if name in ("PutItem", "UpdateItem", "DeleteItem"):
            kind = {"PutItem": "Put", "UpdateItem": "Update", "DeleteItem": "Delete"}[name]
            item = _item_of(params)
            with self._lock:
                if _key(item) in self._ongoing:
                    self.conflicts += 1
                    return _error("TransactionConflictException", "Transaction is ongoing for the item")
                units = list(self._write_units(kind, params, item, False))
                if self._over(units, WRITE_LIMIT):
                    self.throttles += 1
                    return _error("ProvisionedThroughputExceededException", "Throughput exceeds the key's limit")
                self._spend(units)
            return None
        if name in ("GetItem", "BatchGetItem", "Query"):
            with self._lock:
                if self._over([(key, 0.0) for key in _read_keys(name, params)], READ_LIMIT):
                    self.throttles += 1
                    return _error("ProvisionedThroughputExceededException", "Throughput exceeds the key's limit")
        return None

    def _after(self, context: dict[str, Any], parsed: dict[str, Any] | None = None, **_: Any) -> None:
        name, params = context["faults"]
        if name == "TransactWriteItems":
            with self._lock:
                for key in getattr(self._held, "keys", []):
                    self._ongoing.pop(key, None)
            self._held.keys = []
        elif name in ("GetItem", "BatchGetItem", "Query") and parsed and "Error" not in parsed:
            if name == "Query":  # the units of the whole page, on the key it read
                size = sum(item_size(i) for i in parsed.get("Items", []))
                spent = [(_read_keys(name, params)[0], max(1.0, size / READ_UNIT))]
            else:
                found = [parsed["Item"]] if "Item" in parsed else []
                for items in (parsed.get("Responses") or {}).values():
                    found += items
                spent = [(("read", "PK", i["PK"]["S"]), max(1.0, item_size(i) / READ_UNIT)) for i in found]
            with self._lock:
                self._spend(spent)

    # ---- units per key ------------------------------------------------------------------------------------
    def _write_units(self, kind: str, body: dict[str, Any], item: dict[str, Any], transactional: bool) -> Any:
        if kind == "ConditionCheck":
            yield ("read", "PK", item["PK"]["S"]), 2.0  # a transactional read of the checked item
            return
        for attribute, units in write_units(body["Item"] if kind == "Put" else None, transactional).items():
            yield ("write", attribute, item[attribute]["S"]), units

    def _over(self, units: list[tuple[tuple[str, str, str], float]], limit: float) -> bool:
        now = self.clock()
        wanted: dict[tuple[str, str, str], float] = defaultdict(float)
        for key, amount in units:
            wanted[key] += amount
        for key, amount in wanted.items():
            spent = self._units[key]
            while spent and spent[0][0] <= now - 1.0:
                spent.popleft()
            kind_limit = READ_LIMIT if key[0] == "read" else limit
            if sum(u for _, u in spent) + amount > kind_limit:
                return True
        return False

    def _spend(self, units: list[tuple[tuple[str, str, str], float]]) -> None:
        now = self.clock()
        for key, amount in units:
            self._units[key].append((now, amount))
            self.spent[key] += amount
            self.hottest[key] = max(self.hottest[key], sum(u for t, u in self._units[key] if t > now - 1.0))


def _remember(params: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
    context["faults"] = (model.name, params)


def _item_of(body: dict[str, Any]) -> dict[str, Any]:
    return body.get("Item") or body["Key"]


def _key(item: dict[str, Any]) -> tuple[str, str]:
    return item["PK"]["S"], item["SK"]["S"]


def _read_keys(name: str, params: dict[str, Any]) -> list[tuple[str, str, str]]:
    if name == "GetItem":
        return [("read", "PK", params["Key"]["PK"]["S"])]
    if name == "BatchGetItem":
        return [("read", "PK", k["PK"]["S"]) for r in params["RequestItems"].values() for k in r["Keys"]]
    pk = params.get("ExpressionAttributeValues", {}).get(":pk", {}).get("S", "?")
    return [("read", params.get("IndexName", "PK"), pk)]


def _error(code: str, message: str, reasons: list[dict[str, str]] | None = None) -> tuple[_Response, dict[str, Any]]:
    parsed: dict[str, Any] = {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": 400}}
    if reasons is not None:
        parsed["CancellationReasons"] = reasons
    return _Response(), parsed

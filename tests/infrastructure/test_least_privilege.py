"""Least privilege by item kind, in the template SAM deploys: each function's DynamoDB calls, recorded while it
serves its events/ request (the cascade: while it deletes a type's and a member's events), are allowed by its own
role, a query of an index by the index's ARN (IAM tells ``table/T`` from ``table/T/index/I``); no API function may
touch an API key item (``KEY#``); the stream consumers read this table's stream only.

The evaluator follows IAM's rules for what these policies use: an explicit Deny wins, else an Allow whose
actions, resource and condition match; ``*`` in actions and in ``StringLike`` values matches any run.
"""

from __future__ import annotations

import re
from fnmatch import fnmatchcase
from functools import cache
from typing import Any

import pytest

from devtools.local_stack.template import api_functions, transformed
from devtools.testing.events import EVENTS_BY_FUNCTION
from devtools.testing.in_process import invoke
from devtools.testing.seeding import seed_example_world

TABLE = "table"
STREAM = "stream"
OTHER_STREAM = "another table's stream"


@cache
def template() -> dict[str, Any]:
    return transformed()


def index(name: str) -> str:
    """The resource an index's ARN names (``…/table/T/index/<name>``)."""
    return f"index {name}"


def _resources(resource: Any) -> set[str]:
    """What a statement's Resource names, among the table, its indexes, its stream, and anything else; an index
    pattern (``…/index/*``) as ``index *``, which matches every index."""
    named = set()
    for item in resource if isinstance(resource, list) else [resource]:
        text = repr(item)
        if item == "*":
            named |= {TABLE, STREAM, OTHER_STREAM, index("*")}
        elif "StreamArn" in text or "${EventsTable.Arn}/stream/" in text:
            named.add(STREAM)
        elif found := re.search(r"\$\{EventsTable\.Arn\}/index/([\w*.-]+)", text):
            named.add(index(found.group(1)))
        elif "EventsTable" in text:
            named.add(TABLE)
    return named


def statements(function: str) -> list[dict[str, Any]]:
    """Every statement of the function's role: inline policies and the template's own managed policies (the AWS
    managed ones SAM attaches are named, not expanded: only the stream one grants data access, checked below)."""
    resources = template()["Resources"]
    role = resources[f"{function}Role"]["Properties"]
    found = [s for policy in role.get("Policies", []) for s in policy["PolicyDocument"]["Statement"]]
    for arn in role.get("ManagedPolicyArns", []):
        if isinstance(arn, dict) and "Ref" in arn:
            found += resources[arn["Ref"]]["Properties"]["PolicyDocument"]["Statement"]
    return found


def _matches(statement: dict[str, Any], action: str, resource: str, leading_keys: list[str]) -> bool:
    actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
    if not any(fnmatchcase(action, pattern) for pattern in actions):
        return False
    named = _resources(statement["Resource"])
    if resource not in named and not (resource.startswith(index("")) and index("*") in named):
        return False
    for operator, condition in statement.get("Condition", {}).items():
        patterns = condition["dynamodb:LeadingKeys"]
        hits = [any(fnmatchcase(key, p) for p in patterns) for key in leading_keys]
        if operator == "ForAllValues:StringLike" and not all(hits):
            return False
        if operator == "ForAnyValue:StringLike" and not any(hits):
            return False
    return True


def decision(function: str, action: str, resource: str = TABLE, leading_keys: tuple[str, ...] = ()) -> str:
    relevant = [s for s in statements(function) if _matches(s, action, resource, list(leading_keys))]
    if any(s["Effect"] == "Deny" for s in relevant):
        return "Deny"
    return "Allow" if any(s["Effect"] == "Allow" for s in relevant) else "Implicit deny"


#: The IAM action of each item of a transaction (DynamoDB authorizes TransactWriteItems item by item).
TRANSACTION_ACTIONS = {
    "ConditionCheck": "ConditionCheckItem",
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
}


def iam_requests(operation: str, params: dict[str, Any]) -> list[tuple[str, str, tuple[str, ...]]]:
    """(IAM action, resource, leading keys) of one DynamoDB call."""
    if operation == "TransactWriteItems":
        found = []
        for item in params["TransactItems"]:
            ((kind, body),) = item.items()
            key = body.get("Key") or body.get("Item")
            found.append((f"dynamodb:{TRANSACTION_ACTIONS[kind]}", TABLE, (key["PK"]["S"],)))
        return found
    if operation in ("BatchGetItem", "BatchWriteItem"):
        keys = tuple(
            k["PK"]["S"]
            for request in params["RequestItems"].values()
            for k in (request["Keys"] if operation == "BatchGetItem" else [_written_key(r) for r in request])
        )
        return [(f"dynamodb:{operation}", TABLE, keys)]
    if operation == "Query":
        leading = tuple(v["S"] for v in params["ExpressionAttributeValues"].values() if "S" in v)[:1]
        return [("dynamodb:Query", index(params["IndexName"]) if "IndexName" in params else TABLE, leading)]
    key = params.get("Key") or params.get("Item")
    return [(f"dynamodb:{operation}", TABLE, (key["PK"]["S"],))]


def _written_key(request: dict[str, Any]) -> dict[str, Any]:
    return dict(request["DeleteRequest"]["Key"] if "DeleteRequest" in request else request["PutRequest"]["Item"])


def recorded_calls(run: Any) -> list[tuple[str, dict[str, Any]]]:
    """The DynamoDB calls (operation, parameters) the stores' client makes while ``run()`` runs."""
    from emma_events.stores import Stores

    calls: list[tuple[str, dict[str, Any]]] = []
    client = Stores.of_this_container().client
    hook = lambda params, model, **_: calls.append((model.name, params))  # noqa: E731
    client.meta.events.register("provide-client-params.dynamodb", hook)
    try:
        run()
    finally:
        client.meta.events.unregister("provide-client-params.dynamodb", hook)
    return calls


API_FOLDERS = {f["code_uri"].strip("/").split("/")[-1]: name for name, f in api_functions().items()}


@pytest.mark.stores
@pytest.mark.parametrize("folder", sorted(API_FOLDERS))
def test_every_call_a_function_makes_is_allowed_by_its_own_role(folder: str, dynamodb: Any) -> None:
    from emma_events.stores import Stores

    seed_example_world(Stores.of_this_container(), function=folder)
    calls = recorded_calls(lambda: _answered(invoke(folder, EVENTS_BY_FUNCTION[folder])))
    assert calls
    function = API_FOLDERS[folder]
    for operation, params in calls:
        for action, resource, keys in iam_requests(operation, params):
            assert decision(function, action, resource, keys) == "Allow", (function, action, resource, keys)


def _answered(result: Any) -> None:
    assert result.status == 200


@pytest.mark.stores
def test_every_call_of_a_cascade_is_allowed_by_its_role(dynamodb: Any) -> None:
    """The cascade queries the ByType index: IAM checks that query against the index's ARN, not the table's."""
    from helpers import create_type, delete_type, new_member, seed_events
    from streams import CascadeDriver

    from devtools.testing.events import api_event

    member, kept = new_member(), new_member()
    doomed = create_type(100, "doomed")
    seed_events(member, doomed, 3)
    seed_events(kept, doomed, 2, first_id=2_000_000)
    driver = CascadeDriver()
    assert delete_type(100, doomed).status == 200
    removal = api_event("delete_member", path={"account_id": 100, "member_id": member})
    assert invoke("delete_member", removal).status == 200
    calls = recorded_calls(driver.drain)
    assert any("IndexName" in params for _, params in calls)
    for operation, params in calls:
        for action, resource, keys in iam_requests(operation, params):
            assert decision("CascadeDeleteFunction", action, resource, keys) == "Allow", (action, resource, keys)


@pytest.mark.stores
def test_every_call_of_a_large_searchs_run_is_allowed_by_the_roles(
    dynamodb: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A large search: its read asks for a run, the stream's consumer makes it (a Query of each index: an event term,
    every member for a complement) and writes its chunks, and a page is read from them (search_runs.py)."""
    from helpers import create_type, new_member, post_events
    from streams import CascadeDriver

    import emma_events.search_runs
    import emma_events.search_store
    from devtools.testing.events import api_event

    monkeypatch.setattr(emma_events.search_store, "RUN_ITEMS", 1)
    monkeypatch.setattr(emma_events.search_runs, "CHUNK_IDS", 2)
    kind, members = create_type(100, "a"), [new_member(100, f"m{n}@example.com") for n in range(3)]
    assert post_events(100, [{"member_id": members[0], "event_type_id": kind}]).status == 200
    made = api_event(
        "create_search",
        path={"account_id": 100},
        body={"name": "s", "criteria": ["or", ["event:a"], ["not", ["event:a"]]]},
    )
    assert invoke("create_search", made).status == 200
    read = api_event("list_search_members", path={"account_id": 100, "search_id": 1}, query={"start": "1"})
    driver = CascadeDriver()
    asked = recorded_calls(lambda: invoke("list_search_members", read))
    ran = recorded_calls(driver.drain)
    paged = recorded_calls(lambda: _answered(invoke("list_search_members", read)))
    assert {p.get("IndexName") for _, p in ran} >= {"MembersByType", "Members"}
    assert "BatchWriteItem" in {name for name, _ in ran}
    for function, calls in [("ListSearchMembersFunction", asked + paged), ("CascadeDeleteFunction", ran)]:
        for operation, params in calls:
            for action, resource, keys in iam_requests(operation, params):
                assert decision(function, action, resource, keys) == "Allow", (function, action, resource, keys)


@pytest.mark.stores
def test_every_call_of_the_publisher_is_allowed_by_its_role(dynamodb: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The publisher keeps the types' stats: their items and a marker per event, for inserts and for removals."""
    from helpers import create_type, new_member, post_events
    from streams import CascadeDriver, FakeEventBridge, publisher_driver

    from devtools.testing.events import api_event
    from devtools.testing.in_process import load_function
    from emma_events.publisher import Publisher

    monkeypatch.setattr(load_function("publish_events"), "publisher", Publisher(FakeEventBridge(), retry_delay_s=0))
    publish, cascade = publisher_driver(), CascadeDriver()
    member, kind = new_member(), create_type(100, "a")
    assert post_events(100, [{"member_id": member, "event_type_id": kind, "event_monetary_value": 2.5}]).status == 200
    assert (
        invoke("delete_member", api_event("delete_member", path={"account_id": 100, "member_id": member})).status == 200
    )
    cascade.drain()
    calls = recorded_calls(publish.drain)
    written = [p for name, p in calls if name == "TransactWriteItems" for p in p["TransactItems"]]
    assert {next(iter(part)) for part in written} == {"Put", "Update"}  # the insert's marker, the removal's
    for operation, params in calls:
        for action, resource, keys in iam_requests(operation, params):
            assert decision("PublishEventsFunction", action, resource, keys) == "Allow", (action, resource, keys)


@pytest.mark.parametrize("function", sorted(API_FOLDERS.values()))
def test_no_api_function_may_touch_an_api_key_item(function: str) -> None:
    own = [
        (action, resource)  # each action on each resource (the table, an index) its statements grant it on
        for s in statements(function)
        if s["Effect"] == "Allow"
        for action in s["Action"]
        if action.startswith("dynamodb:")
        for resource in _resources(s["Resource"])
    ]
    assert own, function
    for action, resource in own:
        assert decision(function, action, resource, ("100",)) == "Allow"
        assert decision(function, action, resource, ("KEY#0123456789abcdef0123",)) == "Deny", (function, action)
        assert decision(function, action, resource, ("100", "KEY#0123456789abcdef0123")) == "Deny", (function, action)


def test_the_authorizer_reads_key_items_and_nothing_else() -> None:
    assert decision("AuthorizerFunction", "dynamodb:GetItem", TABLE, ("KEY#abc",)) == "Allow"
    assert decision("AuthorizerFunction", "dynamodb:GetItem", TABLE, ("100",)) == "Implicit deny"


@pytest.mark.parametrize("function", ["CascadeDeleteFunction", "PublishEventsFunction"])
def test_a_stream_consumer_reads_this_tables_stream_only(function: str) -> None:
    role = template()["Resources"][f"{function}Role"]["Properties"]
    assert not any("AWSLambdaDynamoDBExecutionRole" in str(arn) for arn in role["ManagedPolicyArns"])
    for action in ("dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:DescribeStream"):
        assert decision(function, action, STREAM) == "Allow", action
        assert decision(function, action, OTHER_STREAM) == "Implicit deny", action
    (mapping,) = [
        r
        for r in template()["Resources"].values()
        if r["Type"] == "AWS::Lambda::EventSourceMapping"
        and r["Properties"]["FunctionName"] == {"Ref": f"{function}Aliaslive"}  # the alias SnapStart needs
    ]
    assert mapping["Properties"]["EventSourceArn"] == {"Fn::GetAtt": ["EventsTable", "StreamArn"]}

"""Regenerate events/*.json: one API Gateway (REST, proxy) event per function, as API Gateway sends it.

    python -m devtools.testing.events

The files are committed; `sam local invoke <Function> -e events/<name>.json` and the tests use them.
"""

from __future__ import annotations

import json
from typing import Any

from devtools import ROOT
from devtools.testing.seeding import CHECKOUT_SCHEMA, DEV_KEY

EVENTS = ROOT / "events"


def build_event(
    method: str,
    resource: str,
    path_params: dict[str, Any],
    body: Any = None,
    query: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    path = resource
    for key, value in path_params.items():
        path = path.replace("{" + key + "}", str(value))
    all_headers = {
        "Accept": "application/json",
        "Content-Type": "application/json",
        "Host": "abcdef1234.execute-api.us-east-1.amazonaws.com",
        "User-Agent": "curl/8.5.0",
        "X-Forwarded-For": "203.0.113.10",
        "X-Forwarded-Port": "443",
        "X-Forwarded-Proto": "https",
        **(headers or {}),
    }
    if body is None:
        del all_headers["Content-Type"]
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": all_headers,
        "multiValueHeaders": {k: [v] for k, v in all_headers.items()},
        "queryStringParameters": query,
        "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} if query else None,
        "pathParameters": {k: str(v) for k, v in path_params.items()},
        "stageVariables": None,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abcdef1234",
            "resourceId": "a1b2c3",
            "stage": "v1",
            "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
            "requestTime": "26/Nov/2026:12:00:00 +0000",
            "requestTimeEpoch": 1795694400000,
            "identity": {"sourceIp": "203.0.113.10", "userAgent": "curl/8.5.0"},
            "path": "/v1" + path,
            "resourcePath": resource,
            "httpMethod": method,
            "protocol": "HTTP/1.1",
            "authorizer": authorizer_context(path_params.get("account_id")),
        },
        "body": json.dumps(body) if body is not None else None,
        "isBase64Encoded": False,
    }


UNSET: Any = object()


def authorizer_context(account_id: Any) -> dict[str, Any] | None:
    """``requestContext.authorizer`` as API Gateway passes it after our authorizer allowed ``account_id``'s key:
    the authorizer's context (``account_id``), its ``principalId`` and the integration latency."""
    if account_id is None:
        return None
    return {"account_id": str(account_id), "principalId": DEV_KEY[1], "integrationLatency": 0}


def vary(
    event: dict[str, Any],
    *,
    path: dict[str, Any] | None = None,
    body: Any = UNSET,
    raw_body: str | None = UNSET,
    query: dict[str, str] | None = UNSET,
    headers: dict[str, str] | None = None,
    drop_headers: tuple[str, ...] = (),
    authorized_account: Any = UNSET,
) -> dict[str, Any]:
    """A copy of an API event with other path parameters, body, query string or headers (tests, benchmarks).

    ``path`` values are substituted into the event's ``resource`` to rebuild ``path``, as API Gateway does.
    The authorizer's context names the path's account (API Gateway lets no other through), unless
    ``authorized_account`` says otherwise (None: no authorizer context at all).
    """
    event = json.loads(json.dumps(event))
    if path:
        event["pathParameters"] = {**event["pathParameters"], **{k: str(v) for k, v in path.items()}}
        rendered = event["resource"]
        for key, value in event["pathParameters"].items():
            rendered = rendered.replace("{" + key + "}", value)
        event["path"] = rendered
        event["requestContext"]["path"] = "/" + event["requestContext"]["stage"] + rendered
    if body is not UNSET:
        event["body"] = json.dumps(body)
    if raw_body is not UNSET:
        event["body"] = raw_body
    if query is not UNSET:
        event["queryStringParameters"] = query
        event["multiValueQueryStringParameters"] = {k: [v] for k, v in query.items()} if query else None
    if headers is not None or drop_headers:
        merged = {**(event.get("headers") or {}), **(headers or {})}
        event["headers"] = {k: v for k, v in merged.items() if k not in drop_headers}
        event["multiValueHeaders"] = {k: [v] for k, v in event["headers"].items()}
    if "pathParameters" in event and "requestContext" in event:
        account = (event["pathParameters"] or {}).get("account_id")
        chosen = account if authorized_account is UNSET else authorized_account
        event["requestContext"]["authorizer"] = authorizer_context(chosen)
    return event


TYPE = "/{account_id}/events/{event_type_id}"
SEARCH = "/{account_id}/searches/{search_id}"
MEMBER = "/{account_id}/members/{member_id}"
EVENTS_BY_FUNCTION = {
    "create_event_type": build_event(
        "POST", "/{account_id}/events", {"account_id": 100}, {"event_type": "purchase", "display_name": "Purchase"}
    ),
    "list_event_types": build_event("GET", "/{account_id}/events", {"account_id": 100}),
    "get_event_type": build_event("GET", TYPE, {"account_id": 100, "event_type_id": 1}),
    "update_event_type": build_event(
        "PUT", TYPE, {"account_id": 100, "event_type_id": 1}, {"event_type": "order", "display_name": "Order placed"}
    ),
    "delete_event_type": build_event("DELETE", TYPE, {"account_id": 100, "event_type_id": 1}),
    "add_member": build_event(
        "POST",
        "/{account_id}/members/add",
        {"account_id": 100},
        {"email": "ada@example.com", "fields": {"first_name": "Ada"}},
    ),
    "get_member": build_event("GET", MEMBER, {"account_id": 100, "member_id": 1}),
    "get_member_by_email": build_event(
        "GET", "/{account_id}/members/email/{email}", {"account_id": 100, "email": "ada@example.com"}
    ),
    "delete_member": build_event("DELETE", MEMBER, {"account_id": 100, "member_id": 1}),
    "list_members": build_event(
        "GET", "/{account_id}/members", {"account_id": 100}, query={"start": "0", "end": "500"}
    ),
    "create_field": build_event(
        "POST",
        "/{account_id}/fields",
        {"account_id": 100},
        {"shortcut_name": "favorite_food", "display_name": "Favorite Food"},
    ),
    "list_fields": build_event("GET", "/{account_id}/fields", {"account_id": 100}),
    "create_member_events": build_event(
        "POST",
        "/{account_id}/events/members",
        {"account_id": 100},
        {
            "events": [
                {
                    "member_id": 1,
                    "event_type_id": 1,
                    "event_timestamp": "@D:2026-11-20T09:30:00",
                    "event_monetary_value": 19.99,
                    "mailing_id": 42,
                    "attributes": {"sku": "A-100", "quantity": 2},
                },
                {"email": "ada@example.com", "event_type": "purchase"},
            ]
        },
        headers={"Idempotency-Key": "6f1c2a9e-order-1001"},
    ),
    "list_member_events": build_event(
        "GET",
        "/{account_id}/events/members/{member_id}",
        {"account_id": 100, "member_id": 1},
        query={"start": "0", "end": "50"},
    ),
    "get_event_type_stats": build_event(
        "GET",
        "/{account_id}/events/{event_type_id}/stats",
        {"account_id": 100, "event_type_id": 1},
        query={"since": "@D:2026-11-01T00:00:00", "until": "@D:2026-11-30T23:59:59", "interval": "day", "tz": "UTC"},
    ),
    "get_member_event_stats": build_event(
        "GET", "/{account_id}/events/members/{member_id}/stats", {"account_id": 100, "member_id": 1}
    ),
    "create_search": build_event(
        "POST",
        "/{account_id}/searches",
        {"account_id": 100},
        {"name": "Bought this month", "criteria": ["and", ["event:purchase", "in last", {"month": 1}]]},
        headers={"Idempotency-Key": "search-bought-this-month"},
    ),
    "list_searches": build_event("GET", "/{account_id}/searches", {"account_id": 100}),
    "get_search": build_event("GET", SEARCH, {"account_id": 100, "search_id": 1}),
    "update_search": build_event(
        "PUT", SEARCH, {"account_id": 100, "search_id": 1}, {"criteria": ["event_count:purchase", "gt", 1]}
    ),
    "delete_search": build_event("DELETE", SEARCH, {"account_id": 100, "search_id": 1}),
    "list_search_members": build_event(
        "GET", SEARCH + "/members", {"account_id": 100, "search_id": 1}, query={"start": "0", "end": "500"}
    ),
}


STREAM_ARN = "arn:aws:dynamodb:us-east-1:123456789012:table/EventsTable/stream/2026-11-26T00:00:00.000"


def stream_removal(account_id: int, event_type_id: int, name: str) -> dict[str, Any]:
    """The stream record Lambda delivers when an event type item is deleted (NEW_AND_OLD_IMAGES)."""
    keys = {"PK": {"S": str(account_id)}, "SK": {"S": f"ET#{event_type_id:016d}"}}
    old_image = {
        **keys,
        "entity": {"S": "event_type"},
        "account_id": {"N": str(account_id)},
        "event_type_id": {"N": str(event_type_id)},
        "event_type": {"S": name},
        "display_name": {"S": name.title()},
        "created_at": {"S": "2026-11-26T12:00:00Z"},
    }
    return {
        "Records": [
            {
                "eventID": "7de3041dd709b024af6f29e4fa13d34c",
                "eventName": "REMOVE",
                "eventVersion": "1.1",
                "eventSource": "aws:dynamodb",
                "awsRegion": "us-east-1",
                "dynamodb": {
                    "ApproximateCreationDateTime": 1795694400.0,
                    "Keys": keys,
                    "OldImage": old_image,
                    "SequenceNumber": "111000000000000000000001",
                    "SizeBytes": 212,
                    "StreamViewType": "NEW_AND_OLD_IMAGES",
                },
                "eventSourceARN": STREAM_ARN,
            }
        ]
    }


EVENTS_BY_FUNCTION["cascade_delete"] = stream_removal(100, 1, "purchase")


def stream_insert_of_event(account_id: int, member_id: int, event_type_id: int, event_id: int) -> dict[str, Any]:
    """The stream record Lambda delivers when a member event is recorded (an INSERT, NEW_AND_OLD_IMAGES)."""
    from datetime import UTC, datetime

    from emma_events.domain import MemberEvent
    from emma_events.layout import event_item, event_key

    at = datetime(2026, 11, 26, 12, tzinfo=UTC)
    event = MemberEvent(account_id, event_id, member_id, event_type_id, at, at, 19.99, None, {"sku": "A-1"})
    new_image, keys = event_item(event), event_key(event)
    return {
        "Records": [
            {
                "eventID": "c4ca4238a0b923820dcc509a6f75849b",
                "eventName": "INSERT",
                "eventVersion": "1.1",
                "eventSource": "aws:dynamodb",
                "awsRegion": "us-east-1",
                "dynamodb": {
                    "ApproximateCreationDateTime": 1795694401.0,
                    "Keys": keys,
                    "NewImage": new_image,
                    "SequenceNumber": "111000000000000000000002",
                    "SizeBytes": 298,
                    "StreamViewType": "NEW_AND_OLD_IMAGES",
                },
                "eventSourceARN": STREAM_ARN,
            }
        ]
    }


EVENTS_BY_FUNCTION["publish_events"] = stream_insert_of_event(100, 1, 1, 1)


def authorizer_request(public_key: str, private_key: str) -> dict[str, Any]:
    """The REQUEST authorizer event API Gateway sends for GET /100/events with HTTP Basic credentials."""
    import base64

    event = build_event("GET", "/{account_id}/events", {"account_id": 100})
    token = base64.b64encode(f"{public_key}:{private_key}".encode()).decode()
    event["headers"]["Authorization"] = f"Basic {token}"
    event["multiValueHeaders"]["Authorization"] = [f"Basic {token}"]
    event["type"] = "REQUEST"
    del event["requestContext"]["authorizer"]  # the authorizer has not run yet
    event["methodArn"] = "arn:aws:execute-api:us-east-1:123456789012:abcdef1234/v1/GET/100/events"
    return event


# Credentials of the local stack's default development key (docs/security.md).
EVENTS_BY_FUNCTION["authorizer"] = authorizer_request(*DEV_KEY[1:])


#: More of what a function does, one file each, named after the function they are for.
MORE_EVENTS = {
    # A type that declares what its events' attributes hold (docs/api.md, "Attribute schemas").
    "create_event_type_with_schema": build_event(
        "POST",
        "/{account_id}/events",
        {"account_id": 100},
        {"event_type": "checkout", "display_name": "Checkout", "attributes_schema": CHECKOUT_SCHEMA},
    ),
}

#: The mistakes users try first, one file each, named after the function they are for.
ERROR_EVENTS = {
    # A type the account does not have: 404.
    "get_event_type_unknown_id": build_event("GET", TYPE, {"account_id": 100, "event_type_id": 999}),
    # A body without the display name and with a number for the name: 400 naming both fields.
    "create_event_type_bad_body": build_event("POST", "/{account_id}/events", {"account_id": 100}, {"event_type": 42}),
    # An event for a member the account does not have: 400 naming the event's field, nothing written.
    "create_member_events_unknown_member": build_event(
        "POST",
        "/{account_id}/events/members",
        {"account_id": 100},
        {"events": [{"member_id": 999, "event_type_id": 1}]},
    ),
    # Events that break their type's attributes schema (type 2, "checkout"): 400 naming each failure, nothing written.
    "create_member_events_schema_rejected": build_event(
        "POST",
        "/{account_id}/events/members",
        {"account_id": 100},
        {"events": [{"member_id": 1, "event_type": "checkout", "attributes": {"order_id": "1001", "total": "19.99"}}]},
    ),
    # The development key's public half with a wrong private key: the authorizer refuses (API Gateway's 401).
    "authorizer_wrong_key": authorizer_request(DEV_KEY[1], "not-the-private-key"),
}


def main() -> None:
    for name, event in {**EVENTS_BY_FUNCTION, **MORE_EVENTS, **ERROR_EVENTS}.items():
        (EVENTS / f"{name}.json").write_text(json.dumps(event, indent=2) + "\n")


if __name__ == "__main__":
    main()


def load_event(name: str) -> dict[str, Any]:
    """An event from events/, the same file ``sam local invoke -e events/<name>.json`` takes."""
    loaded: dict[str, Any] = json.loads((EVENTS / f"{name}.json").read_text())
    return loaded


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

"""docs/openapi.json: one OpenAPI 3 document for every endpoint, generated from the functions' own code.

Each function's Powertools resolver describes its route (parameters, body and response models); Powertools'
``OpenAPIMerge`` joins them. This script then states the API's error contract, which Powertools cannot infer:
validation errors are 400 (not Powertools' 422), every error is ``application/problem+json``, and every route
requires HTTP Basic credentials (401/403 from the authorizer).

    python -m devtools.contract.openapi          # write docs/openapi.json
    python -m devtools.contract.openapi --check  # exit 1 when the committed document is stale
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from devtools import ROOT

DOCUMENT = ROOT / "docs" / "openapi.json"

PROBLEM = {
    "type": "object",
    "description": "RFC 9457 problem details (docs/errors.md).",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "format": "uri", "examples": ["urn:emma-events:problem:validation-failed"]},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {
            "type": "array",
            "description": "Validation errors only: one entry per offending field.",
            "items": {
                "type": "object",
                "required": ["field", "loc", "message", "type"],
                "properties": {
                    "field": {"type": "string", "examples": ["body.events.2.member_id"]},
                    "loc": {"type": "array", "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]}},
                    "message": {"type": "string"},
                    "type": {"type": "string"},
                },
            },
        },
    },
}
ERRORS = {
    "400": ("Invalid path, query or body: `errors` names each field.", "Problem"),
    "401": ("Missing, malformed, unknown, wrong or revoked credentials.", "Problem"),
    "403": ("Valid credentials used on another account's path.", "Problem"),
    "404": ("The account has no such resource.", "Problem"),
    "429": ("Over the account's rate limit (API Gateway usage plan).", "Problem"),
    "500": ("Unexpected error (logged).", "Problem"),
    "502": ("The function failed (API Gateway).", "Problem"),
    "504": ("The function did not answer in time (API Gateway).", "Problem"),
    "503": ("DynamoDB is throttling; retry after `Retry-After` seconds.", "Problem"),
}
BODY_ERRORS = {
    "413": ("The body is larger than 1 MB.", "Problem"),
    "415": ("The body declares a Content-Type that is not JSON.", "Problem"),
}


#: Explicit links between operations (OpenAPI `links`), so stateful fuzzing follows the API's real sequences:
#: create a type, then read, rename, delete it; add a member, then read it, list its events, delete it.
LINKS = {
    ("post", "/{account_id}/events"): {
        f"{verb}EventType": {
            "operationId": f"{name}__account_id__events__event_type_id__{verb.lower()}",
            "parameters": {"account_id": "$request.path.account_id", "event_type_id": "$response.body#/event_type_id"},
        }
        for verb, name in (("Get", "get_event_type"), ("Put", "update_event_type"), ("Delete", "delete_event_type"))
    },
    ("post", "/{account_id}/members/add"): {
        "GetMember": {
            "operationId": "get_member__account_id__members__member_id__get",
            "parameters": {"account_id": "$request.path.account_id", "member_id": "$response.body#/member_id"},
        },
        "ListMemberEvents": {
            "operationId": "list_member_events__account_id__events_members__member_id__get",
            "parameters": {"account_id": "$request.path.account_id", "member_id": "$response.body#/member_id"},
        },
        "DeleteMember": {
            "operationId": "delete_member__account_id__members__member_id__delete",
            "parameters": {"account_id": "$request.path.account_id", "member_id": "$response.body#/member_id"},
        },
    },
    ("post", "/{account_id}/events/members"): {
        "ListEventsOfTheMember": {
            "operationId": "list_member_events__account_id__events_members__member_id__get",
            "parameters": {"account_id": "$request.path.account_id", "member_id": "$response.body#/0/member_id"},
        },
        **{
            f"{verb}EventTypeOfTheEvent": {
                "operationId": f"{name}__account_id__events__event_type_id__{verb.lower()}",
                "parameters": {
                    "account_id": "$request.path.account_id",
                    "event_type_id": "$response.body#/0/event_type_id",
                },
            }
            for verb, name in (("Get", "get_event_type"), ("Delete", "delete_event_type"))
        },
    },
}


def _environment() -> None:
    os.environ.setdefault("TABLE_NAME", "EventsTable")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "emma-events")


def build() -> dict[str, Any]:
    _environment()
    from aws_lambda_powertools.event_handler.openapi.merge import OpenAPIMerge
    from aws_lambda_powertools.event_handler.openapi.models import HTTPBase

    from devtools.local_stack.template import api_functions
    from devtools.testing.in_process import load_function

    merge = OpenAPIMerge(
        title="Emma events API",
        version="1.0.0",
        description="Emma-compatible event types, members and member events. Paths start with the account id; "
        "dates are `@D:YYYY-MM-DDTHH:MM:SS` (UTC); success is always 200.",
        security_schemes={"basicAuth": HTTPBase(scheme="basic", description="public key : private key")},
        security=[{"basicAuth": []}],
        on_conflict="error",
    )
    for function in sorted(api_functions().values(), key=lambda f: (f["path"], f["method"])):
        app = load_function(Path(function["code_uri"]).name).app
        merge.add_schema(json.loads(app.get_openapi_json_schema()))
    document: dict[str, Any] = json.loads(merge.get_openapi_json_schema())
    components = document.setdefault("components", {})
    components.setdefault("schemas", {}).update({"Problem": PROBLEM})
    for schema in ("HTTPValidationError", "ValidationError", "ResponseValidationError"):  # Powertools 422 shapes
        components["schemas"].pop(schema, None)
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            if (method, path) in LINKS:
                responses["200"]["links"] = LINKS[(method, path)]
            responses.pop("422", None)
            errors = {**ERRORS, **(BODY_ERRORS if "requestBody" in operation else {})}
            if any(p.get("name", "").lower() == "idempotency-key" for p in operation.get("parameters", [])):
                errors["422"] = ("The Idempotency-Key was used in the last 24 hours with another body.", "Problem")
            for status, (description, schema) in errors.items():
                responses[status] = {
                    "description": description,
                    "content": {"application/problem+json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
                }
    return document


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="fail when docs/openapi.json is not up to date")
    args = parser.parse_args(argv)
    text = render(build())
    if args.check:
        if not DOCUMENT.exists() or DOCUMENT.read_text() != text:
            print("docs/openapi.json is stale: run `make openapi` and commit it", file=sys.stderr)
            return 1
        return 0
    DOCUMENT.write_text(text)
    print(f"wrote {DOCUMENT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

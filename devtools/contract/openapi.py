"""docs/openapi.json: one OpenAPI 3 document for every endpoint, generated from the functions' own code.

Each function's endpoint declares its route: the types of its path, query and header arguments, its body model
and its answer (``emma_events.endpoint``), the very declarations it validates requests with. This script turns
them into operations (pydantic writes every schema) and states the API's error contract: validation errors are
400, every error is ``application/problem+json``, and every route requires HTTP Basic credentials (401/403 from
the authorizer).

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


def _link(operation: str, **parameters: str) -> dict[str, Any]:
    return {"operationId": operation, "parameters": {"account_id": "$request.path.account_id", **parameters}}


#: Explicit links between operations (OpenAPI `links`), so stateful fuzzing follows the API's real sequences:
#: create a type, then read, rename, delete it; add a member, then read it, list its events, delete it; save a
#: search, then read, change, run and delete it.
LINKS = {
    ("post", "/{account_id}/events"): {
        f"{verb}EventType": _link(f"{verb.lower()}EventType", event_type_id="$response.body#/event_type_id")
        for verb in ("Get", "Update", "Delete")
    },
    ("post", "/{account_id}/members/add"): {
        name: _link(name[0].lower() + name[1:], member_id="$response.body#/member_id")
        for name in ("GetMember", "ListMemberEvents", "DeleteMember")
    },
    ("post", "/{account_id}/events/members"): {
        "ListEventsOfTheMember": _link("listMemberEvents", member_id="$response.body#/0/member_id"),
        **{
            f"{verb}EventTypeOfTheEvent": _link(
                f"{verb.lower()}EventType", event_type_id="$response.body#/0/event_type_id"
            )
            for verb in ("Get", "Delete")
        },
    },
    ("post", "/{account_id}/searches"): {
        name: _link(name[0].lower() + name[1:], search_id="$response.body")
        for name in ("GetSearch", "UpdateSearch", "ListSearchMembers", "DeleteSearch")
    },
}
#: Each operation's tag, by its path: the entities a generated client groups its calls by.
TAGS = (
    ("/searches", "searches"),
    ("/events/members", "member events"),
    ("/members", "members"),
    ("/fields", "fields"),
    ("/events", "event types"),
)


def _environment() -> None:
    os.environ.setdefault("TABLE_NAME", "EventsTable")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "emma-events")


REF = "#/components/schemas/{model}"


def operation_id(name: str) -> str:
    """The handler's name in camel case: ``create_member_events`` is ``createMemberEvents``."""
    first, *rest = name.split("_")
    return first + "".join(word.capitalize() for word in rest)


def tag(path: str) -> str:
    return next(name for prefix, name in TAGS if prefix in path)


def _schema(adapter: Any, schemas: dict[str, Any], mode: str = "validation") -> dict[str, Any]:
    """A type's JSON Schema, its nested models moved into the document's components."""
    schema: dict[str, Any] = adapter.json_schema(mode=mode, ref_template=REF)
    schemas.update(schema.pop("$defs", {}))
    return schema


def operation(endpoint: Any, schemas: dict[str, Any]) -> dict[str, Any]:
    """The OpenAPI operation of one endpoint, from its declarations."""
    from pydantic import BaseModel, TypeAdapter

    parameters = []
    for where, model in endpoint.models.items():
        schema = _schema(TypeAdapter(model), schemas)
        for name, field in schema["properties"].items():
            parameter = {"name": name, "in": where, "required": name in schema.get("required", []), "schema": field}
            if "description" in field:
                parameter["description"] = field["description"]
            parameters.append(parameter)
    found: dict[str, Any] = {
        "operationId": operation_id(endpoint.name),
        "summary": endpoint.summary,
        "tags": [tag(endpoint.path)],
        "parameters": parameters,
    }
    if endpoint.body is not None:
        schemas[endpoint.body.__name__] = _schema(TypeAdapter(endpoint.body), schemas)
        content = {"application/json": {"schema": {"$ref": REF.format(model=endpoint.body.__name__)}}}
        found["requestBody"] = {"content": content, "required": True}
    answer = _schema(TypeAdapter(endpoint.answers), schemas, mode="serialization")
    if isinstance(endpoint.answers, type) and issubclass(endpoint.answers, BaseModel):  # by reference, as bodies
        schemas[endpoint.answers.__name__] = answer
        answer = {"$ref": REF.format(model=endpoint.answers.__name__)}
    found["responses"] = {
        "200": {"description": "Successful Response", "content": {"application/json": {"schema": answer}}}
    }
    return found


def build() -> dict[str, Any]:
    _environment()
    from devtools.local_stack.template import api_functions
    from devtools.testing.in_process import load_function
    from emma_events.endpoint import Endpoint

    document: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": "Emma events API",
            "version": "1.0.0",
            "description": "Emma-compatible event types, members and member events. Paths start with the account "
            "id; dates are `@D:YYYY-MM-DDTHH:MM:SS` (UTC); success is always 200.",
        },
        "servers": [
            {"url": "/", "description": "where this document is served from (the local stack's /docs)"},
            {
                "url": "{apiUrl}",
                "description": "a deployed stack",
                "variables": {
                    "apiUrl": {
                        "default": "https://abc123.execute-api.us-east-1.amazonaws.com/v1",
                        "description": "the stack's ApiUrl output (make outputs), without its trailing slash",
                    }
                },
            },
        ],
        "tags": [{"name": name, "description": f"Emma's {name}"} for _, name in TAGS],
        "security": [{"basicAuth": []}],
        "paths": {},
        "components": {
            "schemas": {"Problem": PROBLEM},
            "securitySchemes": {
                "basicAuth": {
                    "type": "http",
                    "scheme": "basic",
                    "description": "An account's API keys: the public key as user name, the private key as password.",
                }
            },
        },
    }
    schemas = document["components"]["schemas"]
    for function in sorted(api_functions().values(), key=lambda f: (f["path"], f["method"])):
        module = load_function(Path(function["code_uri"]).name)
        (endpoint,) = [value for value in vars(module).values() if isinstance(value, Endpoint)]
        assert (endpoint.method, endpoint.path) == (function["method"], function["path"]), function
        document["paths"].setdefault(endpoint.path, {})[endpoint.method.lower()] = operation(endpoint, schemas)
    for path, operations in document["paths"].items():
        for method, found in operations.items():
            responses = found["responses"]
            if (method, path) in LINKS:
                responses["200"]["links"] = LINKS[(method, path)]
            errors = {**ERRORS, **(BODY_ERRORS if "requestBody" in found else {})}
            if any(p["name"] == "idempotency-key" for p in found["parameters"]):
                errors["422"] = ("The Idempotency-Key was used in the last 24 hours with another body.", "Problem")
            if path.endswith("/searches/{search_id}/members"):
                errors["422"] = (
                    "The search reads more than a run may even outside the request (search-too-large).",
                    "Problem",
                )
            for status, (description, schema) in errors.items():
                responses[status] = {
                    "description": description,
                    "content": {"application/problem+json": {"schema": {"$ref": REF.format(model=schema)}}},
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

"""docs/openapi.json is generated from the code (`make openapi`) and committed: it must be current and valid."""

from __future__ import annotations

import json

from devtools.contract.openapi import DOCUMENT, build, render
from devtools.local_stack.template import api_functions


def test_the_committed_document_is_current() -> None:
    assert DOCUMENT.read_text() == render(build()), (
        "stale: run `python -m devtools.contract.openapi` and commit docs/openapi.json"
    )


def test_it_is_a_valid_openapi_document() -> None:
    from openapi_spec_validator import validate

    validate(json.loads(DOCUMENT.read_text()))


def test_every_route_of_the_template_is_documented_with_the_error_contract() -> None:
    document = json.loads(DOCUMENT.read_text())
    for function in api_functions().values():
        operation = document["paths"][function["path"]][function["method"].lower()]
        assert {"200", "400", "401", "403", "500"} <= set(operation["responses"]), function
        if "422" in operation["responses"]:  # only the idempotency problem, never Powertools' validation shape
            assert "application/problem+json" in operation["responses"]["422"]["content"]
        problem = operation["responses"]["400"]["content"]["application/problem+json"]["schema"]
        assert problem == {"$ref": "#/components/schemas/Problem"}
    assert document["security"] == [{"basicAuth": []}]

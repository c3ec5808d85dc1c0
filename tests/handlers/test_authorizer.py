"""The Lambda REQUEST authorizer and the API keys behind it, at the handler level."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from devtools.testing.events import load_event
from devtools.testing.in_process import LambdaContext, load_function
from emma_events.auth import Credentials

pytestmark = pytest.mark.stores  # on moto, then again on DynamoDB Local


def keys() -> Any:
    from emma_events.stores import api_keys

    return api_keys()


def authorize(header: str | None, path: str = "/100/events", method: str = "GET") -> Any:
    event = load_event("authorizer")
    event["headers"].pop("Authorization")
    if header is not None:
        event["headers"]["Authorization"] = header
    event["methodArn"] = f"arn:aws:execute-api:us-east-1:123456789012:abcdef1234/v1/{method}{path}"
    return load_function("authorizer").lambda_handler(event, LambdaContext(function_name="authorizer"))


def basic(public: str, private: str) -> str:
    return "Basic " + base64.b64encode(f"{public}:{private}".encode()).decode()


def test_the_event_file_is_authorized_with_the_development_key(dynamodb: Any) -> None:
    keys().create_api_key(100, credentials=Credentials("0123456789abcdef0123", "local-dev-private-key-0123456789ab"))
    result = load_function("authorizer").lambda_handler(load_event("authorizer"), LambdaContext())
    assert result["principalId"] == "0123456789abcdef0123"


def test_valid_credentials_get_a_policy_for_their_own_account_only(dynamodb: Any) -> None:
    credentials = keys().create_api_key(100)
    policy = authorize(basic(credentials.public_key, credentials.private_key))
    (statement,) = policy["policyDocument"]["Statement"]
    assert statement["Effect"] == "Allow"
    base = "arn:aws:execute-api:us-east-1:123456789012:abcdef1234/v1"
    assert statement["Resource"] == [
        f"{base}/{method}/100{rest}" for method in ("DELETE", "GET", "POST", "PUT") for rest in ("", "/*")
    ]
    assert policy["context"] == {"account_id": "100"}


def test_the_policy_does_not_depend_on_the_requested_path(dynamodb: Any) -> None:
    """API Gateway may cache the decision per credentials and reuse it for other paths: it must stay the same."""
    credentials = keys().create_api_key(100)
    header = basic(credentials.public_key, credentials.private_key)
    assert authorize(header, "/100/events") == authorize(header, "/200/members/add", "POST")


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "Bearer abc",
        "Basic",
        "Basic not-base64!",
        "Basic " + base64.b64encode(b"no-colon").decode(),
        "Basic " + base64.b64encode(b":only-private").decode(),
        "Basic " + base64.b64encode(b"\xff\xfe:x").decode(),
    ],
)
def test_missing_or_malformed_credentials_are_unauthorized(dynamodb: Any, header: str | None) -> None:
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        authorize(header)


def test_a_wrong_private_key_an_unknown_key_and_a_revoked_key_are_unauthorized(dynamodb: Any) -> None:
    credentials = keys().create_api_key(100)
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        authorize(basic(credentials.public_key, "wrong"))
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        authorize(basic("unknown-public-key", credentials.private_key))
    keys().revoke_api_key(100, credentials.public_key)
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        authorize(basic(credentials.public_key, credentials.private_key))


@pytest.mark.parametrize("level", ["INFO", "ERROR"])
def test_every_refusal_is_counted_whatever_the_log_level(
    dynamodb: Any, capsys: pytest.CaptureFixture[str], level: str
) -> None:
    """Lambda counts a refusal in Errors: the metric lets the Errors alarm leave it out, at any log level."""
    from test_metrics import documents

    function = load_function("authorizer")
    before = function.logger.log_level
    function.logger.setLevel(level)
    capsys.readouterr()
    try:
        for header in (None, basic("unknown-public-key", "x")):
            with pytest.raises(Exception, match=r"^Unauthorized$"):
                authorize(header)
    finally:
        function.logger.setLevel(before)
    credentials = keys().create_api_key(100)
    authorize(basic(credentials.public_key, credentials.private_key))
    found = documents(capsys.readouterr().out)
    assert [sum(d["CredentialsRefused"]) for d in found] == [1, 1]  # the allowed request wrote none
    for document in found:
        assert document["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["FunctionName", "service"]]
        assert document["FunctionName"] == "authorizer"


def test_the_private_key_is_stored_only_as_a_salted_digest(dynamodb: Any, table_items: Any) -> None:
    first = keys().create_api_key(100, credentials=Credentials("pub-one", "same-private-key"))
    keys().create_api_key(100, credentials=Credentials("pub-two", "same-private-key"))
    dump = str(table_items())
    assert first.private_key not in dump
    digests = {item["digest"]["S"] for item in table_items() if "digest" in item}
    assert len(digests) == 2  # same private key, different salts


def test_keys_are_listed_per_account_and_revoked_only_by_their_account(dynamodb: Any) -> None:
    from emma_events.errors import NotFound

    mine = keys().create_api_key(100)
    keys().create_api_key(200)
    assert [k["public_key"] for k in keys().list_api_keys(100)] == [mine.public_key]
    with pytest.raises(NotFound):
        keys().revoke_api_key(200, mine.public_key)
    keys().revoke_api_key(100, mine.public_key)
    assert keys().list_api_keys(100)[0]["revoked"] is True


def test_the_usage_identifier_key_is_returned_for_api_gateway_usage_plans(dynamodb: Any) -> None:
    credentials = keys().create_api_key(100, usage_key="usage-plan-api-key-value")
    policy = authorize(basic(credentials.public_key, credentials.private_key))
    assert policy["usageIdentifierKey"] == "usage-plan-api-key-value"


def test_the_key_tool_creates_lists_and_revokes(dynamodb: Any) -> None:
    import io
    import json
    import os

    from ops.api_keys import main

    table = os.environ["TABLE_NAME"]
    out = io.StringIO()
    assert main(["create", "--table", table, "--account", "100"], out) == 0
    created = json.loads(out.getvalue())
    assert authorize(basic(created["public_key"], created["private_key"]))["context"] == {"account_id": "100"}

    out = io.StringIO()
    main(["list", "--table", table, "--account", "100"], out)
    assert [json.loads(line)["public_key"] for line in out.getvalue().splitlines()] == [created["public_key"]]

    assert (
        main(["revoke", "--table", table, "--account", "200", "--public-key", created["public_key"]], io.StringIO())
        == 1
    )
    assert (
        main(["revoke", "--table", table, "--account", "100", "--public-key", created["public_key"]], io.StringIO())
        == 0
    )
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        authorize(basic(created["public_key"], created["private_key"]))


def test_the_key_tool_adds_the_account_to_the_usage_plan(dynamodb: Any) -> None:
    import io
    import json
    import os

    import boto3

    from ops.api_keys import main

    apigateway = boto3.client("apigateway")
    plan = apigateway.create_usage_plan(name="plan", throttle={"rateLimit": 3, "burstLimit": 180})
    out = io.StringIO()
    main(["create", "--table", os.environ["TABLE_NAME"], "--account", "100", "--usage-plan-id", plan["id"]], out)
    created = json.loads(out.getvalue())
    (member,) = apigateway.get_usage_plan_keys(usagePlanId=plan["id"])["items"]
    policy = authorize(basic(created["public_key"], created["private_key"]))
    assert policy["usageIdentifierKey"] == member["value"]

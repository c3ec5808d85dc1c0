"""template.yaml, functions/, events/ and the layer pins agree with each other."""

from __future__ import annotations

import json
import re
from importlib.metadata import version
from pathlib import Path

import pytest

from devtools.local_stack.template import api_functions, load_template, resources, stream_subscriptions

ROOT = Path(__file__).resolve().parents[2]
API_FUNCTIONS = api_functions()


def test_every_api_function_has_its_own_folder_with_app_py() -> None:
    assert API_FUNCTIONS
    for name, function in API_FUNCTIONS.items():
        assert (ROOT / function["code_uri"] / "app.py").is_file(), name


@pytest.mark.parametrize("name", sorted(API_FUNCTIONS))
def test_every_api_function_has_an_event_matching_its_route(name: str) -> None:
    function = API_FUNCTIONS[name]
    folder = Path(function["code_uri"]).name
    event = json.loads((ROOT / "events" / f"{folder}.json").read_text())
    assert event["resource"] == function["path"]
    assert event["httpMethod"] == function["method"]


def test_every_function_has_an_event_file() -> None:
    for function in resources("AWS::Serverless::Function").values():
        folder = Path(function["Properties"]["CodeUri"]).name
        assert (ROOT / "events" / f"{folder}.json").is_file(), folder


def test_the_cascade_reads_the_stream_with_failure_handling() -> None:
    (props,) = [p for name, p, _ in stream_subscriptions() if name == "CascadeDeleteFunction"]
    assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert props["BisectBatchOnFunctionError"] is True
    assert 0 <= props["MaximumRetryAttempts"] <= 10
    assert 60 <= props["MaximumRecordAgeInSeconds"] < 86400
    assert props["DestinationConfig"]["OnFailure"]["Destination"] == {"Fn::GetAtt": ["CascadeDeadLetterQueue", "Arn"]}
    # Filters only on the `dynamodb` key, as AWS supports for DynamoDB event source mappings.
    for pattern in props["FilterCriteria"]["Filters"]:
        assert list(json.loads(pattern["Pattern"])) == ["dynamodb"]
    alarms = resources("AWS::CloudWatch::Alarm")
    assert any(a["Properties"]["MetricName"] == "ApproximateNumberOfMessagesVisible" for a in alarms.values())


def test_no_catch_all_routes() -> None:
    assert all("{proxy+}" not in f["path"] for f in API_FUNCTIONS.values())


def test_table_is_on_demand_encrypted_recoverable_and_streams_both_images() -> None:
    (table,) = resources("AWS::DynamoDB::Table").values()
    props = table["Properties"]
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["SSESpecification"]["SSEEnabled"] is True
    assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert props["StreamSpecification"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"


def test_functions_run_python312_on_arm64() -> None:
    globals_ = load_template()["Globals"]["Function"]
    assert globals_["Runtime"] == "python3.12"
    assert globals_["Architectures"] == ["arm64"]


def test_read_only_functions_get_read_actions_only() -> None:
    functions = resources("AWS::Serverless::Function")
    for name, function in functions.items():
        if API_FUNCTIONS.get(name, {}).get("method") != "GET":
            continue
        actions = {
            action
            for policy in function["Properties"]["Policies"]
            if "Statement" in policy  # the shared Deny of key items is a managed policy's Ref
            for statement in policy["Statement"]
            for action in statement["Action"]
        }
        # Emma records a search's run when its members are read: its counts and last_run_at, one UpdateItem
        recorded = {"dynamodb:UpdateItem"} if name == "ListSearchMembersFunction" else set()
        assert actions <= {"dynamodb:GetItem", "dynamodb:Query", "dynamodb:BatchGetItem", *recorded}, name


def test_no_scan_in_deployed_code() -> None:
    sources = [*ROOT.glob("functions/*/app.py"), *ROOT.glob("layers/emma_events/emma_events/*.py")]
    for source in sources:
        assert not re.search(r"\.scan\(|\"Scan\"|Select=\"ALL", source.read_text()), source


def test_layer_pins_are_what_the_tests_run() -> None:
    pins = dict(
        line.split("==")
        for line in (ROOT / "layers/emma_events/requirements.txt").read_text().splitlines()
        if "==" in line and not line.startswith("#")
    )
    assert pins
    for package, pinned in pins.items():
        assert version(package) == pinned.strip(), package


def test_every_route_requires_the_authorizer_and_an_api_key() -> None:
    (api,) = resources("AWS::Serverless::Api").values()
    auth = api["Properties"]["Auth"]
    assert auth["DefaultAuthorizer"] == "ApiKeyAuthorizer"
    assert auth["Authorizers"]["ApiKeyAuthorizer"]["FunctionPayloadType"] == "REQUEST"
    assert auth["ApiKeyRequired"] is True
    assert api["Properties"]["ApiKeySourceType"] == "AUTHORIZER"
    for name, function in resources("AWS::Serverless::Function").items():
        for event in function["Properties"].get("Events", {}).values():
            if event["Type"] == "Api":
                assert "Auth" not in event["Properties"], f"{name} overrides the default authorizer"


def test_the_authorizer_reads_only_key_items() -> None:
    (statement,) = resources("AWS::Serverless::Function")["AuthorizerFunction"]["Properties"]["Policies"][0][
        "Statement"
    ]
    assert statement["Action"] == ["dynamodb:GetItem"]
    assert statement["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"] == ["KEY#*"]


def test_api_gateways_own_errors_are_problem_documents() -> None:
    (api,) = resources("AWS::Serverless::Api").values()
    responses = api["Properties"]["GatewayResponses"]
    required = {"UNAUTHORIZED", "ACCESS_DENIED", "THROTTLED", "BAD_REQUEST_BODY", "MISSING_AUTHENTICATION_TOKEN"}
    required |= {"DEFAULT_4XX", "DEFAULT_5XX", "INVALID_API_KEY", "REQUEST_TOO_LARGE"}
    assert required <= set(responses)
    for kind, response in responses.items():
        # $context.error.messageString is API Gateway's message as a quoted JSON string.
        template = response["ResponseTemplates"]["application/json"].replace("$context.error.messageString", '"m"')
        body = json.loads(template)
        assert {"type", "title", "status", "detail"} <= set(body), kind
        assert body["status"] == int(response["StatusCode"]), kind
        assert response["ResponseParameters"]["Headers"]["Content-Type"] == "'application/problem+json'", kind


def test_the_usage_plan_has_no_api_key_that_no_client_can_present() -> None:
    """Keys reach API Gateway from the authorizer; a key made by the template itself would be an orphan."""
    from devtools.local_stack.template import transformed

    deployed = transformed()["Resources"]
    kinds = [resource["Type"] for resource in deployed.values()]
    assert "AWS::ApiGateway::ApiKey" not in kinds
    assert "AWS::ApiGateway::UsagePlanKey" not in kinds
    (plan,) = (r for r in deployed.values() if r["Type"] == "AWS::ApiGateway::UsagePlan")
    (stage,) = plan["Properties"]["ApiStages"]
    assert stage["ApiId"] == {"Ref": "EventsApi"}
    assert deployed[stage["Stage"]["Ref"]]["Type"] == "AWS::ApiGateway::Stage"
    assert set(plan["Properties"]["Throttle"]) == {"RateLimit", "BurstLimit"}


def test_the_cold_start_benchmark_runs_every_function_with_its_template_environment() -> None:
    from devtools.bench.coldstart import TABLE, functions

    found = {f.name: f for f in functions()}
    assert set(found) == {p.parent.name for p in ROOT.glob("functions/*/app.py")}
    assert all(f.environment["TABLE_NAME"] == TABLE for f in found.values())
    assert found["cascade_delete"].environment["CASCADE_PAGE_SIZE"] == "1000"
    assert all((ROOT / "events" / f"{name}.json").exists() for name in found)


def _elf(path: Path, machine: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\x7fELF\x02\x01\x01" + b"\x00" * 11 + machine.to_bytes(2, "little") + b"\x00" * 44)


def test_make_build_refuses_a_layer_with_libraries_for_another_architecture(tmp_path: Path) -> None:
    from devtools.build.check_layer import main

    _elf(tmp_path / "python/pydantic_core/_pydantic_core.so", 183)
    assert main([str(tmp_path)]) == 0
    _elf(tmp_path / "python/other/_speedups.so", 62)  # x86_64, as a cached build for this machine would have
    assert main([str(tmp_path)]) == 1
    assert main([str(tmp_path / "empty")]) == 1


def test_a_flood_is_capped_by_the_stage_before_any_function_runs() -> None:
    (api,) = resources("AWS::Serverless::Api").values()
    (settings,) = api["Properties"]["MethodSettings"]
    assert (settings["ResourcePath"], settings["HttpMethod"]) == ("/*", "*")
    assert settings["ThrottlingRateLimit"] == {"Ref": "StageThrottleRatePerSecond"}
    assert settings["ThrottlingBurstLimit"] == {"Ref": "StageThrottleBurst"}


def test_the_authorizers_concurrency_can_be_capped_where_the_quota_allows() -> None:
    """Opt-in (test_deployed_shape.py: none by default, so a first deploy works on a new account)."""
    authorizer = resources("AWS::Serverless::Function")["AuthorizerFunction"]["Properties"]
    reserved = authorizer["ReservedConcurrentExecutions"]["Fn::If"]
    assert reserved[:2] == ["AuthorizerConcurrencyReserved", {"Ref": "AuthorizerReservedConcurrency"}]
    assert "quota" in load_template()["Parameters"]["AuthorizerReservedConcurrency"]["Description"]


def test_an_optional_web_acl_limits_each_client_ip_on_the_stage() -> None:
    (acl,) = resources("AWS::WAFv2::WebACL").values()
    (association,) = resources("AWS::WAFv2::WebACLAssociation").values()
    assert acl["Condition"] == association["Condition"] == "WafEnabled"
    rule = _waf_rule(acl, "RatePerClientIp")
    assert rule["Action"] == {"Block": {}}
    assert rule["Statement"]["RateBasedStatement"]["AggregateKeyType"] == "IP"
    assert rule["Statement"]["RateBasedStatement"]["Limit"] == {"Ref": "WafRateLimitPer5Minutes"}
    assert "/restapis/${EventsApi}/stages/${EventsApi.Stage}" in association["Properties"]["ResourceArn"]["Fn::Sub"]


def _waf_rule(acl: dict, name: str) -> dict:
    (rule,) = [r for r in acl["Properties"]["Rules"] if r["Name"] == name]
    return dict(rule)


def test_the_web_acl_refuses_a_body_past_the_functions_limit_with_a_problem_document() -> None:
    """By its declared Content-Length (WAF reads at most 16 KB of a body): exactly the sizes the functions refuse."""
    from emma_events.guards import MAX_BODY_BYTES

    (acl,) = resources("AWS::WAFv2::WebACL").values()
    rule = _waf_rule(acl, "BodyPastTheLimit")
    assert rule["Priority"] == 0  # before the rate rule counts it
    statement = rule["Statement"]["RegexMatchStatement"]
    assert statement["FieldToMatch"] == {"SingleHeader": {"Name": "content-length"}}
    pattern = re.compile(statement["RegexString"])
    assert len(statement["RegexString"]) <= 512  # WAF's limit on a regex
    sizes = [*range(0, 3 * MAX_BODY_BYTES, 997), *range(MAX_BODY_BYTES - 2000, MAX_BODY_BYTES + 2000), 10**9]
    assert [n for n in sizes if bool(pattern.fullmatch(str(n))) != (n > MAX_BODY_BYTES)] == []
    response = rule["Action"]["Block"]["CustomResponse"]
    assert response["ResponseCode"] == 413
    body = acl["Properties"]["CustomResponseBodies"][response["CustomResponseBodyKey"]]
    assert body["ContentType"] == "APPLICATION_JSON"  # WAF sets Content-Type from this; a header may not
    problem = json.loads(body["Content"])
    assert problem["status"] == 413
    assert problem["type"] == "urn:emma-events:problem:payload-too-large"
    assert str(MAX_BODY_BYTES) in problem["detail"]


def test_a_spike_of_refused_credentials_raises_an_alarm() -> None:
    """The spike alarm counts the metric the authorizer writes for every refusal (not a log line, which LogLevel
    could silence), of this stack's authorizer only."""
    assert 'add_metric(name="CredentialsRefused"' in (ROOT / "functions/authorizer/app.py").read_text()
    alarm = resources("AWS::CloudWatch::Alarm")["UnauthorizedSpikeAlarm"]["Properties"]
    assert (alarm["Namespace"], alarm["MetricName"], alarm["Threshold"]) == (
        "EmmaEvents",
        "CredentialsRefused",
        {"Ref": "UnauthorizedThreshold"},
    )
    assert {d["Name"]: d["Value"] for d in alarm["Dimensions"]} == {
        "FunctionName": {"Ref": "AuthorizerFunction"},
        "service": {"Ref": "AWS::StackName"},
    }
    assert not resources("AWS::Logs::MetricFilter").keys() - {"ApiThrottledRequestsFilter"}

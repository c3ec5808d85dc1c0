"""What CloudFormation will create: template.yaml expanded as SAM CLI expands it, then translated by AWS's own SAM
translator (samtranslator, the code behind the ``AWS::Serverless`` transform). Nothing here reaches AWS."""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import pytest

from devtools.local_stack.template import load_template, transformed

pytestmark = pytest.mark.moto_only  # no store: one run is enough

DEPLOYED = transformed()
RESOURCES: dict[str, Any] = DEPLOYED["Resources"]
PARAMETERS = set(DEPLOYED["Parameters"])


def of_type(kind: str, resources: dict[str, Any] = RESOURCES) -> dict[str, Any]:
    return {name: r for name, r in resources.items() if r["Type"] == kind}


def _translated_with_layer_at(uri: str, **parameters: str) -> dict[str, Any]:
    from samtranslator.translator.transform import transform

    template = copy.deepcopy(load_template())
    for resource in template["Resources"].values():
        properties = resource.get("Properties", {})
        for key in ("CodeUri", "ContentUri"):
            if isinstance(properties.get(key), str):
                properties[key] = f"s3://local-build/{properties[key]}"
    template["Resources"]["EventsLayer"]["Properties"]["ContentUri"] = uri

    class NoManagedPolicies:
        def load(self) -> dict[str, str]:
            return {}

    return dict(transform(template, parameters, NoManagedPolicies())["Resources"])


def test_a_change_to_the_layer_alone_publishes_a_new_version_of_every_function() -> None:
    """SAM names a function's version after a hash of its properties; unless the layer is among them, a deploy of
    the layer alone updates $LATEST and leaves the alias that API Gateway and the streams invoke on the old code."""
    before = of_type("AWS::Lambda::Version", _translated_with_layer_at("s3://bucket/layer-1.zip"))
    after = of_type("AWS::Lambda::Version", _translated_with_layer_at("s3://bucket/layer-2.zip"))
    assert len(before) == len(after) == len(of_type("AWS::Lambda::Function"))
    assert not set(before) & set(after)


def parameters_in(value: Any) -> set[str]:
    """The template's parameters a value reads (by Ref or inside a Sub), wherever they are nested."""
    if isinstance(value, list):
        return set().union(*map(parameters_in, value))
    if not isinstance(value, dict):
        return set()
    found = {value["Ref"]} & PARAMETERS if "Ref" in value else set()
    if "Fn::Sub" in value:
        text = value["Fn::Sub"] if isinstance(value["Fn::Sub"], str) else value["Fn::Sub"][0]
        found |= set(re.findall(r"\$\{([^}!.]+)\}", text)) & PARAMETERS
    return found | set().union(*map(parameters_in, value.values()))


def test_a_new_value_of_a_parameter_a_function_reads_moves_its_alias_to_a_new_version() -> None:
    """SAM names a version after the function's properties with their parameters unresolved (AWS's translator,
    serverless-application-model #3820): a deploy that changes only LogLevel would reach $LATEST, never "live".
    Each version's description reads exactly the parameters its function's configuration reads: a new value
    replaces the version (AWS::Lambda::Version's Description requires replacement), and since the configuration
    changed with it, Lambda publishes a new one, which the alias then points to."""
    unversioned = {"ReservedConcurrentExecutions"}  # the function's, not any version's
    versions = {v["Properties"]["FunctionName"]["Ref"]: v for v in of_type("AWS::Lambda::Version").values()}
    for name, function in of_type("AWS::Lambda::Function").items():
        read = parameters_in([v for k, v in function["Properties"].items() if k not in unversioned])
        assert {"LogLevel", "SnapStart"} <= read, name
        assert parameters_in(versions[name]["Properties"].get("Description")) == read, name
        text = versions[name]["Properties"]["Description"]["Fn::Sub"]
        assert len(re.sub(r"\$\{([^}]+)\}", lambda m: "x" * longest(m[1]), text)) <= 256, name  # Lambda's limit


def longest(parameter: str) -> int:
    """The most characters a value of the parameter can have."""
    declared = DEPLOYED["Parameters"][parameter]
    return int(declared.get("MaxLength") or max(map(len, declared["AllowedValues"])))


def test_every_function_but_the_authorizer_is_invoked_through_its_alias() -> None:
    aliases = of_type("AWS::Lambda::Alias")
    assert {a["Properties"]["Name"] for a in aliases.values()} == {"live"}
    for mapping in of_type("AWS::Lambda::EventSourceMapping").values():
        assert mapping["Properties"]["FunctionName"]["Ref"].endswith("Aliaslive")


def test_exactly_one_stage_carries_every_defence() -> None:
    stages = of_type("AWS::ApiGateway::Stage")
    assert len(stages) == 1
    ((stage_id, stage),) = stages.items()
    assert all("StageName" not in d["Properties"] for d in of_type("AWS::ApiGateway::Deployment").values())
    assert stage["Properties"]["StageName"] == {"Ref": "StageName"}
    assert stage["Properties"]["MethodSettings"][0]["ThrottlingRateLimit"] == {"Ref": "StageThrottleRatePerSecond"}
    (plan,) = of_type("AWS::ApiGateway::UsagePlan").values()
    assert plan["Properties"]["ApiStages"][0]["Stage"] == {"Ref": stage_id}
    (association,) = of_type("AWS::WAFv2::WebACLAssociation").values()
    assert association["Properties"]["ResourceArn"]["Fn::Sub"].endswith(f"/stages/${{{stage_id}}}")


def test_the_first_deploy_reserves_no_concurrency_unless_asked() -> None:
    """A new account's concurrency quota may be 10 or 50; Lambda refuses a reservation that leaves less than 100
    unreserved, and the failed first deploy would keep its retained table."""
    parameters = load_template()["Parameters"]
    assert parameters["AuthorizerReservedConcurrency"]["Default"] == 0
    (authorizer,) = [f for n, f in of_type("AWS::Lambda::Function").items() if n.startswith("AuthorizerFunction")]
    assert authorizer["Properties"]["ReservedConcurrentExecutions"]["Fn::If"][0] == "AuthorizerConcurrencyReserved"


#: Dimensions that name a resource: their values must be this stack's.
NAMING = {"FunctionName", "TableName", "QueueName", "ApiName", "Stage", "Resource", "service"}


def _metrics(alarm: dict[str, Any]) -> list[dict[str, Any]]:
    properties = alarm["Properties"]
    return [properties, *(m["MetricStat"]["Metric"] for m in properties.get("Metrics", []) if "MetricStat" in m)]


def test_every_alarm_watches_this_stacks_own_resources() -> None:
    """A dimension that names a resource refers to this stack's resource or parameter, or to a name built from
    the stack's own name: never a literal shared by two stacks in one account and region."""
    for alarm_id, alarm in of_type("AWS::CloudWatch::Alarm").items():
        for metric in _metrics(alarm):
            for dimension in metric.get("Dimensions", []):
                if dimension["Name"] in NAMING:
                    assert _referenced(dimension["Value"]) & (set(RESOURCES) | OWN), (alarm_id, dimension)


#: Names of this stack's own that are not resources: its name, and the stage (on this stack's API, by ApiName).
OWN = {"AWS::StackName", "StageName"}


def _referenced(value: Any) -> set[str]:
    """The names a value refers to: ``Ref``, ``Fn::GetAtt`` and ``${...}`` in ``Fn::Sub``."""
    if isinstance(value, dict):
        if "Ref" in value:
            return {str(value["Ref"])}
        if "Fn::GetAtt" in value:
            target = value["Fn::GetAtt"]
            return {str(target[0] if isinstance(target, list) else target.split(".")[0])}
        if "Fn::Sub" in value:
            text = value["Fn::Sub"] if isinstance(value["Fn::Sub"], str) else value["Fn::Sub"][0]
            return {name.split(".")[0] for name in re.findall(r"\$\{([^}!]+)\}", text)}
    return set()


def _functions_watched(alarm: dict[str, Any], namespace: str, name: str) -> set[str]:
    """The functions whose metric ``namespace``/``name`` the alarm reads."""
    return {
        function
        for metric in _metrics(alarm)
        if (metric.get("Namespace"), metric.get("MetricName")) == (namespace, name)
        for dimension in metric.get("Dimensions", [])
        if dimension["Name"] == "FunctionName"
        for function in _referenced(dimension["Value"])
    }


def _stream_consumers() -> set[str]:
    return {
        m["Properties"]["FunctionName"]["Ref"].removesuffix("Aliaslive")
        for m in of_type("AWS::Lambda::EventSourceMapping").values()
    }


@pytest.mark.parametrize("function", sorted(of_type("AWS::Lambda::Function")))
def test_every_function_logs_to_a_group_made_before_it_and_has_its_alarms(function: str) -> None:
    """Whatever functions the template holds: a log group with the retention, which the function names (so
    CloudFormation creates it first, and nothing the function writes makes Lambda create one without retention);
    alarms on its errors and throttles, and on its stream's iterator age if it reads one."""
    properties = RESOURCES[function]["Properties"]
    group = properties["LoggingConfig"]["LogGroup"]["Ref"]
    assert RESOURCES[group]["Type"] == "AWS::Logs::LogGroup"
    assert RESOURCES[group]["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionInDays"}
    assert _referenced(RESOURCES[group]["Properties"]["LogGroupName"]) == {"AWS::StackName"}
    expected = {"Errors", "Throttles"} | ({"IteratorAge"} if function in _stream_consumers() else set())
    watched = {
        name
        for alarm in of_type("AWS::CloudWatch::Alarm").values()
        for name in ("Errors", "Throttles", "IteratorAge")
        if function in _functions_watched(alarm, "AWS/Lambda", name)
    }
    assert watched == expected


def test_no_errors_alarm_counts_refused_credentials() -> None:
    """Lambda counts each 401 of the authorizer in Errors; every Errors alarm subtracts the refusals that same
    function reported (CredentialsRefused, this stack's service), and alarms on what is left."""
    errors_alarms = [
        a for a in of_type("AWS::CloudWatch::Alarm").values() if _functions_watched(a, "AWS/Lambda", "Errors")
    ]
    assert len(errors_alarms) == len(of_type("AWS::Lambda::Function"))
    for alarm in errors_alarms:
        queries = {q["Id"]: q for q in alarm["Properties"]["Metrics"]}
        (result,) = [q for q in queries.values() if q.get("ReturnData", True)]
        errors, refused = (
            next(i for i, q in queries.items() if q.get("MetricStat", {}).get("Metric", {}).get("MetricName") == name)
            for name in ("Errors", "CredentialsRefused")
        )
        assert result["Expression"].replace(" ", "") == f"{errors}-FILL({refused},0)"
        refusals = queries[refused]["MetricStat"]["Metric"]
        dimensions = {d["Name"]: d["Value"] for d in refusals["Dimensions"]}
        assert dimensions["service"] == {"Ref": "AWS::StackName"}
        assert _functions_watched(alarm, "AWS/Lambda", "Errors") == _functions_watched(
            alarm, "EmmaEvents", "CredentialsRefused"
        )


def test_two_stacks_in_one_region_never_share_a_metric_or_a_dashboard_line() -> None:
    """Each stack's metrics carry its own service (its name), and its dashboard names each of its functions: a
    search by prefix for stack emma-events would also find emma-events-dev's functions."""
    functions = set(of_type("AWS::Lambda::Function"))
    for name, function in of_type("AWS::Lambda::Function").items():
        environment = function["Properties"]["Environment"]["Variables"]
        assert environment["POWERTOOLS_SERVICE_NAME"] == {"Ref": "AWS::StackName"}, name
    (dashboard,) = of_type("AWS::CloudWatch::Dashboard").values()
    body, variables = dashboard["Properties"]["DashboardBody"]["Fn::Sub"]
    assert "SEARCH(" not in body
    separator, names = variables["Functions"]["Fn::Join"]
    # the body as CloudFormation writes it (each function by its logical id), "." as CloudWatch reads it
    text = body.replace("${Functions}", separator.join(n["Ref"] for n in names))
    widgets = json.loads(re.sub(r"\$\{[^}]+\}", "x", text))["widgets"]
    shown: dict[str, list[str]] = {}
    for widget in widgets:
        previous: list[Any] = []
        for row in widget["properties"]["metrics"]:
            row = [previous[i] if value == "." else value for i, value in enumerate(row)]
            previous = row
            if row[0] == "EmmaEvents":
                assert row[row.index("service") + 1] == "x", row  # ${AWS::StackName}
            if row[:1] == ["AWS/Lambda"] and row[2] == "FunctionName" and row[3] in functions:
                shown.setdefault(row[1], []).append(row[3])
    for metric in ("Invocations", "Errors", "Throttles"):
        assert sorted(shown[metric]) == sorted(functions), metric


def test_the_stage_throttle_says_its_total_for_the_methods_the_api_has() -> None:
    """API Gateway applies a stage's throttle to each method on its own: the parameter states the total for the
    number of methods the API has, so a new endpoint cannot raise the authorizer's flood without the text saying so."""
    (api,) = of_type("AWS::ApiGateway::RestApi").values()
    methods = sum(len(operations) for operations in api["Properties"]["Body"]["paths"].values())
    parameters = load_template()["Parameters"]
    rate, burst = (parameters[p] for p in ("StageThrottleRatePerSecond", "StageThrottleBurst"))
    assert f"each of the API's {methods} methods" in rate["Description"]
    assert f"{methods * rate['Default']:,}/s by default" in " ".join(rate["Description"].split())
    assert f"{methods * burst['Default']:,} for the" in " ".join(burst["Description"].split())

"""Alarms and the dashboard watch what exists: every name they use is one of the template's resources, parameters
or pseudo parameters, every metric of ours they show is one the code writes, and nothing is left unwatched."""

from __future__ import annotations

import json
import re
from typing import Any

from devtools import ROOT
from devtools.local_stack.template import load_template, resources

PSEUDO = {"AWS::StackName", "AWS::Region", "AWS::AccountId", "AWS::Partition", "AWS::NoValue", "AWS::URLSuffix"}


def names_used(node: Any) -> set[str]:
    """Every resource or parameter a template fragment refers to (Ref, GetAtt, and ${...} in Sub)."""
    found: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref":
                found.add(value)
            elif key == "Fn::GetAtt":
                found.add(value[0] if isinstance(value, list) else value.split(".")[0])
            elif key == "Fn::Sub":  # "text", or ["text", {variable: value}] whose variables are not names
                text, variables = (value, {}) if isinstance(value, str) else value
                found |= {name.split(".")[0] for name in re.findall(r"\$\{([^}!]+)\}", text)} - set(variables)
                found |= names_used(variables)
            else:
                found |= names_used(value)
    elif isinstance(node, list):
        for value in node:
            found |= names_used(value)
    return found


def metrics_the_code_writes() -> set[str]:
    """Metric names in functions/ and the layer: add_metric(name="X"), count("X"), and the Requests{n}xx family."""
    names: set[str] = set()
    for path in [*ROOT.glob("functions/*/app.py"), *ROOT.glob("layers/emma_events/emma_events/*.py")]:
        text = path.read_text()
        names |= set(re.findall(r'add_metric\(name="(\w+)"', text))
        names |= set(re.findall(r'\bcount\("(\w+)"', text))
        if 'count(f"Requests{' in text:
            names |= {"Requests2xx", "Requests4xx", "Requests5xx"}
    return names


def alarms() -> dict[str, Any]:
    return resources("AWS::CloudWatch::Alarm")


def test_alarms_and_the_dashboard_name_only_what_the_template_defines() -> None:
    template = load_template()
    known = set(template["Resources"]) | set(template["Parameters"]) | PSEUDO
    watched = {**alarms(), **resources("AWS::CloudWatch::Dashboard")}
    assert watched
    for name, resource in watched.items():
        assert names_used(resource["Properties"]) <= known, name


def test_every_alarm_notifies_the_optional_topic_and_says_how_it_treats_missing_data() -> None:
    notify = {"Fn::If": ["HasAlarmTopic", [{"Ref": "AlarmTopicArn"}], {"Ref": "AWS::NoValue"}]}
    for name, alarm in alarms().items():
        properties = alarm["Properties"]
        assert properties["AlarmActions"] == notify == properties["OKActions"], name
        assert properties["TreatMissingData"] == "notBreaching", name
        assert properties["AlarmDescription"], name


def test_the_api_alarms_watch_the_api_and_stage_the_template_deploys() -> None:
    api = resources("AWS::Serverless::Api")["EventsApi"]["Properties"]
    for name in ("ApiServerErrorRateAlarm", "ApiLatencyAlarm"):
        dimensions = {d["Name"]: d["Value"] for d in alarms()[name]["Properties"]["Dimensions"]}
        assert dimensions == {"ApiName": api["Name"], "Stage": api["StageName"]}, name


def test_the_dashboard_is_json_and_shows_only_metrics_the_code_writes() -> None:
    (dashboard,) = resources("AWS::CloudWatch::Dashboard").values()
    body, _ = dashboard["Properties"]["DashboardBody"]["Fn::Sub"]
    widgets = json.loads(re.sub(r"\$\{[^}]+\}", "x", body))["widgets"]
    ours = {m[1] for w in widgets for m in w["properties"]["metrics"] if isinstance(m[0], str) and m[0] == "EmmaEvents"}
    assert ours
    assert ours <= metrics_the_code_writes()
    assert {"EventsRecorded", "Requests5xx", "EventsPublished", "EventsDeleted"} <= ours


def test_the_429_alarm_counts_the_access_logs_429s_against_all_requests() -> None:
    api = resources("AWS::Serverless::Api")["EventsApi"]["Properties"]
    condition, setting, _ = api["AccessLogSetting"]["Fn::If"]
    line = json.loads(setting["Format"]["Fn::Sub"].replace("$context.", ""))  # JSON, with the status
    assert condition == "AccessLogsEnabled"
    assert line["service"] == "${AWS::StackName}"
    assert "status" in line
    (transformation,) = resources("AWS::Logs::MetricFilter")["ApiThrottledRequestsFilter"]["Properties"][
        "MetricTransformations"
    ]
    assert resources("AWS::Logs::MetricFilter")["ApiThrottledRequestsFilter"]["Properties"]["FilterPattern"] == (
        '{ $.status = "429" }'
    )
    metrics = {m["Id"]: m for m in alarms()["ApiThrottledRateAlarm"]["Properties"]["Metrics"]}
    counted = metrics["throttled"]["MetricStat"]["Metric"]
    assert (counted["Namespace"], counted["MetricName"]) == (
        transformation["MetricNamespace"],
        transformation["MetricName"],
    )
    # every stack's filter writes the same metric name: the service dimension keeps each stack's own
    assert transformation["Dimensions"] == [{"Key": "service", "Value": "$.service"}]
    assert counted["Dimensions"] == [{"Name": "service", "Value": {"Ref": "AWS::StackName"}}]
    assert "throttled / requests" in metrics["rate"]["Expression"]

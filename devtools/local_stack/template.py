"""template.yaml as the single source of truth: the table schema, the functions and their routes.

Tests and the local stack read the deployed definitions from here instead of keeping copies.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from devtools import ROOT

TEMPLATE = ROOT / "template.yaml"

_TABLE_PROPERTIES = (
    "AttributeDefinitions",
    "KeySchema",
    "BillingMode",
    "GlobalSecondaryIndexes",
    "LocalSecondaryIndexes",
)


@lru_cache(maxsize=4)
def load_template(path: Path = TEMPLATE) -> dict[str, Any]:
    """The parsed template (SAM CLI's own YAML loader understands ``!Ref``, ``!Sub`` and friends), with its
    ``Fn::ForEach`` loops expanded as CloudFormation's ``AWS::LanguageExtensions`` expands them: by SAM CLI's own
    processor, and only that one (SAM CLI's full pipeline also resolves ``!Ref`` and ``!If`` with the parameters'
    defaults, which CloudFormation leaves to the deploy)."""
    from samcli.lib.cfn_language_extensions.api import create_default_intrinsic_resolver
    from samcli.lib.cfn_language_extensions.models import ResolutionMode, TemplateProcessingContext
    from samcli.lib.cfn_language_extensions.processors import ForEachProcessor
    from samcli.yamlhelper import yaml_parse

    context = TemplateProcessingContext(
        fragment=yaml_parse(Path(path).read_text()), resolution_mode=ResolutionMode.PARTIAL
    )
    ForEachProcessor(create_default_intrinsic_resolver(context)).process_template(context)
    expanded: dict[str, Any] = context.fragment
    return expanded


def resources(kind: str, path: Path = TEMPLATE) -> dict[str, dict[str, Any]]:
    return {name: r for name, r in load_template(path)["Resources"].items() if r["Type"] == kind}


def create_table_kwargs(table_name: str, logical_id: str = "EventsTable", path: Path = TEMPLATE) -> dict[str, Any]:
    """``CreateTable`` arguments built from the template's ``AWS::DynamoDB::Table`` definition."""
    props = load_template(path)["Resources"][logical_id]["Properties"]
    kwargs: dict[str, Any] = {"TableName": table_name}
    kwargs.update({key: props[key] for key in _TABLE_PROPERTIES if key in props})
    if "StreamSpecification" in props:
        kwargs["StreamSpecification"] = {"StreamEnabled": True, **props["StreamSpecification"]}
    return kwargs


def time_to_live_attribute(logical_id: str = "EventsTable", path: Path = TEMPLATE) -> str | None:
    spec = load_template(path)["Resources"][logical_id]["Properties"].get("TimeToLiveSpecification")
    return spec["AttributeName"] if spec and spec.get("Enabled") else None


def api_functions() -> dict[str, dict[str, Any]]:
    """Functions with an ``Api`` event: logical id -> {"code_uri", "path", "method"}."""
    found = {}
    for name, resource in resources("AWS::Serverless::Function").items():
        for event in resource["Properties"].get("Events", {}).values():
            if event["Type"] == "Api":
                found[name] = {
                    "code_uri": resource["Properties"]["CodeUri"],
                    "path": event["Properties"]["Path"],
                    "method": event["Properties"]["Method"].upper(),
                }
    return found


def stream_subscriptions(path: Path = TEMPLATE) -> list[tuple[str, dict[str, Any], str]]:
    """(function logical id, subscription properties, table logical id) of every DynamoDB stream consumer: an
    ``AWS::Lambda::EventSourceMapping`` (``FunctionName: !Ref <Function>`` or ``<Function>.Alias``, ``EventSourceArn:
    !GetAtt <Table>.StreamArn``) or a SAM ``DynamoDB`` event (``Stream: !GetAtt …``). Both have the same batching
    and filter properties."""
    found = []
    for mapping in resources("AWS::Lambda::EventSourceMapping", path).values():
        properties = mapping["Properties"]
        source = properties.get("EventSourceArn")
        if isinstance(source, dict) and "Fn::GetAtt" in source:
            consumer = str(properties["FunctionName"]["Ref"]).removesuffix(".Alias")  # the function or its alias
            found.append((consumer, properties, table_of_stream(source)))
    for name, function in resources("AWS::Serverless::Function", path).items():
        for event in function["Properties"].get("Events", {}).values():
            if event["Type"] == "DynamoDB":
                found.append((name, event["Properties"], table_of_stream(event["Properties"]["Stream"])))
    return found


def table_of_stream(stream: Any) -> str:
    """The table logical id of ``!GetAtt Table.StreamArn`` in either of its parsed forms."""
    if isinstance(stream, dict) and "Fn::GetAtt" in stream:
        target = stream["Fn::GetAtt"]
        return str(target[0] if isinstance(target, list) else target.split(".")[0])
    raise ValueError(f"unsupported stream reference {stream!r}: use !GetAtt <Table>.StreamArn")


def transformed(path: Path = TEMPLATE) -> dict[str, Any]:
    """The CloudFormation template that SAM deploys: template.yaml through the SAM translator (offline).

    Local code folders stand in as S3 URIs (as ``sam validate`` does) and no managed policy is looked up.
    """
    import copy
    import os

    from samtranslator.translator.transform import transform

    class NoManagedPolicies:
        def load(self) -> dict[str, str]:
            return {}

    template = copy.deepcopy(load_template(path))
    for resource in template["Resources"].values():
        properties = resource.get("Properties", {})
        for key in ("CodeUri", "ContentUri"):
            if isinstance(properties.get(key), str):
                properties[key] = f"s3://local-build/{properties[key]}"
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    result: dict[str, Any] = transform(template, {}, NoManagedPolicies())
    return result

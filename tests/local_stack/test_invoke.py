"""`make invoke` (devtools.local_stack.invoke): ``sam local invoke`` without Docker, with its interface and output."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import pytest

from devtools.local_stack import invoke
from devtools.testing.stack_process import ROOT, RunningStack

EVENTS = ROOT / "events"
APP = Path(__file__).parent / "fixtures" / "stack_app" / "template.yaml"

#: Every events/ file, the function it is for, and what it answers on the world the invoke seeds: an HTTP status,
#: or Lambda's error type for a function that raises.
EXPECTED: dict[str, tuple[str, int | str]] = {
    "add_member": ("AddMemberFunction", 200),
    "authorizer": ("AuthorizerFunction", "Allow"),
    "authorizer_wrong_key": ("AuthorizerFunction", "error:Unauthorized"),
    "cascade_delete": ("CascadeDeleteFunction", "no batch item failures"),
    "create_event_type": ("CreateEventTypeFunction", 200),
    "create_event_type_bad_body": ("CreateEventTypeFunction", 400),
    "create_event_type_with_schema": ("CreateEventTypeFunction", 200),
    "create_field": ("CreateFieldFunction", 200),
    "create_member_events": ("CreateMemberEventsFunction", 200),
    "create_member_events_schema_rejected": ("CreateMemberEventsFunction", 400),
    "create_member_events_unknown_member": ("CreateMemberEventsFunction", 400),
    "delete_event_type": ("DeleteEventTypeFunction", 200),
    "delete_member": ("DeleteMemberFunction", 200),
    "get_event_type": ("GetEventTypeFunction", 200),
    "get_event_type_unknown_id": ("GetEventTypeFunction", 404),
    "get_member": ("GetMemberFunction", 200),
    "get_member_by_email": ("GetMemberByEmailFunction", 200),
    "list_event_types": ("ListEventTypesFunction", 200),
    "list_fields": ("ListFieldsFunction", 200),
    "list_members": ("ListMembersFunction", 200),
    "list_member_events": ("ListMemberEventsFunction", 200),
    "get_member_event_stats": ("GetMemberEventStatsFunction", 200),
    "get_event_type_stats": ("GetEventTypeStatsFunction", 200),
    "create_search": ("CreateSearchFunction", 200),
    "list_searches": ("ListSearchesFunction", 200),
    "get_search": ("GetSearchFunction", 200),
    "update_search": ("UpdateSearchFunction", 200),
    "delete_search": ("DeleteSearchFunction", 200),
    "list_search_members": ("ListSearchMembersFunction", 200),
    "publish_events": ("PublishEventsFunction", "no batch item failures"),
    "update_event_type": ("UpdateEventTypeFunction", 200),
}

UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
REPORT = re.compile(
    rf"^REPORT RequestId: (?P<id>{UUID})\tDuration: (?P<duration>\d+\.\d\d) ms\tBilled Duration: (?P<billed>\d+) ms"
    r"\tMemory Size: (?P<memory>\d+) MB\tMax Memory Used: (?P<used>\d+) MB\tInit Duration: (?P<init>\d+\.\d\d) ms\t$"
)


def run(capfd: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = invoke.main(["--store", "moto", *argv])
    out, err = capfd.readouterr()
    return code, out, err


def test_every_events_file_has_its_expected_answer() -> None:
    assert sorted(EXPECTED) == sorted(p.stem for p in EVENTS.glob("*.json"))


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_events_file_answers_as_documented_with_lambdas_output(
    name: str, capfd: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    function, expected = EXPECTED[name]
    options = []
    if function == "CascadeDeleteFunction":  # no wait for a lagging index: nothing else writes here
        env_vars = tmp_path / "env.json"
        env_vars.write_text(json.dumps({function: {"CASCADE_INDEX_LAG_SECONDS": "0"}}))
        options = ["--env-vars", str(env_vars)]
    code, out, err = run(capfd, function, "-e", f"events/{name}.json", *options)

    # stdout: the function's result (or Lambda's error document), one JSON document, nothing else.
    result = json.loads(out)
    if expected == "Allow":
        assert (code, result["policyDocument"]["Statement"][0]["Effect"]) == (0, "Allow")
    elif expected == "no batch item failures":
        assert (code, result) == (0, {"batchItemFailures": []})
    elif isinstance(expected, str):
        assert code == 1
        assert set(result) == {"errorMessage", "errorType", "stackTrace"}
        assert result["errorType"] == expected.removeprefix("error:")
        assert "devtools" not in "".join(result["stackTrace"])  # the function's frames only, as on Lambda
    else:
        assert (code, result["statusCode"]) == (0, expected), result

    # stderr: SAM's "Invoking" line, Lambda's START / END / REPORT lines of one request, with a cold start.
    lines = err.splitlines()
    assert lines[0] == "Invoking app.lambda_handler (python3.12)"
    starts = [line for line in lines if line.startswith("START RequestId: ")]
    ends = [line for line in lines if line.startswith("END RequestId: ")]
    reports = [REPORT.match(line) for line in lines if line.startswith("REPORT ")]
    assert len(starts) == len(ends) == len(reports) == 1, err
    report = reports[0]
    assert report is not None, err
    assert starts[0] == f"START RequestId: {report['id']} Version: $LATEST"
    assert ends[0] == f"END RequestId: {report['id']}"
    assert lines.index(starts[0]) < lines.index(ends[0]) < len(lines) - 1
    assert lines[-1].startswith("REPORT ")
    assert int(report["billed"]) == math.ceil(round(float(report["duration"]) + float(report["init"]), 2))
    memory = 1769 if function in ("CascadeDeleteFunction", "ListSearchMembersFunction") else 512  # the template's
    assert int(report["memory"]) == memory
    assert 0 < int(report["used"]) <= memory


def test_a_function_error_exits_1_with_lambdas_error_document(
    capfd: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    event = tmp_path / "crash.json"
    event.write_text(json.dumps({"pathParameters": {"how": "crash"}}))
    code, out, err = run(capfd, "-t", str(APP), "MisbehavingFunction", "-e", str(event))
    assert code == 1
    error = json.loads(out)
    assert (error["errorType"], error["errorMessage"]) == ("RuntimeError", "boom")
    assert 'misbehaving/app.py", line' in error["stackTrace"][0]
    assert "RuntimeError: boom" in err  # the traceback in the function's log


def test_env_vars_and_parameter_overrides_reach_the_function(
    capfd: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env_vars = tmp_path / "env.json"
    env_vars.write_text(
        json.dumps({"Parameters": {"GLOBAL_SETTING": "for-all"}, "ProbeAFunction": {"ENV_JSON_SETTING": "for-a"}})
    )
    monkeypatch.setattr("sys.stdin", __import__("io").StringIO(json.dumps({"path": "/probe/a"})))
    code, out, _ = run(
        capfd,
        "-t",
        str(APP),
        "ProbeAFunction",
        "-e",
        "-",
        "--env-vars",
        str(env_vars),
        "--parameter-overrides",
        "ProbeSetting=overridden",
    )
    assert code == 0, out
    body = json.loads(json.loads(out)["body"])
    assert body["global_setting"] == "for-all"
    assert body["env_json_setting"] == "for-a"
    assert body["parameter_setting"] == "overridden"
    assert body["access_key"] == "local"  # never the developer's own credentials


def test_an_unknown_or_missing_function_lists_the_template_s_functions(capfd: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capfd, "NoSuchFunction", "-e", "events/get_event_type.json")
    assert (code, out) == (2, "")
    assert "'NoSuchFunction' not found" in err
    assert "GetEventTypeFunction" in err
    code, _, err = run(capfd, "-e", "events/get_event_type.json")
    assert code == 2
    assert "more than one function" in err


@pytest.mark.stores
def test_an_invoke_works_on_a_running_stacks_data(
    stack_with_state: tuple[RunningStack, Path], capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    running, state = stack_with_state
    monkeypatch.setenv("LOCAL_STACK_STATE", str(state))
    created = running.request("POST", "/100/events", {"event_type": "made-over-http", "display_name": "HTTP"})
    assert created.status == 200, created.text

    code, out, err = invoke.main(["ListEventTypesFunction", "-e", "events/list_event_types.json"]), *capfd.readouterr()
    assert code == 0, err
    assert "Store: the running local stack's DynamoDB" in err
    listed: list[Any] = json.loads(json.loads(out)["body"])
    assert [t["event_type"] for t in listed] == ["made-over-http"]  # the stack's data, not a seeded world

    event_type_id = created.json["event_type_id"]
    (Path(state).parent / "delete.json").write_text(
        json.dumps(
            json.loads((EVENTS / "delete_event_type.json").read_text())
            | {"pathParameters": {"account_id": "100", "event_type_id": str(event_type_id)}}
        )
    )
    code, out, err = (
        invoke.main(["DeleteEventTypeFunction", "-e", str(Path(state).parent / "delete.json")]),
        *capfd.readouterr(),
    )
    assert (code, json.loads(out)["statusCode"]) == (0, 200), err
    assert running.request("GET", f"/100/events/{event_type_id}").status == 404  # the stack sees the invoke's write

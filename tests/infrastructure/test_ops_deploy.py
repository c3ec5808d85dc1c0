"""ops.deploy, which the Makefile's deploy path runs: the commands and AWS calls each target makes, against stubbed
AWS clients (botocore Stubber) and a runner that records commands. Nothing here reaches AWS."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from fnmatch import fnmatchcase
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from devtools.local_stack.template import resources
from ops.deploy import SAM, STACK_POLICY, main

pytestmark = pytest.mark.moto_only  # no store: one run is enough

STACK = "emma-events-dev"  # samconfig.toml's [dev]
DEV_PARAMETERS = "StageName=dev LogLevel=DEBUG LogRetentionInDays=7 AuthorizerCacheTtl=60"


class Aws:
    """boto3.client for each service, stubbed; the test lists the calls each is expected to get."""

    def __init__(self) -> None:
        self.clients = {
            s: boto3.client(s, region_name="us-east-1") for s in ("sts", "lambda", "cloudformation", "dynamodb")
        }
        self.stubs = {s: Stubber(c) for s, c in self.clients.items()}
        self.commands: list[list[str]] = []
        self.environments: list[dict[str, str] | None] = []

    def __call__(self, service: str, **_: Any) -> Any:
        return self.clients[service]

    def run(self, argv: list[str], env: dict[str, str] | None) -> int:
        self.commands.append(argv)
        self.environments.append(env)
        return 0

    def account(self, unreserved: int = 1000) -> None:
        arn = "arn:aws:iam::123456789012:user/ada"
        self.stubs["sts"].add_response("get_caller_identity", {"Account": "123456789012", "Arn": arn, "UserId": "A"})
        limit = {"ConcurrentExecutions": unreserved, "UnreservedConcurrentExecutions": unreserved}
        self.stubs["lambda"].add_response("get_account_settings", {"AccountLimit": limit})

    def stack(self, status: str | None, outputs: dict[str, str] | None = None) -> None:
        if status is None:
            message = f"Stack with id {STACK} does not exist"
            self.stubs["cloudformation"].add_client_error("describe_stacks", "ValidationError", message)
            return
        found = {"StackName": STACK, "CreationTime": datetime.now(UTC), "StackStatus": status}
        found["Outputs"] = [{"OutputKey": k, "OutputValue": v} for k, v in (outputs or {}).items()]
        self.stubs["cloudformation"].add_response("describe_stacks", {"Stacks": [found]}, {"StackName": STACK})

    def created(self, outcome: str = "CREATE_COMPLETE") -> None:
        """SAM's change set is found and executed with RetainExceptOnCreate; the waiter sees ``outcome``."""
        change_set = {
            "ChangeSetId": "arn:cs/1",
            "Status": "CREATE_COMPLETE",
            "ExecutionStatus": "AVAILABLE",
            "CreationTime": datetime.now(UTC),
        }
        stub = self.stubs["cloudformation"]
        stub.add_response("list_change_sets", {"Summaries": [change_set]}, {"StackName": STACK})
        execute = {"ChangeSetName": "arn:cs/1", "StackName": STACK, "RetainExceptOnCreate": True}
        stub.add_response("execute_change_set", {}, execute)
        self.stack(outcome)  # the waiter's first look

    def policy(self) -> None:
        expected = {"StackName": STACK, "StackPolicyBody": json.dumps(STACK_POLICY)}
        self.stubs["cloudformation"].add_response("set_stack_policy", {}, expected)

    def main(self, *argv: str) -> tuple[int, str]:
        out = io.StringIO()
        for stub in self.stubs.values():
            stub.activate()
        code = main(list(argv), out, run=self.run, client=self)
        for stub in self.stubs.values():
            stub.assert_no_pending_responses()
        return code, out.getvalue()


def sam_deploy(protected: bool, *options: str) -> list[str]:
    parameters = (
        f"{DEV_PARAMETERS} ThrottleRatePerSecond=3 ThrottleBurst=180 TableDeletionProtection={str(protected).lower()}"
    )
    return [SAM, "deploy", "--config-env", "dev", "--parameter-overrides", parameters, *options]


def test_a_first_deploy_creates_the_table_unprotected_then_guards_and_protects_it() -> None:
    """Created unprotected, SAM's change set executed with RetainExceptOnCreate: a failed creation's rollback
    deletes what it made, the retained table too. Then the stack policy, then deletion protection."""
    aws = Aws()
    aws.account()
    aws.stack(None)
    aws.created()
    aws.policy()
    code, out = aws.main("deploy", "--env", "dev", "--yes")
    assert code == 0
    assert aws.commands == [
        sam_deploy(False, "--no-execute-changeset"),
        sam_deploy(True, "--no-fail-on-empty-changeset"),
    ]
    assert "account 123456789012" in out
    assert "Lambda concurrency: 1000 (unreserved 1000)" in out


def test_an_update_sets_the_stack_policy_before_it_deploys() -> None:
    aws = Aws()
    aws.account()
    aws.stack("UPDATE_COMPLETE")
    aws.policy()
    assert aws.main("deploy", "--env", "dev")[0] == 0
    assert aws.commands == [sam_deploy(True, "--no-fail-on-empty-changeset")]


def test_a_stack_left_by_a_failed_creation_is_deleted_before_the_next() -> None:
    aws = Aws()
    aws.account()
    aws.stack("ROLLBACK_COMPLETE")
    aws.stubs["cloudformation"].add_response("delete_stack", {}, {"StackName": STACK})
    aws.stack(None)  # the waiter's first look: gone
    aws.created()
    aws.policy()
    assert aws.main("deploy", "--env", "dev", "--yes")[0] == 0
    assert aws.commands[0] == sam_deploy(False, "--no-execute-changeset")


def test_a_failed_creation_leaves_no_stack_and_deploys_nothing_more() -> None:
    aws = Aws()
    aws.account()
    aws.stack(None)
    aws.created(outcome="ROLLBACK_COMPLETE")  # the rollback deleted what it made, the table included
    aws.stubs["cloudformation"].add_response("delete_stack", {}, {"StackName": STACK})
    aws.stack(None)
    code, _ = aws.main("deploy", "--env", "dev", "--yes")
    assert code == 1
    assert aws.commands == [sam_deploy(False, "--no-execute-changeset")]  # no policy, no second deploy


def test_a_reservation_the_accounts_quota_cannot_hold_stops_before_anything_is_made() -> None:
    aws = Aws()
    aws.account(unreserved=50)  # a new account's quota
    code, _ = aws.main("deploy", "--env", "dev", "--parameters", "AuthorizerReservedConcurrency=10")
    assert code == 1
    assert aws.commands == []


def test_without_credentials_nothing_is_run() -> None:
    aws = Aws()
    aws.stubs["sts"].add_client_error("get_caller_identity", "InvalidClientTokenId", "The security token is invalid")
    assert aws.main("deploy", "--env", "prod")[0] == 1
    assert aws.commands == []


def test_a_dry_run_reads_but_changes_nothing() -> None:
    aws = Aws()
    aws.account()
    aws.stack("UPDATE_COMPLETE")  # set_stack_policy is not stubbed: the stub would refuse it
    code, out = aws.main("deploy", "--env", "dev", "--dry-run")
    assert code == 0
    assert aws.commands == []
    assert "+ cloudformation set_stack_policy" in out
    assert f"+ {SAM} deploy --config-env dev" in out


def test_outputs_logs_and_the_deployed_tests_read_the_stack() -> None:
    aws = Aws()
    url = "https://abc.execute-api.us-east-1.amazonaws.com/dev"
    aws.stack("UPDATE_COMPLETE", {"ApiUrl": url, "TableName": "emma-events-dev-EventsTable-X"})
    code, out = aws.main("outputs", "--env", "dev")
    assert code == 0
    assert "ApiUrl" in out
    assert url in out
    aws.stack("UPDATE_COMPLETE", {"ApiUrl": url})
    assert aws.main("test", "--env", "dev", "--keys", "100:pub:priv")[0] == 0
    assert aws.main("logs", "--env", "dev")[0] == 0
    assert aws.commands[0][1:] == ["-m", "pytest", "tests/e2e"]
    assert aws.environments[0] is not None
    assert (aws.environments[0]["E2E_API_URL"], aws.environments[0]["E2E_API_KEYS"]) == (url, "100:pub:priv")
    assert aws.commands[1] == [SAM, "logs", "--stack-name", STACK, "--tail"]


def test_destroy_keeps_the_table_unless_its_name_is_given() -> None:
    table = "emma-events-dev-EventsTable-X"
    aws = Aws()
    aws.stack("UPDATE_COMPLETE", {"TableName": table})
    code, out = aws.main("destroy", "--env", "dev")
    assert code == 0
    assert f"DELETE_TABLE={table}" in out
    assert aws.commands == [[SAM, "delete", "--stack-name", STACK]]

    aws = Aws()
    aws.stack("UPDATE_COMPLETE", {"TableName": table})
    assert aws.main("destroy", "--env", "dev", "--delete-table", "another-table")[0] == 1
    assert aws.commands == []

    aws = Aws()
    aws.stack("UPDATE_COMPLETE", {"TableName": table})
    unprotect = {"TableName": table, "DeletionProtectionEnabled": False}
    aws.stubs["dynamodb"].add_response("update_table", {}, unprotect)
    aws.stubs["dynamodb"].add_response("delete_table", {}, {"TableName": table})
    assert aws.main("destroy", "--env", "dev", "--yes", "--delete-table", table)[0] == 0
    assert aws.commands == [[SAM, "delete", "--stack-name", STACK, "--no-prompts"]]


def _allowed(action: str, logical_id: str) -> bool:
    """CloudFormation's reading of a stack policy: an explicit Deny wins, else an Allow that matches."""
    matching = [
        s
        for s in STACK_POLICY["Statement"]
        if any(fnmatchcase(action, a) for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"]))
        and fnmatchcase(f"LogicalResourceId/{logical_id}", str(s["Resource"]))
    ]
    return bool(matching) and all(s["Effect"] == "Allow" for s in matching)


def test_the_stack_policy_refuses_only_a_change_that_would_replace_or_remove_the_table() -> None:
    (table,) = resources("AWS::DynamoDB::Table")
    assert not _allowed("Update:Replace", table)
    assert not _allowed("Update:Delete", table)
    assert _allowed("Update:Modify", table)  # e.g. turning deletion protection on
    assert _allowed("Update:Replace", "CreateEventTypeFunction")
    assert _allowed("Update:Delete", "WebAcl")

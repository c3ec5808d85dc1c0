"""Deploy the stack to an AWS account, read what it made, follow its logs, test it and take it down: what
``make deploy``, ``make outputs``, ``make logs``, ``make test-deployed`` and ``make destroy`` run (docs/deploy.md).

    python -m ops.deploy deploy  --env dev [--yes] [--parameters "Key=Value ..."]
    python -m ops.deploy outputs --env dev
    python -m ops.deploy logs    --env dev [--function CreateMemberEventsFunction]
    python -m ops.deploy test    --env dev --keys <account>:<public key>:<private key>
    python -m ops.deploy destroy --env dev [--yes] [--delete-table <TableName>]

``--env`` names a section of samconfig.toml (its stack name and parameters). ``--dry-run`` prints each command and
each AWS call that would change something instead of making it; what only reads is done. Credentials and region
come from the usual AWS environment (``AWS_PROFILE``, ``AWS_REGION``, ...).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ops import one_line_errors

ROOT = Path(__file__).resolve().parent.parent
SAM = str(Path(sys.executable).with_name("sam"))

#: Lambda keeps this much of an account's concurrency unreserved (Lambda's reserved-concurrency documentation).
UNRESERVED_MINIMUM = 100

#: The stack policy every deploy sets: any update, except one that would replace or remove the table (docs/deploy.md).
STACK_POLICY = {
    "Statement": [
        {"Effect": "Allow", "Action": "Update:*", "Principal": "*", "Resource": "*"},
        {
            "Effect": "Deny",
            "Action": ["Update:Replace", "Update:Delete"],
            "Principal": "*",
            "Resource": "LogicalResourceId/EventsTable",
        },
    ]
}


#: Runs a command (argv, environment or None for this one's) and gives its exit status.
Runner = Callable[[Sequence[str], "dict[str, str] | None"], int]


def _call(argv: Sequence[str], env: dict[str, str] | None) -> int:
    return subprocess.call(list(argv), env=env)  # noqa: S603 - the commands this module writes


class Stop(Exception):
    """A prerequisite is missing or the user said no: the message says what to do."""


@dataclass
class Environment:
    name: str
    stack: str
    parameters: str  # samconfig's parameter_overrides, "Key=Value Key=Value"

    @classmethod
    def of(cls, name: str, config: Path = ROOT / "samconfig.toml") -> Environment:
        sections = tomllib.loads(config.read_text())
        if name not in sections:
            known = ", ".join(s for s in sections if isinstance(sections[s], dict))
            raise Stop(f"samconfig.toml has no environment {name!r} ({known}): add its sections, as [dev]'s are")
        stack = sections[name]["global"]["parameters"]["stack_name"]
        deploy = sections[name].get("deploy", {}).get("parameters", {})
        return cls(name, stack, str(deploy.get("parameter_overrides", "")))


class Deployer:
    """The steps, with the commands run and the AWS clients made by what the caller gives (tests give fakes)."""

    def __init__(self, run: Runner, client: Callable[..., Any], dry_run: bool, out: Any):
        self.run, self.client, self.dry_run, self.out = run, client, dry_run, out

    def say(self, text: str) -> None:
        print(text, file=self.out)

    def command(self, *argv: str, env: dict[str, str] | None = None) -> None:
        self.say("+ " + " ".join(argv))
        if not self.dry_run and self.run(list(argv), env) != 0:
            raise Stop(f"{argv[0]} {argv[1]} failed: its output above says why")

    def change(self, service: str, operation: str, **params: Any) -> None:
        """An AWS call that changes something: printed, and made unless this is a dry run."""
        self.say(f"+ {service} {operation} {json.dumps(params, default=str)}")
        if not self.dry_run:
            getattr(self.client(service), operation)(**params)

    # --- what a deploy needs first
    def check_account(self, parameters: str) -> None:
        """Credentials, region and the Lambda concurrency the parameters ask for, said before anything is made."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            identity = self.client("sts").get_caller_identity()
            settings = self.client("lambda").get_account_settings()["AccountLimit"]
        except (BotoCoreError, ClientError) as error:
            raise Stop(f"AWS did not answer ({error}): set AWS_PROFILE or credentials, and AWS_REGION") from error
        self.say(f"account {identity['Account']} as {identity['Arn']}")
        unreserved = int(settings["UnreservedConcurrentExecutions"])
        self.say(f"Lambda concurrency: {settings['ConcurrentExecutions']} (unreserved {unreserved})")
        reserved = _parameter(parameters, "AuthorizerReservedConcurrency")
        if reserved and int(reserved) > unreserved - UNRESERVED_MINIMUM:
            raise Stop(
                f"AuthorizerReservedConcurrency={reserved} would leave less than {UNRESERVED_MINIMUM} unreserved of"
                f" {unreserved}: ask for more (Service Quotas, AWS Lambda, Concurrent executions) or lower it"
            )

    def status(self, stack: str) -> str | None:
        from botocore.exceptions import ClientError

        try:
            (found,) = self.client("cloudformation").describe_stacks(StackName=stack)["Stacks"]
        except ClientError as error:
            if "does not exist" in str(error):
                return None
            raise
        return str(found["StackStatus"])

    def outputs(self, stack: str) -> dict[str, str]:
        (found,) = self.client("cloudformation").describe_stacks(StackName=stack)["Stacks"]
        return {o["OutputKey"]: o["OutputValue"] for o in found.get("Outputs", [])}

    # --- the commands
    def deploy(self, env: Environment, extra: str, yes: bool) -> None:
        parameters = f"{env.parameters} {extra}".strip()
        self.check_account(parameters)
        status = self.status(env.stack)
        if status == "REVIEW_IN_PROGRESS":  # a change set made, never executed: nothing was created
            status = None
        if status is not None and status.endswith("_IN_PROGRESS"):
            raise Stop(f"stack {env.stack} is {status}: wait until it ends, then deploy again")
        if status in ("ROLLBACK_COMPLETE", "ROLLBACK_FAILED"):  # a creation that failed: it cannot be updated
            self.remove_failed(env.stack)
            status = None
        if status is None:
            self.say(f"stack {env.stack} does not exist yet: it will be created, with SAM's artifact bucket if new")
            if not yes and not self.dry_run and input("Create it? [y/N] ").strip().lower() != "y":
                raise Stop("nothing was created")
            self.create(env, f"{parameters} TableDeletionProtection=false")
        self.change("cloudformation", "set_stack_policy", StackName=env.stack, StackPolicyBody=json.dumps(STACK_POLICY))
        self.sam_deploy(env, f"{parameters} TableDeletionProtection=true", "--no-fail-on-empty-changeset")
        self.say("deployed: make outputs ENV=" + env.name + " shows ApiUrl; docs/deploy.md has the first request")

    def create(self, env: Environment, parameters: str) -> None:
        """Create the stack so that a failure leaves nothing: SAM makes the change set, which is executed with
        RetainExceptOnCreate (a rollback deletes what it created, the retained table too, which is unprotected
        until the next step); a failed creation's empty stack is deleted."""
        from botocore.exceptions import WaiterError

        self.sam_deploy(env, parameters, "--no-execute-changeset")
        cloudformation = self.client("cloudformation")
        if self.dry_run:
            self.say(
                f"+ cloudformation execute_change_set (the one just made) StackName={env.stack} RetainExceptOnCreate"
            )
            return
        summaries = cloudformation.list_change_sets(StackName=env.stack)["Summaries"]
        ready = [c for c in summaries if c["Status"] == "CREATE_COMPLETE" and c["ExecutionStatus"] == "AVAILABLE"]
        if not ready:
            raise Stop(f"sam deploy made no change set for {env.stack} to execute: its output above says why")
        change_set = max(ready, key=lambda c: str(c["CreationTime"]))
        self.change(
            "cloudformation",
            "execute_change_set",
            ChangeSetName=change_set["ChangeSetId"],
            StackName=env.stack,
            RetainExceptOnCreate=True,
        )
        try:
            cloudformation.get_waiter("stack_create_complete").wait(StackName=env.stack)
        except WaiterError as error:
            self.remove_failed(env.stack)
            raise Stop(f"stack {env.stack} was not created ({error}); nothing of it is left: see its events") from error

    def remove_failed(self, stack: str) -> None:
        from botocore.exceptions import WaiterError

        self.say(f"stack {stack} failed to create: deleting what is left of it")
        self.change("cloudformation", "delete_stack", StackName=stack)
        if self.dry_run:
            return
        try:
            self.client("cloudformation").get_waiter("stack_delete_complete").wait(StackName=stack)
        except WaiterError as error:
            raise Stop(
                f"stack {stack} could not be deleted ({error}): its events name the resource that stays;"
                " delete that by hand, then deploy again"
            ) from error

    def sam_deploy(self, env: Environment, parameters: str, *options: str) -> None:
        self.command(SAM, "deploy", "--config-env", env.name, "--parameter-overrides", parameters.strip(), *options)

    def show_outputs(self, env: Environment) -> None:
        for key, value in sorted(self.outputs(env.stack).items()):
            self.say(f"{key:<28}{value}")

    def logs(self, env: Environment, function: str | None) -> None:
        self.command(SAM, "logs", "--stack-name", env.stack, "--tail", *(["--name", function] if function else []))

    def test(self, env: Environment, keys: str) -> None:
        url = self.outputs(env.stack)["ApiUrl"]
        self.say(f"E2E_API_URL={url}")
        self.command(
            sys.executable, "-m", "pytest", "tests/e2e", env=os.environ | {"E2E_API_URL": url, "E2E_API_KEYS": keys}
        )

    def destroy(self, env: Environment, yes: bool, delete_table: str | None) -> None:
        table = self.outputs(env.stack).get("TableName")
        if delete_table is not None and delete_table != table:
            raise Stop(f"--delete-table must name the stack's table ({table}), as a confirmation")
        self.command(SAM, "delete", "--stack-name", env.stack, *(["--no-prompts"] if yes else []))
        if delete_table is None:
            self.say(f"the table {table} is kept with its data (deletion-protected, point-in-time backups for")
            self.say(f"35 days after a deletion). To delete it too: make destroy ENV={env.name} DELETE_TABLE={table}")
            return
        self.change("dynamodb", "update_table", TableName=table, DeletionProtectionEnabled=False)
        self.change("dynamodb", "delete_table", TableName=table)


def _parameter(parameters: str, key: str) -> str | None:
    """The last value given to ``key`` in "Key=Value Key=Value" (as SAM reads them: a later one wins)."""
    found = [item.split("=", 1)[1] for item in parameters.split() if item.startswith(f"{key}=")]
    return found[-1] if found else None


def main(
    argv: list[str] | None = None,
    out: Any = None,
    run: Runner = _call,
    client: Callable[..., Any] | None = None,
) -> int:
    """``run`` runs a command and ``client`` makes an AWS client (tests give fakes)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["deploy", "outputs", "logs", "test", "destroy"])
    parser.add_argument("--env", default="dev", help="a section of samconfig.toml (dev, prod, default)")
    parser.add_argument("--parameters", default="", help="deploy: more Key=Value parameter overrides")
    parser.add_argument("--function", help="logs: one function's (logical id); all of the stack's without it")
    parser.add_argument("--keys", help="test: account:public_key:private_key of an account to test with")
    parser.add_argument("--delete-table", help="destroy: also delete the table (give its name to confirm)")
    parser.add_argument("--yes", action="store_true", help="deploy, destroy: no confirmation asked")
    parser.add_argument("--dry-run", action="store_true", help="print what would change instead of changing it")
    args = parser.parse_args(argv)
    if args.command == "test" and not args.keys:
        parser.error("test needs --keys account:public_key:private_key (make keys ENV=... ARGS='create ...')")
    if client is None:
        import boto3

        client = boto3.client
    deployer = Deployer(run, client, args.dry_run, out or sys.stdout)
    try:
        env = Environment.of(args.env)
        if args.command == "deploy":
            deployer.deploy(env, args.parameters, args.yes)
        elif args.command == "outputs":
            deployer.show_outputs(env)
        elif args.command == "logs":
            deployer.logs(env, args.function)
        elif args.command == "test":
            deployer.test(env, args.keys)
        else:
            deployer.destroy(env, args.yes, args.delete_table)
    except Stop as stop:
        print(stop, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(one_line_errors(main, "deploy", local=False))

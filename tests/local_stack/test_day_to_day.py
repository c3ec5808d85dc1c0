"""Day-to-day work on the local stack: `make help`, `make seed` and `make reset`, `make invoke` on the seeded world,
and the operations tools finding the running stack by themselves (``--local``), with one-line errors."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from devtools.local_stack import invoke, world
from devtools.testing.seeding import DEV_KEY
from devtools.testing.stack_process import ROOT, RunningStack
from ops import api_keys


def test_make_help_is_the_default_and_lists_every_target() -> None:
    makefile = (ROOT / "Makefile").read_text()
    phony = set(re.search(r"^\.PHONY: (.+)$", makefile, flags=re.MULTILINE).group(1).split())  # type: ignore[union-attr]
    shown = subprocess.run(["make", "--no-print-directory"], cwd=ROOT, capture_output=True, text=True, check=True)  # noqa: S607
    listed = set(re.findall(r"^  make (\S+)", shown.stdout, flags=re.MULTILINE))
    assert phony <= listed, phony - listed


@pytest.mark.stores
def test_seed_writes_the_example_world_once_and_invoke_and_the_tools_find_it(
    stack_with_state: tuple[RunningStack, Path], capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    running, state = stack_with_state
    monkeypatch.setenv("LOCAL_STACK_STATE", str(state))
    assert world.main(["reset"]) == 1  # the stack holds its files: stop it first
    assert "a local stack is running" in capfd.readouterr().err

    assert world.main(["seed"]) == 0
    assert running.request("GET", "/100/events/2").json["event_type"] == "checkout"
    assert running.request("GET", "/100/members/1").json["email"] == "ada@example.com"
    assert world.main(["seed"]) == 1  # refused, nothing changed
    assert "already has data" in capfd.readouterr().err
    assert running.request("GET", "/100/events?count=true").json == 2

    created = running.request("POST", "/100/events", {"event_type": "over-http", "display_name": "HTTP"})
    assert created.status == 200
    code, out, err = invoke.main(["ListEventTypesFunction", "-e", "events/list_event_types.json"]), *capfd.readouterr()
    assert code == 0, err
    assert [t["event_type"] for t in json.loads(json.loads(out)["body"])] == ["purchase", "checkout", "over-http"]
    code, out, err = (
        invoke.main(["ListEventTypesFunction", "-e", "events/list_event_types.json", "--seeded"]),
        *capfd.readouterr(),
    )
    assert code == 0, err
    assert [t["event_type"] for t in json.loads(json.loads(out)["body"])] == ["purchase", "checkout"]  # its own

    listed = io.StringIO()
    assert api_keys.main(["list", "--local", "--account", "100"], out=listed) == 0
    keys = {json.loads(line)["public_key"] for line in listed.getvalue().splitlines()}
    assert keys == {"pub100", DEV_KEY[1]}  # the test stack's key, and the example world's


def tool(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean: dict[str, Any] = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    return subprocess.run(  # noqa: S603 - our own tools
        [sys.executable, "-m", *args], cwd=ROOT, env=clean | env, capture_output=True, text=True, check=False
    )


def test_operator_errors_are_one_line_that_says_what_to_do(tmp_path: Path) -> None:
    nowhere = str(tmp_path / "no-stack.json")
    for args, says in [
        (("ops.api_keys", "list", "--local", "--account", "100"), "keys: no local stack is running: start one"),
        (("ops.api_keys", "list", "--table", "T", "--account", "100"), "keys: no AWS region: set AWS_REGION"),
        (("ops.replay_cascades", "--local", "--account", "1", "--member", "2"), "replay-cascades: no local stack"),
        (("ops.count_events", "--local", "--dry-run"), "count-events: no local stack is running"),
        (("ops.deploy", "outputs", "--env", "dev"), "deploy: no AWS region: set AWS_REGION (or AWS_PROFILE)\n"),
    ]:
        done = tool(*args, LOCAL_STACK_STATE=nowhere)
        assert (done.returncode, done.stdout) == (2, ""), done.stderr
        assert done.stderr.startswith(says), done.stderr
        assert done.stderr.count("\n") == 1, done.stderr


def test_seed_without_a_stack_says_to_start_one(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOCAL_STACK_STATE", str(tmp_path / "no-stack.json"))
    assert world.main(["seed"]) == 1
    assert (
        capfd.readouterr().err
        == "seed: no local stack is running: start one with `make run` (in another terminal), then try again\n"
    )

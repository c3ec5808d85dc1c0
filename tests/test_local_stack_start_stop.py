"""Starting and stopping the local stack as a user does: clear one-line refusals before anything starts, and a
clean stop on SIGTERM or Ctrl-C."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from devtools.local_stack.server import parse_api_keys
from devtools.local_stack.store import free_port
from devtools.testing.stack_process import ROOT, running_stack


def start(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "devtools.local_stack.server", "--store", "moto", "--in-memory", *args]
    return subprocess.run(  # noqa: S603 - our own module
        command, cwd=ROOT, env={**os.environ, **(env or {})}, capture_output=True, text=True, timeout=60, check=False
    )


def test_a_port_in_use_is_named_before_anything_starts() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = start("--port", str(port), "--dynamodb-port", "0")
    assert result.returncode == 2
    assert result.stdout == ""  # no "ready" banner
    assert result.stderr.strip().splitlines() == [
        f"local stack: port {port} on 127.0.0.1 is already in use (another `make run`?): stop it, or choose "
        "another with PORT=<port>"
    ]


def test_malformed_local_api_keys_are_one_line_naming_the_format() -> None:
    result = start("--port", str(free_port()), "--dynamodb-port", "0", env={"LOCAL_API_KEYS": "garbage"})
    assert result.returncode == 2
    assert result.stdout == ""
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("local stack: LOCAL_API_KEYS: 'garbage' is not account_id:public_key:private_key")


@pytest.mark.parametrize("keys", ["100:only-public", "x:pub:priv", "1:pub:priv,,0:pub:priv", ":pub:priv", "1::priv"])
def test_every_malformed_entry_is_refused(keys: str) -> None:
    with pytest.raises(ValueError, match="is not account_id:public_key:private_key"):
        parse_api_keys(keys)


def test_well_formed_keys_are_read_whole() -> None:
    assert parse_api_keys(" 1:pub:priv:with:colons , 2:p:q ") == [(1, "pub", "priv:with:colons"), (2, "p", "q")]


def test_signals_stop_the_stack_cleanly_and_quickly() -> None:
    with running_stack() as stack:
        assert stack.request("GET", "/100/events").status == 200  # a warm worker to stop too
        stopping = time.monotonic()
        stack.process.send_signal(signal.SIGINT)  # Ctrl-C
        time.sleep(0.3)  # and, while it stops, a SIGTERM (or another Ctrl-C) from an impatient user
        stack.process.send_signal(signal.SIGTERM)
        assert stack.process.wait(timeout=10) == 0
        took = time.monotonic() - stopping
        log = stack.log()
    assert took < 3, f"stopped in {took:.1f}s"
    assert "Traceback" not in log
    assert log.rstrip().endswith("Local stack stopped.")

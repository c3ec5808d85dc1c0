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
from devtools.testing.patience import seconds
from devtools.testing.stack_process import ROOT, running_stack


def start(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "devtools.local_stack.server", "--store", "moto", "--in-memory", *args]
    return subprocess.run(  # noqa: S603 - our own module
        command,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=seconds(60),
        check=False,
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


#: A Ctrl-C and a SIGTERM both pending when Python next runs its signal handlers (a loaded machine: the main
#: thread got to them late), delivered to the stack's own handler.
BOTH_SIGNALS_PENDING = """
import os, signal
from devtools.local_stack.server import stop_serving
both = {signal.SIGINT, signal.SIGTERM}
signal.signal(signal.SIGINT, stop_serving)
signal.signal(signal.SIGTERM, stop_serving)
signal.pthread_sigmask(signal.SIG_BLOCK, both)
os.kill(os.getpid(), signal.SIGINT)
os.kill(os.getpid(), signal.SIGTERM)
try:
    signal.pthread_sigmask(signal.SIG_UNBLOCK, both)
    sum(range(1000))
except KeyboardInterrupt:
    print("stopping")
sum(range(1000))  # the pending SIGTERM is handled by now
print("cleaned up")
"""


def test_a_sigterm_pending_beside_the_ctrl_c_stops_once_without_an_error() -> None:
    done = subprocess.run(  # noqa: S603 - our own module
        [sys.executable, "-c", BOTH_SIGNALS_PENDING],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=seconds(30),
        check=False,
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, "stopping\ncleaned up\n", "")


def test_signals_stop_the_stack_cleanly_and_quickly() -> None:
    with running_stack() as stack:
        assert stack.request("GET", "/100/events").status == 200  # a warm worker to stop too
        stopping = time.monotonic()
        stack.process.send_signal(signal.SIGINT)  # Ctrl-C
        time.sleep(0.3)  # and, while it stops, a SIGTERM (or another Ctrl-C) from an impatient user
        stack.process.send_signal(signal.SIGTERM)
        assert stack.process.wait(timeout=seconds(10)) == 0
        took = time.monotonic() - stopping
        log = stack.log()
    assert took < 3, f"stopped in {took:.1f}s"
    assert "Traceback" not in log
    assert log.rstrip().endswith("Local stack stopped.")

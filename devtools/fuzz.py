"""``make fuzz``: schemathesis against the local stack, stateless and stateful, with credentials.

Starts the local stack on free ports, runs schemathesis (from .venv-fuzz) over docs/openapi.json with the checks
that matter (no server error; status code, content type and body as documented), with a fixed seed so that CI
is reproducible, then stops the stack. Exits with schemathesis's status.

    python -m devtools.fuzz [--examples 120] [--seed 20261126]
"""

from __future__ import annotations

import argparse
import base64
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCHEMATHESIS = ROOT / ".venv-fuzz" / "bin" / "schemathesis"
DEV_KEY = "0123456789abcdef0123:local-dev-private-key-0123456789ab"  # the local stack's default key, account 100
CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--examples", type=int, default=120, help="examples per operation and phase")
    parser.add_argument("--seed", type=int, default=20261126)
    args = parser.parse_args(argv)

    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "LOCAL_API_KEYS", "TABLE_NAME"))}
    log = tempfile.NamedTemporaryFile(prefix="fuzz-stack-", suffix=".log", delete=False)  # noqa: SIM115
    stack = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "devtools.local_stack", "--port", str(port), "--dynamodb-port", "0"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if stack.poll() is not None or time.monotonic() > deadline:
                    print(Path(log.name).read_text(), file=sys.stderr)
                    return 1
                time.sleep(0.2)
        auth = "Authorization: Basic " + base64.b64encode(DEV_KEY.encode()).decode()
        command = [
            str(SCHEMATHESIS),
            "--config-file",
            str(ROOT / "tests" / "fuzz" / "schemathesis.toml"),
            "run",
            str(ROOT / "docs" / "openapi.json"),
            "--url",
            f"http://127.0.0.1:{port}",
            "--header",
            auth,
            "--checks",
            CHECKS,
            "--phases",
            "examples,fuzzing,stateful",
            "--max-examples",
            str(args.examples),
            "--seed",
            str(args.seed),
        ]
        return subprocess.run(command, cwd=ROOT, check=False).returncode  # noqa: S603
    finally:
        stack.send_signal(signal.SIGINT)
        try:
            stack.wait(timeout=15)
        except subprocess.TimeoutExpired:
            stack.kill()


if __name__ == "__main__":
    sys.exit(main())

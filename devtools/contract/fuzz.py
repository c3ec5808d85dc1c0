"""``make fuzz``: schemathesis against the local stack, stateless and stateful, with credentials.

Starts the local stack on free ports (testing/stack_process.py), runs schemathesis (from .venv-fuzz) over the OpenAPI
document with the checks that matter (no server error; status code, content type and body as documented), with a
fixed seed (generated requests repeat; the stateful walk does not quite: schemathesis decides by true randomness
whether a step uses a link's values), then stops the stack. Exits with schemathesis's status.

The stateful phase follows the document's links (create a type -> get, rename, delete it; add a member -> get
it, list its events; post events -> list the member's events, get or delete their type). One link cannot be in
the published document, because posting events needs a member that exists: "create a type -> post events of
that type". The run adds it to a copy of the document, for a fixture member it adds to the account first, so the
chain "create a type, post events for it, read them back, delete it" is exercised; the run fails if no walk did.

    python -m devtools.contract.fuzz [--examples N] [--seed 20261126]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

from devtools import ROOT
from devtools.testing.stack_process import TEST_KEYS, basic, running_stack

SCHEMATHESIS = ROOT / ".venv-fuzz" / "bin" / "schemathesis"
DOCUMENT = ROOT / "docs" / "openapi.json"
ACCOUNT = 100  # pinned in tests/fuzz/schemathesis.toml
FIXTURE_MEMBER = "ada@example.com"  # the example of the email fields, so example requests find it
CHAIN_LINK = "PostEventsOfTheType"
# The operations of the chain. A follow-up run is confined to them: no other link competes with the chain's, and no
# DeleteMember can remove the fixture member (it is member 1, an id generated requests pick often).
CHAIN_OPERATIONS = (
    ("/{account_id}/events", "post"),
    ("/{account_id}/events/members", "post"),
    ("/{account_id}/events/members/{member_id}", "get"),
    ("/{account_id}/events/{event_type_id}", "delete"),
)
EXTRA_STATEFUL_RUNS = 3
CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"


def fuzz_document(document: dict[str, Any]) -> dict[str, Any]:
    """The published document plus the link "create a type -> post events of that type for the fixture member"."""
    create = document["paths"]["/{account_id}/events"]["post"]["responses"]["200"]
    post_events = document["paths"]["/{account_id}/events/members"]["post"]["operationId"]
    create.setdefault("links", {})[CHAIN_LINK] = {
        "operationId": post_events,
        "parameters": {"account_id": "$request.path.account_id"},
        "x-schemathesis": {"merge_body": False},  # send this body as it is, not merged into a generated one
        "requestBody": {
            "events": [
                {"email": FIXTURE_MEMBER, "event_type_id": "$response.body#/event_type_id"},
                {"email": FIXTURE_MEMBER, "event_type_id": "$response.body#/event_type_id", "mailing_id": 7},
            ]
        },
    }
    return document


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--examples", type=int, help="examples per operation and phase (default: the config file's)")
    parser.add_argument("--seed", type=int, default=20261126)
    parser.add_argument("--phases", default="examples,fuzzing,stateful")
    args = parser.parse_args(argv)

    with running_stack() as stack, tempfile.TemporaryDirectory(prefix="fuzz-") as workdir:

        def add_fixture_member() -> bool:  # again before each stateful run: generated requests may have deleted it
            added = stack.request("POST", f"/{ACCOUNT}/members/add", {"email": FIXTURE_MEMBER})
            if added.status != 200:
                print(f"could not add the fixture member: {added.status} {added.text}\n{stack.log()}", file=sys.stderr)
            return added.status == 200

        copy = fuzz_document(json.loads(DOCUMENT.read_text()))
        chain = tuple(copy["paths"][path][method]["operationId"] for path, method in CHAIN_OPERATIONS)
        document = Path(workdir) / "openapi.json"
        document.write_text(json.dumps(copy))

        def run(phases: str, seed: int, report: Path, only: tuple[str, ...] = ()) -> int:
            command = [
                str(SCHEMATHESIS),
                "--config-file",
                str(ROOT / "tests" / "fuzz" / "schemathesis.toml"),
                "run",
                str(document),
                "--url",
                stack.base_url,
                "--header",
                "Authorization: " + basic(*TEST_KEYS[ACCOUNT]),
                "--checks",
                CHECKS,
                "--phases",
                phases,
                *(["--max-examples", str(args.examples)] if args.examples else []),
                "--seed",
                str(seed),
                "--report-ndjson-path",  # read by links_followed
                str(report),
                *(option for operation in only for option in ("--include-operation-id", operation)),
            ]
            return subprocess.run(command, cwd=ROOT, check=False).returncode  # noqa: S603

        phases = args.phases.split(",")
        stateless = ",".join(phase for phase in phases if phase != "stateful")
        status = run(stateless, args.seed, Path(workdir) / "report-stateless.ndjson") if stateless else 0
        if "stateful" not in phases:
            return status
        # The walk is random (schemathesis decides by true-random coin whether a step uses a link's values), and
        # the create type's link competes with three others, so one walk may not post events of a new type: walks
        # over the chain's operations only follow, with the next seeds, until one does (or three more).
        followed: Counter[str] = Counter()
        answered: Counter[str] = Counter()
        for attempt in range(EXTRA_STATEFUL_RUNS + 1):
            if status != 0 or answered[CHAIN_LINK] or not add_fixture_member():
                break
            if attempt:
                print(f"\n{CHAIN_LINK} not reached yet: stateful run {attempt} more, with seed {args.seed + attempt}\n")
            report = Path(workdir) / f"report-{attempt}.ndjson"
            status = run("stateful", args.seed + attempt, report, chain if attempt else ())
            more_followed, more_answered = links_followed(report)
            followed += more_followed
            answered += more_answered
        print("\nlinks followed in the stateful phase (times followed, of which answered 200):")
        for link, times in sorted(followed.items()):
            print(f"  {times:4} {answered[link]:4}  {link}")
        if status == 0 and not answered[CHAIN_LINK]:
            print(f"the stateful phase never posted events of a new type ({CHAIN_LINK})", file=sys.stderr)
            return 1
        return status


def links_followed(report: Path) -> tuple[Counter[str], Counter[str]]:
    """From schemathesis's NDJSON report: for each link of the stateful phase, how often it was followed and how
    often the request it built was answered 200."""
    followed: Counter[str] = Counter()
    answered: Counter[str] = Counter()
    for line in report.read_text().splitlines():
        finished = json.loads(line).get("ScenarioFinished")
        if not finished or not finished.get("recorder"):
            continue
        recorder = finished["recorder"]
        for case_id, case in recorder.get("cases", {}).items():
            transition = case.get("transition")
            if not transition:
                continue
            name = transition["id"].split(" -> ")[1].split("] ", 1)[1]
            response = recorder.get("interactions", {}).get(case_id, {}).get("response") or {}
            followed[name] += 1
            answered[name] += response.get("status_code") == 200
    return followed, answered


if __name__ == "__main__":
    sys.exit(main())

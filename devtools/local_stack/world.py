"""`make seed` and `make reset`: the local stack's data for day-to-day work.

- ``seed``: writes the example world (``devtools.testing.seeding``: account 100's types 1 "purchase" and 2
  "checkout", member 1 ada@example.com) into the running `make run`'s store, the world the events/ files and
  `make invoke` presuppose. Refused, changing nothing, when account 100 already has types or members.
- ``reset``: deletes what `make run` keeps (.dynamodb-local/data), so that the next `make run` starts empty.
  Refused while a stack runs: its DynamoDB holds the files open.
"""

from __future__ import annotations

import shutil
import sys

from devtools.local_stack.state import NoLocalStack, local_target, running_stack


def seed() -> str:
    from devtools.local_stack.store import local_client
    from devtools.testing.seeding import seed_example_world
    from emma_events.stores import Stores

    endpoint, table = local_target()
    stores = Stores(table, local_client(endpoint))
    if stores.event_types.count_event_types(100) or stores.members.member_id_by_email(100, "ada@example.com"):
        raise ValueError("account 100 already has data: stop `make run`, `make reset`, start it again, then seed")
    seed_example_world(stores)
    return "seeded account 100: types 1 purchase and 2 checkout, member 1 ada@example.com (make invoke uses them)"


def reset() -> str:
    from devtools.local_stack.store import DEFAULT_DATA_DIR

    if running_stack() is not None:
        raise ValueError("a local stack is running: stop it (Ctrl-C in its terminal), then `make reset`")
    if not DEFAULT_DATA_DIR.exists():
        return "nothing to reset: the next `make run` starts empty"
    shutil.rmtree(DEFAULT_DATA_DIR)
    return f"deleted {DEFAULT_DATA_DIR.relative_to(DEFAULT_DATA_DIR.parents[1])}: the next `make run` starts empty"


def main(argv: list[str]) -> int:
    commands = {"seed": seed, "reset": reset}
    if len(argv) != 1 or argv[0] not in commands:
        print(f"usage: python -m devtools.local_stack.world {'|'.join(commands)}", file=sys.stderr)
        return 2
    try:
        print(commands[argv[0]]())
    except (NoLocalStack, ValueError) as error:
        print(f"{argv[0]}: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

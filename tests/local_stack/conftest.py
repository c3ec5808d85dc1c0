"""The local stack as `make run` leaves it: up, and saying where its store is in a state file (which `make invoke`,
`make seed` and the operations tools' ``--local`` read), one per test module."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from devtools.testing.stack_process import RunningStack, running_stack


@pytest.fixture(scope="module")
def stack_with_state(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningStack, Path]]:
    state = tmp_path_factory.mktemp("make-run") / "local-stack.json"
    with running_stack(state_file=state) as running:
        yield running, state

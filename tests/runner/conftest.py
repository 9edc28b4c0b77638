from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.runner.akd_side import Runner


@pytest.fixture
def runners(tmp_path: Path) -> Iterator[Callable[[], Runner]]:
    """Makes runner processes sharing the test's build and effects file; all ended after it."""
    started: list[Runner] = []

    def make() -> Runner:
        runner = Runner(tmp_path, f"ses_test{len(started)}")
        started.append(runner)
        return runner

    yield make
    for runner in started:
        runner.stop()

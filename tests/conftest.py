from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.harness import Akd


@pytest.fixture(scope="module")
def akd_module(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Akd]:
    """One real daemon shared by the tests of a module."""
    daemon = Akd(tmp_path_factory.mktemp("akd"))
    daemon.up()
    try:
        yield daemon
    finally:
        daemon.down()


@pytest.fixture
def akd(tmp_path: Path) -> Iterator[Akd]:
    """A real daemon of the test's own (for tests that kill or restart it)."""
    daemon = Akd(tmp_path / "data")
    daemon.up()
    try:
        yield daemon
    finally:
        daemon.down()

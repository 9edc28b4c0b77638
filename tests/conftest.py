from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e import harness
from tests.e2e.harness import Akd


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get("AKD_TEST_STORE", "sqlite") == "postgres":
        skip = pytest.mark.skip(reason="checks akd.db itself; this run keeps akd's state in Postgres")
        for item in items:
            if item.get_closest_marker("sqlite_file"):
                item.add_marker(skip)


@pytest.fixture(scope="session", autouse=True)
def store_backend() -> Iterator[None]:
    """``AKD_TEST_STORE=postgres``: every daemon of the run keeps its state in a database of
    its own on one throwaway Postgres (tests/pgserver.py) instead of SQLite."""
    if os.environ.get("AKD_TEST_STORE", "sqlite") != "postgres":
        yield
        return
    from tests.pgserver import pg_server

    with pg_server() as pg:
        harness.STORE_URLS = pg.new_database
        try:
            yield
        finally:
            harness.STORE_URLS = None


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

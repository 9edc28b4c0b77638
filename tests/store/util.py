"""How the store tests run a scenario: on a fresh database of their own, opened, holding
the projects their rows refer to (the foreign keys ask for them), and closed after."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from akd.store import projects as projects_store
from akd.store.db import Database, SqliteDatabase

D = TypeVar("D", bound=Database)
T = TypeVar("T")
Project = tuple[str, str, str]  # project id, name, source directory


def run_scenario(db: D, scenario: Callable[[D], Awaitable[T]], projects: tuple[Project, ...] = ()) -> T:
    """Open ``db``, add ``projects``, await ``scenario(db)`` and close ``db``; the scenario's result."""

    async def main() -> T:
        await db.open()
        try:
            if projects:
                async with db.tx() as conn:
                    for project_id, name, root in projects:
                        await projects_store.upsert_project(conn, project_id, name, "", root)
            return await scenario(db)
        finally:
            await db.close()

    return asyncio.run(main())


@dataclass(frozen=True)
class OnSqlite:
    """A test module's ``_run(tmp_path, scenario)``: the scenario on a new SQLite file in
    ``tmp_path`` holding ``projects``."""

    projects: tuple[Project, ...] = ()

    def __call__(self, tmp_path: Path, scenario: Callable[[Database], Awaitable[T]]) -> T:
        return run_scenario(SqliteDatabase(tmp_path / "akd.db"), scenario, self.projects)

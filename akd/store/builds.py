"""Builds: one row per deploy, naming its content-addressed snapshot on disk."""

from __future__ import annotations

import time
from dataclasses import dataclass

from akd.store.db import Connection, Database, Row

_WITH_PROJECT = "SELECT b.*, p.name AS project FROM builds b JOIN projects p USING (project_id)"


@dataclass(frozen=True)
class NewBuild:
    build_id: str
    project_id: str
    digest: str  # the snapshot's directory under builds/
    size: int
    manifest: str  # with secret values masked
    requirements: str | None  # requirements hash, when the build has any


async def insert_build(conn: Connection, build: NewBuild) -> None:
    await conn.execute(
        "INSERT INTO builds (build_id, project_id, digest, size, manifest, requirements, created_at)"
        " VALUES (?,?,?,?,?,?,?)",
        (build.build_id, build.project_id, build.digest, build.size, build.manifest, build.requirements, time.time()),
    )


async def builds_listed(db: Database, project_id: str = "") -> list[Row]:
    """Every build (or one project's), newest first, with its project's name as ``project``."""
    where, params = (" WHERE b.project_id=?", [project_id]) if project_id else ("", [])
    return await db.fetchall(f"{_WITH_PROJECT}{where} ORDER BY b.created_at DESC, b.build_id DESC", params)


async def build_found(db: Database, build_id: str) -> Row | None:
    """A build with its project's name as ``project``."""
    return await db.fetchone(f"{_WITH_PROJECT} WHERE build_id=?", (build_id,))

"""Builds: one row per deploy, naming its content-addressed snapshot on disk; and a copy
of each snapshot's files (``build_files``, one per digest) for the nodes that lack it."""

from __future__ import annotations

import time
from dataclasses import dataclass, fields

from akd.store.db import Connection, Database, Row


@dataclass(frozen=True, slots=True)
class BuildRecord:
    """One row of ``builds`` as the layers above read it."""

    build_id: str
    project_id: str
    digest: str  # the snapshot's directory under builds/
    size: int
    manifest: str  # with secret values masked
    requirements: str | None
    created_at: float
    project: str = ""  # the project's name, when read with it


# The stored columns in the record's field order: ``BuildRecord(*row)`` needs no lookup by name.
_COLUMNS = ", ".join(f"b.{f.name}" for f in fields(BuildRecord)[:-1])
_SELECT = f"SELECT {_COLUMNS} FROM builds b"
_WITH_PROJECT = f"SELECT {_COLUMNS}, p.name AS project FROM builds b JOIN projects p USING (project_id)"


def _build(row: Row | None) -> BuildRecord | None:
    return None if row is None else BuildRecord(*row)


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


async def builds_listed(db: Database, project_id: str = "") -> list[BuildRecord]:
    """Every build (or one project's), newest first, with its project's name as ``project``."""
    where, params = (" WHERE b.project_id=?", [project_id]) if project_id else ("", [])
    rows = await db.fetchall(f"{_WITH_PROJECT}{where} ORDER BY b.created_at DESC, b.build_id DESC", params)
    return [BuildRecord(*r) for r in rows]


async def build_found(db: Database, build_id: str) -> BuildRecord | None:
    """A build with its project's name as ``project``."""
    return _build(await db.fetchone(f"{_WITH_PROJECT} WHERE build_id=?", (build_id,)))


async def build_by_id(db: Database, build_id: str) -> BuildRecord | None:
    """A build without its project's name (``project`` is "")."""
    return _build(await db.fetchone(f"{_SELECT} WHERE build_id=?", (build_id,)))


async def save_files(conn: Connection, digest: str, archive: bytes) -> None:
    """Keep a snapshot's files (``akd.build.pack``); the same digest is the same files."""
    await conn.execute(
        "INSERT OR IGNORE INTO build_files (digest, archive, created_at) VALUES (?,?,?)", (digest, archive, time.time())
    )


async def files_of(db: Database, digest: str) -> bytes | None:
    row = await db.fetchone("SELECT archive FROM build_files WHERE digest=?", (digest,))
    return None if row is None else bytes(row["archive"])


async def digests_without_files(db: Database) -> list[str]:
    """Builds made before the store kept their files (to be filled from builds/)."""
    rows = await db.fetchall(
        "SELECT DISTINCT b.digest FROM builds b LEFT JOIN build_files f USING (digest) WHERE f.digest IS NULL"
    )
    return [str(r["digest"]) for r in rows]

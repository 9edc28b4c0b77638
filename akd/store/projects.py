"""Projects, builds, deployments, triggers and vars."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, fields

from akd.store import deployments, triggers
from akd.store.builds import BuildRecord, build_by_id
from akd.store.db import Connection, Database, Row
from akd.store.deployments import DeploymentRecord
from akd.store.states import LIVE, sql_set
from akd.store.triggers import LiveTrigger, ScheduleTrigger, TriggerRecord


@dataclass(frozen=True, slots=True)
class ProjectRecord:
    """One row of ``projects`` as the layers above read it."""

    project_id: str
    name: str
    display_name: str
    root_dir: str
    created_at: float
    updated_at: float
    active_deployment_id: str | None = None  # read by ``list_projects`` only


# The stored columns in the record's field order: ``ProjectRecord(*row)`` needs no lookup by name.
_PROJECT = ", ".join(f"p.{f.name}" for f in fields(ProjectRecord)[:-1])
_PROJECT_SELECT = f"SELECT {_PROJECT} FROM projects p"


def _project(row: Row | None) -> ProjectRecord | None:
    return None if row is None else ProjectRecord(*row)


async def project_by_name(db: Database, name: str) -> ProjectRecord | None:
    return _project(await db.fetchone(f"{_PROJECT_SELECT} WHERE name=?", (name,)))


async def project_by_id(db: Database, project_id: str) -> ProjectRecord | None:
    return _project(await db.fetchone(f"{_PROJECT_SELECT} WHERE project_id=?", (project_id,)))


async def list_projects(db: Database) -> list[ProjectRecord]:
    """Every project by name, with its active deployment's id (None when it has none)."""
    rows = await db.fetchall(
        f"SELECT {_PROJECT}, d.deployment_id AS active_deployment_id FROM projects p"
        " LEFT JOIN deployments d ON d.project_id=p.project_id AND d.state='active' ORDER BY p.name"
    )
    return [ProjectRecord(*r) for r in rows]


async def upsert_project(conn: Connection, project_id: str, name: str, display_name: str, root_dir: str) -> str:
    """Create the project or update it; returns the id of the stored project."""
    now = time.time()
    async with conn.execute("SELECT project_id FROM projects WHERE name=?", (name,)) as cur:
        row = await cur.fetchone()
    if row is not None:
        await conn.execute(
            "UPDATE projects SET display_name=?, root_dir=?, updated_at=? WHERE project_id=?",
            (display_name, root_dir, now, row[0]),
        )
        return str(row[0])
    await conn.execute(
        "INSERT INTO projects VALUES (?,?,?,?,?,?)", (project_id, name, display_name, root_dir, now, now)
    )
    return project_id


async def project_by_name_or_id(db: Database, ident: str) -> ProjectRecord | None:
    return _project(await db.fetchone(f"{_PROJECT_SELECT} WHERE name=? OR project_id=?", (ident, ident)))


async def live_session_count(conn: Connection, project_id: str) -> int:
    """The project's live sessions, counted in the write transaction that must see none."""
    sql = f"SELECT COUNT(*) FROM sessions WHERE project_id=? AND state IN {sql_set(LIVE)}"
    async with conn.execute(sql, (project_id,)) as cur:
        row = await cur.fetchone()
    return int(row[0]) if row else 0


# What a project owns, by table: rows keyed by its sessions, then rows keyed by it.
_SESSION_OWNED = ("session_log", "journal", "inbox", "subscriptions")
_PROJECT_OWNED = ("subscriptions", "sessions", "events", "kv", "deployments", "triggers", "vars", "builds")


async def delete_project_rows(conn: Connection, project_id: str) -> None:
    """Delete a project with everything it owns (sessions and their logs included)."""
    owned = "(SELECT session_id FROM sessions WHERE project_id=?)"
    for table in _SESSION_OWNED:
        await conn.execute(f"DELETE FROM {table} WHERE session_id IN {owned}", (project_id,))
    for table in _PROJECT_OWNED:
        await conn.execute(f"DELETE FROM {table} WHERE project_id=?", (project_id,))
    await conn.execute("DELETE FROM projects WHERE project_id=?", (project_id,))


async def get_build(db: Database, build_id: str) -> BuildRecord | None:
    return await build_by_id(db, build_id)


async def active_deployment(db: Database, project_id: str) -> DeploymentRecord | None:
    sql = f"SELECT {deployments.COLUMNS} FROM deployments d WHERE project_id=? AND state='active'"
    return deployments.plain(await db.fetchone(sql, (project_id,)))


async def triggers_of(db: Database, project_id: str) -> list[TriggerRecord]:
    return await triggers.project_triggers(db, project_id)


async def counts(db: Database, project_id: str) -> dict[str, int]:
    """What deleting the project loses: its sessions, events and store keys, counted."""
    row = await db.fetchone(
        "SELECT (SELECT COUNT(*) FROM sessions WHERE project_id=?) AS sessions,"
        " (SELECT COUNT(*) FROM events WHERE project_id=?) AS events,"
        " (SELECT COUNT(*) FROM kv WHERE project_id=?) AS store_keys",
        (project_id, project_id, project_id),
    )
    return {k: int(row[k]) if row else 0 for k in ("sessions", "events", "store_keys")}


async def schedule_triggers(db: Database) -> list[ScheduleTrigger]:
    """Every schedule trigger, ``live`` while its project has an active deployment."""
    rows = await db.fetchall(
        f"SELECT {triggers.COLUMNS}, EXISTS (SELECT 1 FROM deployments d WHERE d.project_id=t.project_id"
        " AND d.state='active') AS live FROM triggers t WHERE t.type='schedule'"
    )
    return [ScheduleTrigger(triggers.record(list(r)[:-1]), bool(r[-1])) for r in rows]


async def trigger_by_slug(db: Database, slug: str) -> LiveTrigger | None:
    """A webhook by its slug, with its project's active deployment (read per request)."""
    row = await db.fetchone(
        f"SELECT {triggers.COLUMNS}, d.deployment_id, d.build_id FROM triggers t"
        " LEFT JOIN deployments d ON d.project_id=t.project_id AND d.state='active' WHERE t.slug=?",
        (slug,),
    )
    if row is None:
        return None
    *values, deployment_id, build_id = row
    return LiveTrigger(triggers.record(values), deployment_id, build_id)


_TRIGGER_WITH_PROJECT = (
    f"SELECT {triggers.COLUMNS}, p.name AS project FROM triggers t JOIN projects p USING (project_id)"
)


def _trigger(row: Row | None) -> TriggerRecord | None:
    return None if row is None else triggers.record(list(row))


async def triggers_listed(db: Database, project: str = "") -> list[TriggerRecord]:
    """Every trigger (with its project's name), or one project's, by project then name."""
    rows = await db.fetchall(
        f"{_TRIGGER_WITH_PROJECT} WHERE ?='' OR p.name=? ORDER BY p.name, t.name", (project, project)
    )
    return [triggers.record(list(r)) for r in rows]


async def trigger_found(db: Database, ident: str, project: str = "") -> TriggerRecord | None:
    """A trigger by id, or by name (within ``project`` when given), with its project's name."""
    return _trigger(
        await db.fetchone(
            f"{_TRIGGER_WITH_PROJECT} WHERE t.trigger_id=? OR (t.name=? AND (?='' OR p.name=?))",
            (ident, ident, project, project),
        )
    )


async def var_names(db: Database, project_id: str, names: Sequence[str]) -> set[str]:
    """Which of ``names`` the project has as vars."""
    if not names:
        return set()
    rows = await db.fetchall(
        f"SELECT name FROM vars WHERE project_id=? AND name IN ({','.join('?' * len(names))})", (project_id, *names)
    )
    return {str(r["name"]) for r in rows}


async def trigger_by_id(db: Database, trigger_id: str) -> TriggerRecord | None:
    return _trigger(await db.fetchone(f"SELECT {triggers.COLUMNS} FROM triggers t WHERE trigger_id=?", (trigger_id,)))


async def triggers_named(db: Database, name: str, project: str = "") -> list[TriggerRecord]:
    """Triggers called ``name`` (in ``project`` when given), with their project's name."""
    rows = await db.fetchall(f"{_TRIGGER_WITH_PROJECT} WHERE t.name=? AND (?='' OR p.name=?)", (name, project, project))
    return [triggers.record(list(r)) for r in rows]

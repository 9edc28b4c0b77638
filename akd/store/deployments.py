"""Deployments and their states (DESIGN.md section 2).

One ``active`` deployment per project; a deployment that stops being active goes
``draining`` while it still has live sessions (``akd.store.states.LIVE``), else straight
to ``inactive``; ``akd.store.sessions.finish`` ends the draining.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field, fields

from akd.store.db import Connection, Database, Row
from akd.store.states import LIVE, ORDER, sql_set


@dataclass(frozen=True, slots=True)
class DeploymentRecord:
    """One row of ``deployments`` as the layers above read it."""

    deployment_id: str
    project_id: str
    build_id: str
    state: str  # active | draining | inactive
    created_at: float
    updated_at: float
    project: str = ""  # the project's name, when read with it
    # Its sessions per state (every state in ``ORDER``), when read with them; else empty.
    session_counts: Mapping[str, int] = field(default_factory=dict)


# The stored columns in the record's field order: the record is built by position.
COLUMNS = ", ".join(f"d.{f.name}" for f in fields(DeploymentRecord)[:-2])
_STATES = tuple(state.value for state in ORDER)

# Rows read with their session count per state as ``n_<state>``, one column per state.
_WITH_COUNTS = (
    f"SELECT {COLUMNS}, p.name AS project, "
    + ", ".join(f"SUM(CASE WHEN s.state='{state.value}' THEN 1 ELSE 0 END) AS n_{state.value}" for state in ORDER)
    + " FROM deployments d JOIN projects p USING (project_id)"
    " LEFT JOIN sessions s ON s.deployment_id=d.deployment_id"
)
# The state a deployment leaves ``active`` for.
_DRAINED = (
    "CASE WHEN EXISTS (SELECT 1 FROM sessions s WHERE s.deployment_id=deployments.deployment_id"
    f" AND s.state IN {sql_set(LIVE)}) THEN 'draining' ELSE 'inactive' END"
)


def _counted(row: Row) -> DeploymentRecord:
    deployment_id, project_id, build_id, state, created_at, updated_at, project, *counts = row
    counted = dict(zip(_STATES, map(int, counts), strict=True))
    return DeploymentRecord(deployment_id, project_id, build_id, state, created_at, updated_at, project, counted)


def plain(row: Row | None) -> DeploymentRecord | None:
    """A record of a row read as ``SELECT {COLUMNS}`` (no project name, no counts)."""
    return None if row is None else DeploymentRecord(*row)


async def deployments_listed(db: Database, project_id: str = "", state: str = "") -> list[DeploymentRecord]:
    """Deployments (of one project, in one state, when given), newest first, with counts."""
    where, params = [], []
    if project_id:
        where.append("d.project_id=?")
        params.append(project_id)
    if state:
        where.append("d.state=?")
        params.append(state)
    clause = f" WHERE {' AND '.join(where)}" if where else ""
    rows = await db.fetchall(
        f"{_WITH_COUNTS}{clause} GROUP BY d.deployment_id, p.name ORDER BY d.created_at DESC, d.deployment_id DESC",
        params,
    )
    return [_counted(r) for r in rows]


async def deployment_counted(db: Database, deployment_id: str) -> DeploymentRecord | None:
    """One deployment with its session counts."""
    row = await db.fetchone(
        f"{_WITH_COUNTS} WHERE d.deployment_id=? GROUP BY d.deployment_id, p.name", (deployment_id,)
    )
    return None if row is None else _counted(row)


async def active_counted(db: Database, project_id: str) -> DeploymentRecord | None:
    """The project's active deployment with its session counts."""
    row = await db.fetchone(
        f"{_WITH_COUNTS} WHERE d.project_id=? AND d.state='active' GROUP BY d.deployment_id, p.name", (project_id,)
    )
    return None if row is None else _counted(row)


async def deployment_ids_of_build(db: Database, build_id: str) -> list[str]:
    """The deployments made of a build, oldest first."""
    rows = await db.fetchall("SELECT deployment_id FROM deployments WHERE build_id=? ORDER BY created_at", (build_id,))
    return [str(r["deployment_id"]) for r in rows]


async def state_in_tx(conn: Connection, deployment_id: str) -> str | None:
    """A deployment's state as the write transaction sees it; None once it is gone."""
    async with conn.execute("SELECT state FROM deployments WHERE deployment_id=?", (deployment_id,)) as cur:
        row = await cur.fetchone()
    return None if row is None else str(row[0])


async def insert_deployment(conn: Connection, deployment_id: str, project_id: str, build_id: str) -> None:
    """A new deployment, ``inactive`` until ``activate``."""
    now = time.time()
    await conn.execute(
        "INSERT INTO deployments (deployment_id, project_id, build_id, state, created_at, updated_at)"
        " VALUES (?,?,?,'inactive',?,?)",
        (deployment_id, project_id, build_id, now, now),
    )


async def activate(conn: Connection, project_id: str, deployment_id: str) -> None:
    """``deployment_id`` becomes active; the project's previous active one drains (or ends if idle)."""
    now = time.time()
    await conn.execute(
        f"UPDATE deployments SET state = {_DRAINED}, updated_at=?"
        " WHERE project_id=? AND state='active' AND deployment_id!=?",
        (now, project_id, deployment_id),
    )
    await conn.execute(
        "UPDATE deployments SET state='active', updated_at=? WHERE deployment_id=?", (now, deployment_id)
    )


async def deactivate(conn: Connection, deployment_id: str) -> None:
    """An active deployment drains (or ends if idle); one in another state is left as it is."""
    await conn.execute(
        f"UPDATE deployments SET state = {_DRAINED}, updated_at=? WHERE deployment_id=? AND state='active'",
        (time.time(), deployment_id),
    )


async def delete_deployment(conn: Connection, deployment_id: str) -> None:
    await conn.execute("DELETE FROM deployments WHERE deployment_id=?", (deployment_id,))

"""What ``akctl stats``, ``GET /stats`` and the web UI's stats and project pages count.

The web's counts happen in SQLite (grouped per state, per time bucket); only duration
percentiles need the values themselves, two floats per ended session.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from akd.store.db import Database


@dataclass(frozen=True, slots=True)
class SessionFact:
    """What the stats count of one session."""

    state: str
    created_at: float
    started_at: float | None
    ended_at: float | None
    steps: int
    project_id: str
    deployment_id: str
    trigger_id: str
    project: str | None  # None once its project is gone
    trigger: str | None  # the trigger's name; None for a manual run or a trigger that is gone


async def session_facts(
    db: Database, *, project_id: str = "", deployment_id: str = "", since: float = 0.0
) -> list[SessionFact]:
    """Each matching session's state, times, steps, project and trigger (name), in bulk."""
    where, params = ["1=1"], list[Any]()
    for column, value in (("s.project_id", project_id), ("s.deployment_id", deployment_id)):
        if value:
            where.append(f"{column}=?")
            params.append(value)
    if since:
        where.append("s.created_at >= ?")
        params.append(since)
    rows = await db.fetchall_bulk(
        "SELECT s.state, s.created_at, s.started_at, s.ended_at, s.steps, s.project_id, s.deployment_id,"
        " s.trigger_id, p.name AS project, t.name AS trigger FROM sessions s"
        " LEFT JOIN projects p USING (project_id) LEFT JOIN triggers t ON t.trigger_id = s.trigger_id"
        f" WHERE {' AND '.join(where)}", params,
    )  # fmt: skip
    return [SessionFact(*r) for r in rows]


async def counts_by_state(db: Database) -> dict[str, int]:
    """Sessions by state, from the state index alone (cheap to poll)."""
    rows = await db.fetchall("SELECT state, COUNT(*) AS n FROM sessions GROUP BY state")
    return {str(r["state"]): int(r["n"]) for r in rows}


async def counts_by_project(db: Database) -> dict[str, dict[str, int]]:
    """project_id -> state -> sessions, for every project at once."""
    rows = await db.fetchall("SELECT project_id, state, COUNT(*) AS n FROM sessions GROUP BY project_id, state")
    counts: dict[str, dict[str, int]] = {}
    for r in rows:
        counts.setdefault(str(r["project_id"]), {})[str(r["state"])] = int(r["n"])
    return counts


@dataclass(frozen=True)
class StateBucket:
    bucket: int  # the interval's index from the window's start
    state: str
    n: int  # sessions created in that interval and now in that state


@dataclass(frozen=True)
class DurationPoint:
    created_at: float
    duration: float  # from start (or creation, if it never started) to end


async def first_session_since(db: Database, since: float, project_id: str = "") -> float | None:
    """When the first session created at or after ``since`` was created (None: there is none)."""
    row = await db.fetchone(
        "SELECT MIN(created_at) AS t FROM sessions WHERE created_at >= ? AND (?='' OR project_id=?)",
        (since, project_id, project_id),
    )
    return float(row["t"]) if row is not None and row["t"] is not None else None


async def state_buckets(db: Database, start: float, step: float, project_id: str = "") -> list[StateBucket]:
    """Sessions created per (interval of ``step`` seconds, state) since ``start``."""
    # Bucketed here, not in SQL: casting to an integer truncates on SQLite but rounds on
    # Postgres, which would move sessions into the next interval there.
    rows = await db.fetchall_bulk(
        "SELECT created_at, state FROM sessions WHERE created_at >= ? AND (?='' OR project_id=?)",
        (start, project_id, project_id),
    )
    counts = Counter((int((float(r["created_at"]) - start) // step), str(r["state"])) for r in rows)
    return [StateBucket(bucket, state, n) for (bucket, state), n in sorted(counts.items())]


async def durations(db: Database, start: float, project_id: str = "") -> list[DurationPoint]:
    """Every session created since ``start`` that has ended, with how long it ran."""
    rows = await db.fetchall(
        "SELECT created_at, ended_at - COALESCE(started_at, created_at) AS d FROM sessions"
        " WHERE created_at >= ? AND ended_at IS NOT NULL AND (?='' OR project_id=?)",
        (start, project_id, project_id),
    )
    return [DurationPoint(float(r["created_at"]), float(r["d"])) for r in rows]

"""What ``akctl stats`` and ``GET /stats`` count: sessions with their project and trigger names."""

from __future__ import annotations

from typing import Any

from akd.store.db import Database, Row


async def session_facts(
    db: Database, *, project_id: str = "", deployment_id: str = "", since: float = 0.0
) -> list[Row]:
    """Each matching session's state, times, steps, project and trigger (name), in bulk."""
    where, params = ["1=1"], list[Any]()
    for column, value in (("s.project_id", project_id), ("s.deployment_id", deployment_id)):
        if value:
            where.append(f"{column}=?")
            params.append(value)
    if since:
        where.append("s.created_at >= ?")
        params.append(since)
    return await db.fetchall_bulk(
        "SELECT s.state, s.created_at, s.started_at, s.ended_at, s.steps, s.project_id, s.deployment_id,"
        " s.trigger_id, p.name AS project, t.name AS trigger FROM sessions s"
        " LEFT JOIN projects p USING (project_id) LEFT JOIN triggers t ON t.trigger_id = s.trigger_id"
        f" WHERE {' AND '.join(where)}", params,
    )  # fmt: skip


async def counts_by_state(db: Database) -> dict[str, int]:
    """Sessions by state, from the state index alone (cheap to poll)."""
    rows = await db.fetchall("SELECT state, COUNT(*) AS n FROM sessions GROUP BY state")
    return {str(r["state"]): int(r["n"]) for r in rows}

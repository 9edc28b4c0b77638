"""Flow-control bookkeeping: the windows of dedupe and rate-limit keys, the waiting debounces;
and the triggers dispatch matches events against, with the deployment they start sessions in."""

from __future__ import annotations

from dataclasses import dataclass

from akd.store.db import Connection, Database, Row


@dataclass(frozen=True)
class DueDebounce:
    """The last event of a burst on a debounced trigger, due to start its session."""

    trigger_id: str
    flow_key: str
    event_id: str
    due_at: float


async def build_manifest(db: Database, build_id: str) -> str:
    """The manifest copy a build keeps ("" when the build is gone)."""
    row = await db.fetchone("SELECT manifest FROM builds WHERE build_id=?", (build_id,))
    return "" if row is None else str(row["manifest"])


@dataclass(frozen=True)
class TriggerTarget:
    """A trigger as dispatch sees it: what it calls and for which events, and the active
    deployment (with its build) the sessions it starts run in."""

    trigger_id: str
    project_id: str
    name: str
    call: str  # "file.py:function"; "" = only there to be subscribed to
    event_type: str  # "" = any
    filter: str  # CEL; "" = every event
    is_durable: bool
    deployment_id: str
    build_id: str


_TARGET = (
    "SELECT t.trigger_id, t.project_id, t.name, t.call, t.event_type, t.filter, t.is_durable, d.deployment_id,"
    " d.build_id FROM triggers t JOIN deployments d ON d.project_id=t.project_id AND d.state='active'"
)


def _target(r: Row) -> TriggerTarget:
    return TriggerTarget(
        str(r["trigger_id"]), str(r["project_id"]), str(r["name"]), str(r["call"]), str(r["event_type"]),
        str(r["filter"]), bool(r["is_durable"]), str(r["deployment_id"]), str(r["build_id"]),
    )  # fmt: skip


async def active_trigger(db: Database, trigger_id: str) -> TriggerTarget | None:
    """The trigger with its project's active deployment (None when there is none)."""
    row = await db.fetchone(_TARGET + " WHERE t.trigger_id=?", (trigger_id,))
    return None if row is None else _target(row)


async def connection_targets(db: Database, project_id: str, connection: str) -> list[TriggerTarget]:
    """The triggers on ``connection`` with the project's active deployment (none when inactive), by name."""
    rows = await db.fetchall(
        _TARGET + " WHERE t.project_id=? AND t.type='connection' AND t.connection=? ORDER BY t.name",
        (project_id, connection),
    )
    return [_target(r) for r in rows]


async def trigger_exists(db: Database, trigger_id: str) -> bool:
    return await db.fetchone("SELECT 1 FROM triggers WHERE trigger_id=?", (trigger_id,)) is not None


async def marks_since(conn: Connection, trigger_id: str, kind: str, flow_key: str, since: float) -> list[str]:
    """The events that ``kind`` ("dedupe" or "rate") let through for the key since ``since``, oldest first."""
    rows = await conn.execute_fetchall(
        "SELECT event_id FROM flow_marks WHERE trigger_id=? AND kind=? AND flow_key=? AND t > ? ORDER BY t, event_id",
        (trigger_id, kind, flow_key, since),
    )
    return [row["event_id"] for row in rows]


async def add_mark(
    conn: Connection, trigger_id: str, kind: str, flow_key: str, event_id: str, t: float, until: float
) -> None:
    """Record that ``kind`` let ``event_id`` through at ``t``; the mark matters until ``until``."""
    await conn.execute(
        "INSERT OR IGNORE INTO flow_marks (trigger_id, kind, flow_key, event_id, t, until) VALUES (?,?,?,?,?,?)",
        (trigger_id, kind, flow_key, event_id, t, until),
    )


async def forget_marks(db: Database, now: float) -> None:
    """Drop the marks no window needs any more."""
    await db.execute("DELETE FROM flow_marks WHERE until < ?", (now,))


async def replace_debounce(
    conn: Connection, trigger_id: str, flow_key: str, event_id: str, due_at: float
) -> tuple[str, str] | None:
    """Make ``event_id`` the waiting event of the key; (the event that lost, the newer one)
    when another was waiting. A late dispatch of an older event loses to the waiting one."""
    rows = await conn.execute_fetchall(
        "SELECT event_id FROM debounces WHERE trigger_id=? AND flow_key=?", (trigger_id, flow_key)
    )
    previous = str(rows[0]["event_id"]) if rows else ""
    if previous and previous > event_id:
        return event_id, previous
    await conn.execute(
        "INSERT OR REPLACE INTO debounces (trigger_id, flow_key, event_id, due_at) VALUES (?,?,?,?)",
        (trigger_id, flow_key, event_id, due_at),
    )
    return (previous, event_id) if previous and previous != event_id else None


async def due_debounces(db: Database, now: float) -> list[DueDebounce]:
    rows = await db.fetchall("SELECT * FROM debounces WHERE due_at <= ? ORDER BY due_at", (now,))
    return [DueDebounce(r["trigger_id"], r["flow_key"], r["event_id"], r["due_at"]) for r in rows]


async def next_debounce_at(db: Database) -> float | None:
    row = await db.fetchone("SELECT MIN(due_at) AS due FROM debounces")
    return None if row is None or row["due"] is None else float(row["due"])


async def take_debounce(conn: Connection, due: DueDebounce) -> bool:
    """Remove the waiting debounce if it is still ``due``'s event; whether it was."""
    cur = await conn.execute(
        "DELETE FROM debounces WHERE trigger_id=? AND flow_key=? AND event_id=?",
        (due.trigger_id, due.flow_key, due.event_id),
    )
    return cur.rowcount > 0


async def has_active_deployment(db: Database, project_id: str) -> bool:
    row = await db.fetchone("SELECT 1 FROM deployments WHERE project_id=? AND state='active' LIMIT 1", (project_id,))
    return row is not None

"""The event outbox: stored before acknowledgement, dispatched afterwards."""

from __future__ import annotations

import pickle
import time
from typing import Any

from akd.store.db import Database, Row


async def insert_event(
    db: Database,
    event_id: str,
    *,
    project_id: str,
    trigger_id: str,
    trigger_name: str,
    event_type: str,
    source: str,
    data: bytes,
) -> None:
    await db.execute(
        "INSERT INTO events (event_id, project_id, trigger_id, trigger_name, event_type, source, data,"
        " state, created_at) VALUES (?,?,?,?,?,?,?,'pending',?)",
        (event_id, project_id, trigger_id, trigger_name, event_type, source, data, time.time()),
    )


async def insert_delivery(
    db: Database,
    event_id: str,
    *,
    project_id: str,
    connection_id: str,
    connection_name: str,
    event_type: str,
    source: str,
    data: bytes,
    delivery_id: str | None,
    raw: bytes,
) -> bool:
    """A vendor delivery of a connection as a pending event; False (nothing stored) when the
    connection already has a delivery with this id (the vendor retried it)."""
    count = await db.execute(
        "INSERT OR IGNORE INTO events (event_id, project_id, trigger_id, trigger_name, event_type, source, data,"
        " state, created_at, connection_id, delivery_id, raw) VALUES (?,?,NULL,?,?,?,?,'pending',?,?,?,?)",
        (event_id, project_id, connection_name, event_type, source, data, time.time(), connection_id,
         delivery_id, raw),
    )  # fmt: skip
    return count > 0


async def event_of_delivery(db: Database, connection_id: str, delivery_id: str) -> str | None:
    row = await db.fetchone(
        "SELECT event_id FROM events WHERE connection_id=? AND delivery_id=?", (connection_id, delivery_id)
    )
    return None if row is None else str(row["event_id"])


async def insert_event_once(
    db: Database,
    event_id: str,
    *,
    project_id: str,
    trigger_id: str,
    trigger_name: str,
    event_type: str,
    source: str,
    data: bytes,
) -> bool:
    """Like ``insert_event`` for deterministic ids (schedule ticks): a repeat is ignored."""
    count = await db.execute(
        "INSERT OR IGNORE INTO events (event_id, project_id, trigger_id, trigger_name, event_type, source, data,"
        " state, created_at) VALUES (?,?,?,?,?,?,?,'pending',?)",
        (event_id, project_id, trigger_id, trigger_name, event_type, source, data, time.time()),
    )
    return count > 0


def payload(row: Row) -> dict[str, Any]:
    """What a session (or a next_event) receives for a stored event."""
    return {"data": pickle.loads(row["data"]), "event_id": row["event_id"], "event_type": row["event_type"]}


async def get_event(db: Database, event_id: str) -> Row | None:
    return await db.fetchone("SELECT * FROM events WHERE event_id=?", (event_id,))


async def pending_events(db: Database, older_than: float = 0.0) -> list[Row]:
    return await db.fetchall(
        "SELECT * FROM events WHERE state='pending' AND created_at <= ? ORDER BY event_id LIMIT 1000",
        (time.time() - older_than,),
    )


async def list_events(db: Database, *, project_id: str = "", limit: int = 50) -> list[Row]:
    sql = (
        "SELECT e.*, (SELECT group_concat(session_id) FROM sessions s WHERE s.event_id=e.event_id)"
        " AS session_ids FROM events e"
    )
    if project_id:
        return await db.fetchall(sql + " WHERE e.project_id=? ORDER BY e.event_id DESC LIMIT ?", (project_id, limit))
    return await db.fetchall(sql + " ORDER BY e.event_id DESC LIMIT ?", (limit,))

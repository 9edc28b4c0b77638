"""Saved test payloads of triggers, and the recent real ones (a trigger's last events)."""

from __future__ import annotations

import pickle
import time
from dataclasses import dataclass
from typing import Any

from akd.store.db import Database, Row


@dataclass(frozen=True)
class SavedPayload:
    """A named JSON object kept for a trigger, to dispatch as an event's data."""

    project_id: str
    trigger_name: str
    name: str
    data: str  # JSON text of an object
    created_at: float
    updated_at: float


@dataclass(frozen=True)
class RecentPayload:
    """The data of one of a trigger's recent events (unpickled: it may hold bytes)."""

    event_id: str
    event_type: str
    source: str
    data: Any
    created_at: float


def _saved(r: Row) -> SavedPayload:
    return SavedPayload(r["project_id"], r["trigger_name"], r["name"], r["data"], r["created_at"], r["updated_at"])


async def list_saved(db: Database, project_id: str, trigger_name: str) -> list[SavedPayload]:
    rows = await db.fetchall(
        "SELECT * FROM saved_payloads WHERE project_id=? AND trigger_name=? ORDER BY name", (project_id, trigger_name)
    )
    return [_saved(r) for r in rows]


async def get_saved(db: Database, project_id: str, trigger_name: str, name: str) -> SavedPayload | None:
    r = await db.fetchone(
        "SELECT * FROM saved_payloads WHERE project_id=? AND trigger_name=? AND name=?",
        (project_id, trigger_name, name),
    )
    return None if r is None else _saved(r)


async def save(db: Database, project_id: str, trigger_name: str, name: str, data: str) -> bool:
    """Create or replace a saved payload; True when it is new."""
    now = time.time()
    async with db.tx() as conn:
        cur = await conn.execute(
            "UPDATE saved_payloads SET data=?, updated_at=? WHERE project_id=? AND trigger_name=? AND name=?",
            (data, now, project_id, trigger_name, name),
        )
        if cur.rowcount:
            return False
        await conn.execute(
            "INSERT INTO saved_payloads (project_id, trigger_name, name, data, created_at, updated_at)"
            " VALUES (?,?,?,?,?,?)",
            (project_id, trigger_name, name, data, now, now),
        )
    return True


async def delete(db: Database, project_id: str, trigger_name: str, name: str) -> bool:
    count = await db.execute(
        "DELETE FROM saved_payloads WHERE project_id=? AND trigger_name=? AND name=?", (project_id, trigger_name, name)
    )
    return count > 0


async def recent(db: Database, project_id: str, trigger_name: str, limit: int = 10) -> list[RecentPayload]:
    """The data of the trigger's last ``limit`` events (vendor deliveries excluded), newest first."""
    rows = await db.fetchall(
        "SELECT event_id, event_type, source, data, created_at FROM events WHERE project_id=? AND trigger_name=?"
        " AND connection_id IS NULL ORDER BY created_at DESC, event_id DESC LIMIT ?",
        (project_id, trigger_name, limit),
    )
    return [
        RecentPayload(r["event_id"], r["event_type"], r["source"], pickle.loads(r["data"]), r["created_at"])
        for r in rows
    ]


async def trigger_exists(db: Database, project_id: str, trigger_name: str) -> bool:
    row = await db.fetchone("SELECT 1 FROM triggers WHERE project_id=? AND name=?", (project_id, trigger_name))
    return row is not None

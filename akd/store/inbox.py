"""Subscriptions and the per-session inbox of events and signals waiting to be read."""

from __future__ import annotations

import time

from akd.store.db import Connection, Database, Row


async def add_subscription(
    conn: Connection, sub_id: str, session_id: str, project_id: str, source: str, filter: str
) -> None:
    await conn.execute(
        "INSERT INTO subscriptions (sub_id, session_id, project_id, source, filter, created_at) VALUES (?,?,?,?,?,?)",
        (sub_id, session_id, project_id, source, filter, time.time()),
    )


async def deactivate_subscription(conn: Connection, sub_id: str, session_id: str) -> bool:
    cur = await conn.execute(
        "UPDATE subscriptions SET active=0 WHERE sub_id=? AND session_id=? AND active=1", (sub_id, session_id)
    )
    return cur.rowcount > 0


async def end_session_subscriptions(conn: Connection, session_id: str) -> None:
    await conn.execute("UPDATE subscriptions SET active=0 WHERE session_id=? AND active=1", (session_id,))


async def subscriptions_for(db: Database, project_id: str, source: str) -> list[Row]:
    return await db.fetchall(
        "SELECT * FROM subscriptions WHERE project_id=? AND source=? AND active=1", (project_id, source)
    )


async def deliver(conn: Connection, session_id: str, kind: str, key: str, payload: bytes, source_id: str = "") -> bool:
    """Put an event or signal in a session's inbox (once per source id); True if new."""
    cur = await conn.execute(
        "INSERT OR IGNORE INTO inbox (session_id, kind, key, source_id, payload, created_at) VALUES (?,?,?,?,?,?)",
        (session_id, kind, key, source_id, payload, time.time()),
    )
    return cur.rowcount > 0


async def take(conn: Connection, session_id: str, kind: str, keys: list[str]) -> Row | None:
    """The oldest unread inbox item for any of ``keys``, marked read."""
    marks = ",".join("?" * len(keys))
    async with conn.execute(
        f"SELECT * FROM inbox WHERE session_id=? AND kind=? AND consumed=0 AND key IN ({marks}) ORDER BY id LIMIT 1",
        (session_id, kind, *keys),
    ) as cur:
        row: Row | None = await cur.fetchone()
    if row is not None:
        await conn.execute("UPDATE inbox SET consumed=1 WHERE id=?", (row["id"],))
    return row


async def sessions_with_unread(db: Database) -> list[str]:
    rows = await db.fetchall(
        "SELECT DISTINCT i.session_id FROM inbox i JOIN sessions s USING (session_id)"
        " WHERE i.consumed=0 AND s.state IN ('created','running')"
    )
    return [r["session_id"] for r in rows]

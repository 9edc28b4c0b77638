"""The per-session inbox: events and signals delivered to a session, waiting to be read.

Who subscribed to what is in ``akd.store.subscriptions``.
"""

from __future__ import annotations

import time

from akd.store.db import Connection, Database
from akd.store.states import STARTED, sql_set


async def deliver(conn: Connection, session_id: str, kind: str, key: str, payload: bytes, source_id: str = "") -> bool:
    """Put an event or signal in a session's inbox (once per source id); True if new."""
    cur = await conn.execute(
        "INSERT OR IGNORE INTO inbox (session_id, kind, key, source_id, payload, created_at) VALUES (?,?,?,?,?,?)",
        (session_id, kind, key, source_id, payload, time.time()),
    )
    return cur.rowcount > 0


async def take(conn: Connection, session_id: str, kind: str, keys: list[str]) -> bytes | None:
    """The payload of the oldest unread inbox item for any of ``keys``, marked read."""
    marks = ",".join("?" * len(keys))
    async with conn.execute(
        f"SELECT id, payload FROM inbox WHERE session_id=? AND kind=? AND consumed=0 AND key IN ({marks})"
        " ORDER BY id LIMIT 1",
        (session_id, kind, *keys),
    ) as cur:
        row = await cur.fetchone()
    if row is None:
        return None
    await conn.execute("UPDATE inbox SET consumed=1 WHERE id=?", (row["id"],))
    return bytes(row["payload"])


async def sessions_with_unread(db: Database) -> list[str]:
    rows = await db.fetchall(
        "SELECT DISTINCT i.session_id FROM inbox i JOIN sessions s USING (session_id)"
        " WHERE i.consumed=0 AND s.state IN " + sql_set(STARTED)
    )
    return [r["session_id"] for r in rows]

"""Project key-value entries as sessions read and write them through the SDK.

Every function takes the connection of the caller's transaction: an SDK request and the
journal entry of its answer commit together, which is what makes a retried request take
effect once. Values are JSON text here; encoding and the size limit are the caller's
(the SDK's rules, not the table's).
"""

from __future__ import annotations

import time

from akd.store.db import Connection


async def get(conn: Connection, project_id: str, key: str) -> str | None:
    """The JSON text stored under ``key`` (None when there is none)."""
    async with conn.execute("SELECT value FROM kv WHERE project_id=? AND key=?", (project_id, key)) as cur:
        row = await cur.fetchone()
    return None if row is None else str(row[0])


async def put(conn: Connection, project_id: str, key: str, encoded: str) -> None:
    """Store ``encoded`` (JSON text) under ``key``; a published key stays published."""
    await conn.execute(
        "INSERT INTO kv (project_id, key, value, updated_at) VALUES (?,?,?,?) ON CONFLICT (project_id, key)"
        " DO UPDATE SET value=excluded.value, updated_at=excluded.updated_at",
        (project_id, key, encoded, time.time()),
    )


async def delete(conn: Connection, project_id: str, key: str) -> None:
    await conn.execute("DELETE FROM kv WHERE project_id=? AND key=?", (project_id, key))


async def keys(conn: Connection, project_id: str) -> list[str]:
    """The project's keys, sorted."""
    async with conn.execute("SELECT key FROM kv WHERE project_id=? ORDER BY key", (project_id,)) as cur:
        return [str(row[0]) for row in await cur.fetchall()]

"""Published key-value entries: the values a project lets anyone read at ``/store/<project_id>/<key>``.

The flag lives on the ``kv`` row, so setting a new value keeps it and deleting the key
drops it (AutoKitteh's rule: a key is public until unpublished or deleted).
"""

from __future__ import annotations

from typing import Any

from akd.store.db import Connection, Database


async def set_published(conn: Connection, project_id: str, key: str, published: bool) -> bool:
    """Mark ``key`` (un)published; False when the project stores no value under it."""
    cur = await conn.execute(
        "UPDATE kv SET published=? WHERE project_id=? AND key=?", (int(published), project_id, key)
    )
    return bool(cur.rowcount)


async def published_value(db: Database, project_id: str, key: str) -> str | None:
    """The JSON text of ``key`` if it is published, else None (unknown, missing or private alike)."""
    row: Any = await db.fetchone("SELECT value FROM kv WHERE project_id=? AND key=? AND published=1", (project_id, key))
    return None if row is None else str(row["value"])

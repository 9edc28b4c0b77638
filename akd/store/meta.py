"""Facts about the store itself (``store_meta``), shared by every akd that uses it."""

from __future__ import annotations

from akd.store.db import Database

SECRET_KEY = "secret_key_fingerprint"


async def get(db: Database, key: str) -> str | None:
    row = await db.fetchone("SELECT value FROM store_meta WHERE key=?", (key,))
    return None if row is None else str(row["value"])


async def put_first(db: Database, key: str, value: str) -> str:
    """Set ``key`` unless it is set; the value in force (the first writer's)."""
    await db.execute("INSERT OR IGNORE INTO store_meta (key, value) VALUES (?, ?)", (key, value))
    found = await get(db, key)
    assert found is not None  # just written, or written before
    return found

"""Web UI cookies revoked by a logout, kept until they would have expired anyway."""

from __future__ import annotations

from akd.store.db import Database


async def revoke(db: Database, digest: str, expires_at: float, now: float) -> None:
    """Void the cookie with this digest; forget those whose time has passed."""
    async with db.tx() as conn:
        await conn.execute("DELETE FROM revoked_ui_cookies WHERE expires_at <= ?", (now,))
        await conn.execute(
            "INSERT OR IGNORE INTO revoked_ui_cookies (digest, expires_at) VALUES (?, ?)", (digest, expires_at)
        )


async def is_revoked(db: Database, digest: str) -> bool:
    return await db.fetchone("SELECT 1 FROM revoked_ui_cookies WHERE digest=?", (digest,)) is not None

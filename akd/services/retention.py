"""Retention: finished sessions (with logs, journals, inboxes) and old events are deleted
in the background, in small batches so writers are never blocked for long."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

from akd.store.db import Database

log = logging.getLogger(__name__)

# Sessions per delete transaction: writes run on the event loop, so keep each one short.
BATCH = 100


@dataclass
class Swept:
    sessions: int = 0
    events: int = 0


async def sweep(db: Database, days: float, now: float | None = None) -> Swept:
    """Delete what is older than ``days``; returns how much went."""
    cutoff = (now or time.time()) - days * 86400
    swept = Swept()
    while True:
        rows = await db.fetchall(
            "SELECT session_id FROM sessions WHERE state IN ('completed','error','stopped') AND ended_at < ?"
            " LIMIT ?", (cutoff, BATCH),
        )  # fmt: skip
        if not rows:
            break
        ids = [r["session_id"] for r in rows]
        marks = ",".join("?" * len(ids))
        async with db.tx() as conn:
            for table in ("session_log", "journal", "inbox", "subscriptions", "sessions"):
                await conn.execute(f"DELETE FROM {table} WHERE session_id IN ({marks})", ids)
        swept.sessions += len(ids)
        await asyncio.sleep(0)  # let webhooks and sessions in between batches
    while True:
        async with db.tx() as conn:
            cur = await conn.execute(
                "DELETE FROM events WHERE event_id IN (SELECT event_id FROM events e WHERE e.created_at < ?"
                " AND e.state != 'pending' AND NOT EXISTS (SELECT 1 FROM sessions s WHERE s.event_id = e.event_id)"
                " LIMIT ?)", (cutoff, BATCH),
            )  # fmt: skip
            count = cur.rowcount
        swept.events += count
        if count < BATCH:
            break
    return swept


async def run_forever(db: Database, days: float, interval: float) -> None:
    """The background task: a sweep at start-up, then every ``interval`` seconds."""
    while True:
        try:
            swept = await sweep(db, days)
            if swept.sessions or swept.events:
                log.info("retention: deleted %d sessions and %d events older than %g days",
                         swept.sessions, swept.events, days)  # fmt: skip
        except Exception:
            log.exception("retention sweep failed")
        await asyncio.sleep(interval)

"""Sync webhook outcomes that cross akd nodes.

A sync webhook's request waits on the akd that took it; the session that answers it may
run on another akd of the same store. That akd, finding no waiter of its own, stores
the outcome here, in the transaction of the session's ``http_outcome()`` call (so a
replayed call stores nothing twice), and the waiting akd reads them in order.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

from akd.store.db import Connection, Database


@dataclass(frozen=True)
class StoredOutcome:
    seq: int
    status: int
    headers: dict[str, str]
    body: bytes
    more: bool


async def put(conn: Connection, event_id: str, status: int, headers: dict[str, str], body: bytes, more: bool) -> None:
    await conn.execute(
        "INSERT INTO http_outcomes (event_id, seq, status, headers, body, more, created_at)"
        " SELECT ?, COALESCE(MAX(seq), 0) + 1, ?, ?, ?, ?, ? FROM http_outcomes WHERE event_id=?",
        (event_id, status, json.dumps(headers), body, int(more), time.time(), event_id),
    )


async def after(db: Database, event_id: str, seq: int) -> list[StoredOutcome]:
    """The event's outcomes after ``seq``, in order."""
    rows = await db.fetchall(
        "SELECT seq, status, headers, body, more FROM http_outcomes WHERE event_id=? AND seq>? ORDER BY seq",
        (event_id, seq),
    )
    return [StoredOutcome(int(r[0]), int(r[1]), json.loads(r[2]), bytes(r[3]), bool(r[4])) for r in rows]


async def forget(db: Database, event_id: str) -> None:
    await db.execute("DELETE FROM http_outcomes WHERE event_id=?", (event_id,))


async def forget_before(db: Database, cutoff: float) -> int:
    """Outcomes nobody read (their waiter gave up or was on an akd that died)."""
    return await db.execute("DELETE FROM http_outcomes WHERE created_at < ?", (cutoff,))

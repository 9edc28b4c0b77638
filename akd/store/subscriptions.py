"""Subscriptions: which later events of a trigger or connection a session wants to read.

What a subscription receives waits in the session's inbox (``akd.store.inbox``); this
module only keeps who listens to what, and with which filter.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from akd.store.db import Connection, Database


@dataclass(frozen=True)
class Subscription:
    sub_id: str
    session_id: str
    source: str  # the trigger or connection name
    filter: str  # CEL over the event ("" = every event)


async def add(conn: Connection, sub_id: str, session_id: str, project_id: str, source: str, filter: str) -> None:
    await conn.execute(
        "INSERT INTO subscriptions (sub_id, session_id, project_id, source, filter, created_at) VALUES (?,?,?,?,?,?)",
        (sub_id, session_id, project_id, source, filter, time.time()),
    )


async def deactivate(conn: Connection, sub_id: str, session_id: str) -> bool:
    """End one of the session's subscriptions; False when it has no such active one."""
    cur = await conn.execute(
        "UPDATE subscriptions SET active=0 WHERE sub_id=? AND session_id=? AND active=1", (sub_id, session_id)
    )
    return cur.rowcount > 0


async def active_on(db: Database, project_id: str, source: str) -> list[Subscription]:
    """The active subscriptions on one of the project's triggers or connections."""
    rows = await db.fetchall(
        "SELECT sub_id, session_id, source, filter FROM subscriptions WHERE project_id=? AND source=? AND active=1",
        (project_id, source),
    )
    return [Subscription(str(r["sub_id"]), str(r["session_id"]), str(r["source"]), str(r["filter"])) for r in rows]

"""The event outbox: stored before acknowledgement, dispatched afterwards.

Every way in (a webhook, a vendor delivery, a manual or redispatched event, a replayed
delivery, a schedule tick) stores its event through ``ingest_event``: one statement,
``pending`` until the dispatcher marks it, deduplicated by the vendor's delivery id or,
for ticks, by their derived event id.
"""

from __future__ import annotations

import pickle
import time
from dataclasses import dataclass, field, fields
from typing import Any

from akd.ids import new_id
from akd.store.db import Connection, Database, Row


@dataclass(frozen=True)
class NewEvent:
    project_id: str
    event_type: str
    source: str  # webhook, manual, redispatch, schedule, replay, or the vendor's delivery kind
    data: bytes  # the pickled ``event.data``
    # A trigger's event names the trigger; a connection's delivery names the connection
    # (its name stands where a trigger's name would) and may carry the vendor's id.
    trigger_id: str | None = None
    trigger_name: str = ""
    connection_id: str | None = None
    delivery_id: str | None = None
    raw: bytes | None = None  # a delivery's pickled request, as received
    # Fresh unless the caller derives it (a tick's id comes from its scheduled time).
    event_id: str = field(default_factory=lambda: new_id("evt"))


@dataclass(frozen=True)
class Ingested:
    event_id: str  # the stored event's id: the earlier one's for a duplicate
    duplicate: bool


async def ingest_event(db: Database, ev: NewEvent) -> Ingested:
    """Store ``ev`` as a pending event, or report the one it repeats."""
    count = await db.execute(
        "INSERT OR IGNORE INTO events (event_id, project_id, trigger_id, trigger_name, event_type, source, data,"
        " state, created_at, connection_id, delivery_id, raw) VALUES (?,?,?,?,?,?,?,'pending',?,?,?,?)",
        (ev.event_id, ev.project_id, ev.trigger_id, ev.trigger_name, ev.event_type, ev.source, ev.data,
         time.time(), ev.connection_id, ev.delivery_id, ev.raw),
    )  # fmt: skip
    if count:
        return Ingested(ev.event_id, duplicate=False)
    earlier = None
    if ev.connection_id and ev.delivery_id:
        earlier = await event_of_delivery(db, ev.connection_id, ev.delivery_id)
    return Ingested(earlier or ev.event_id, duplicate=True)


async def insert_dispatched(
    conn: Connection,
    event_id: str,
    *,
    project_id: str,
    trigger_id: str,
    trigger_name: str,
    event_type: str,
    source: str,
    data: bytes,
    now: float,
) -> None:
    """An event already dispatched, inside the caller's transaction (it was delivered to a
    session's inbox in the same one): no dispatch, recovery or sweep ever starts sessions for it."""
    await conn.execute(
        "INSERT INTO events (event_id, project_id, trigger_id, trigger_name, event_type, source, data,"
        " state, created_at, dispatched_at) VALUES (?,?,?,?,?,?,?,'dispatched',?,?)",
        (event_id, project_id, trigger_id, trigger_name, event_type, source, data, now, now),
    )


async def event_of_delivery(db: Database, connection_id: str, delivery_id: str) -> str | None:
    row = await db.fetchone(
        "SELECT event_id FROM events WHERE connection_id=? AND delivery_id=?", (connection_id, delivery_id)
    )
    return None if row is None else str(row["event_id"])


async def claim_pending(conn: Connection, event_id: str) -> bool:
    """Whether ``event_id`` is still pending, claiming it for the caller's transaction.

    On SQLite the transaction holds the one write lock already. On Postgres another akd
    may be dispatching the same event right now (its sweeper found it, or a delivery and
    a recovery raced): the row is locked for this transaction, and one locked by another
    is skipped, so exactly one akd dispatches each event.
    """
    lock = " FOR UPDATE SKIP LOCKED" if conn.dialect == "postgres" else ""
    rows = await conn.execute_fetchall(f"SELECT state FROM events WHERE event_id=?{lock}", (event_id,))
    return bool(rows) and rows[0]["state"] == "pending"


async def mark_dispatched(conn: Connection, event_id: str, skip_reason: str, now: float) -> bool:
    """A pending event is dispatched, or skipped with ``skip_reason`` when it is not "";
    False when another dispatch got there first."""
    cur = await conn.execute(
        "UPDATE events SET state=?, dispatched_at=?, skip_reason=? WHERE event_id=? AND state='pending'",
        ("skipped" if skip_reason else "dispatched", now, skip_reason or None, event_id),
    )
    return cur.rowcount > 0


async def mark_superseded(conn: Connection, event_id: str, reason: str) -> None:
    """A dispatched event that (in the end) started no session is skipped with ``reason``."""
    await conn.execute(
        "UPDATE events SET state='skipped', skip_reason=? WHERE event_id=? AND state='dispatched'"
        " AND NOT EXISTS (SELECT 1 FROM sessions s WHERE s.event_id=events.event_id)",
        (reason, event_id),
    )


@dataclass(frozen=True, slots=True)
class EventRecord:
    """One row of ``events`` as the layers above read it."""

    event_id: str
    project_id: str | None
    trigger_id: str | None
    trigger_name: str  # a connection's delivery holds the connection's name here
    event_type: str
    source: str
    data: bytes  # the pickled ``event.data``
    state: str  # pending | dispatched | skipped
    created_at: float
    dispatched_at: float | None
    connection_id: str | None
    delivery_id: str | None
    raw: bytes | None
    skip_reason: str | None
    # The ids of the sessions it started, comma-separated, when read by ``list_events``; else None.
    session_ids: str | None = None


# The stored columns in the record's field order: ``EventRecord(*row)`` needs no lookup by
# name (the dispatcher reads each event it dispatches).
_EVENT = ", ".join(f"e.{f.name}" for f in fields(EventRecord)[:-1])


def payload(event: EventRecord) -> dict[str, Any]:
    """What a session (or a next_event) receives for a stored event."""
    return {"data": pickle.loads(event.data), "event_id": event.event_id, "event_type": event.event_type}


async def get_event(db: Database, event_id: str) -> EventRecord | None:
    row = await db.fetchone(f"SELECT {_EVENT} FROM events e WHERE event_id=?", (event_id,))
    return None if row is None else EventRecord(*row)


async def pending_events(db: Database, older_than: float = 0.0) -> list[EventRecord]:
    rows = await db.fetchall(
        f"SELECT {_EVENT} FROM events e WHERE state='pending' AND created_at <= ? ORDER BY event_id LIMIT 1000",
        (time.time() - older_than,),
    )
    return [EventRecord(*r) for r in rows]


async def list_events(db: Database, *, project_id: str = "", limit: int = 50) -> list[EventRecord]:
    """The newest events (of one project, when given), each with the ids of the sessions it started."""
    sql = (
        f"SELECT {_EVENT}, (SELECT group_concat(session_id) FROM sessions s WHERE s.event_id=e.event_id)"
        " AS session_ids FROM events e"
    )
    if project_id:
        rows = await db.fetchall(sql + " WHERE e.project_id=? ORDER BY e.event_id DESC LIMIT ?", (project_id, limit))
    else:
        rows = await db.fetchall(sql + " ORDER BY e.event_id DESC LIMIT ?", (limit,))
    return [EventRecord(*r) for r in rows]


@dataclass(frozen=True)
class DeliveryRecord:
    """A connection's vendor delivery as stored: the event, its raw delivery, its sessions."""

    event_id: str
    project_id: str
    project: str
    connection_id: str
    connection_name: str
    event_type: str
    source: str
    state: str
    created_at: float
    dispatched_at: float | None
    delivery_id: str | None
    raw: bytes | None  # the pickled raw delivery; None in lists, except for replays (they name their original)
    data: bytes | None  # the pickled event data; None in lists
    session_ids: tuple[str, ...]
    skip_reason: str | None = None  # None: skipped before reasons were stored (migration 0012)


_DELIVERY_COLUMNS = (
    "e.event_id, e.project_id, e.connection_id, e.trigger_name, e.event_type, e.source, e.state, e.created_at,"
    " e.dispatched_at, e.delivery_id, e.skip_reason,"
    " (SELECT name FROM projects p WHERE p.project_id=e.project_id) AS project,"
    " (SELECT group_concat(session_id) FROM (SELECT session_id FROM sessions s WHERE s.event_id=e.event_id"
    " ORDER BY session_id)) AS session_ids"
)


def _delivery(row: Row, *, raw: bytes | None, data: bytes | None) -> DeliveryRecord:
    return DeliveryRecord(
        event_id=row["event_id"], project_id=row["project_id"] or "", project=row["project"] or "",
        connection_id=row["connection_id"],
        connection_name=row["trigger_name"], event_type=row["event_type"], source=row["source"], state=row["state"],
        created_at=row["created_at"], dispatched_at=row["dispatched_at"], delivery_id=row["delivery_id"], raw=raw,
        data=data, session_ids=tuple((row["session_ids"] or "").split(",")) if row["session_ids"] else (),
        skip_reason=row["skip_reason"],
    )  # fmt: skip


async def list_deliveries(db: Database, connection_id: str, *, limit: int = 50) -> list[DeliveryRecord]:
    """The connection's deliveries, newest first (replays carry their raw delivery: it names the original)."""
    rows = await db.fetchall(
        f"SELECT {_DELIVERY_COLUMNS}, CASE WHEN e.source='replay' THEN e.raw END AS raw FROM events e"
        " WHERE e.connection_id=? ORDER BY e.event_id DESC LIMIT ?",
        (connection_id, limit),
    )
    return [_delivery(r, raw=r["raw"], data=None) for r in rows]


async def get_delivery(db: Database, event_id: str) -> DeliveryRecord | None:
    """One event as a delivery (None when there is no such event or it is not a connection's delivery)."""
    row = await db.fetchone(
        f"SELECT {_DELIVERY_COLUMNS}, e.raw, e.data FROM events e WHERE e.event_id=? AND e.connection_id IS NOT NULL",
        (event_id,),
    )
    return None if row is None else _delivery(row, raw=row["raw"], data=row["data"])


async def had_active_deployment(db: Database, project_id: str, at: float) -> bool:
    """Whether a deployment of the project was (probably) active at time ``at``: active now
    and created before it, or since retired (draining, inactive) after it."""
    row = await db.fetchone(
        "SELECT 1 FROM deployments WHERE project_id=? AND created_at <= ?"
        " AND (state='active' OR updated_at >= ?) LIMIT 1",
        (project_id, at, at),
    )
    return row is not None


async def delete_unused_before(db: Database, cutoff: float, limit: int) -> int:
    """Delete up to ``limit`` dispatched events older than ``cutoff`` that no session refers
    to (retention); returns how many went."""
    async with db.tx() as conn:
        cur = await conn.execute(
            "DELETE FROM events WHERE event_id IN (SELECT event_id FROM events e WHERE e.created_at < ?"
            " AND e.state != 'pending' AND NOT EXISTS (SELECT 1 FROM sessions s WHERE s.event_id = e.event_id)"
            " LIMIT ?)", (cutoff, limit),
        )  # fmt: skip
        return int(cur.rowcount)


# -- the web UI's event pages ------------------------------------------------------------

EVENT_PAGE_SIZE = 50


@dataclass(frozen=True)
class EventListItem:
    """One row of the event list, with its project's name and how many sessions it started."""

    event_id: str
    event_type: str
    trigger_name: str
    source: str
    state: str
    created_at: float
    project: str  # "" when the event has no project (or its project is gone)
    n_sessions: int


@dataclass(frozen=True)
class EventPage:
    items: list[EventListItem]
    older: str = ""  # id to pass as ``before`` for the next (older) page, "" on the last


@dataclass(frozen=True)
class EventSession:
    """A session an event started, as the event page lists it."""

    session_id: str
    state: str
    entrypoint: str
    created_at: float
    started_at: float | None
    ended_at: float | None


def _list_item(r: Row) -> EventListItem:
    return EventListItem(
        r["event_id"], r["event_type"], r["trigger_name"], r["source"], r["state"], float(r["created_at"]),
        r["project"] or "", int(r["n_sessions"]),
    )  # fmt: skip


async def event_page(db: Database, project_id: str = "", before: str = "") -> EventPage:
    """Newest first, a keyset page over the sortable event id (``LIMIT n+1`` tells whether there is more)."""
    clauses, params = ["1=1"], list[Any]()
    if project_id:
        clauses.append("e.project_id=?")
        params.append(project_id)
    if before:
        clauses.append("e.event_id < ?")
        params.append(before)
    rows = await db.fetchall(
        "SELECT e.event_id, e.event_type, e.trigger_name, e.source, e.state, e.created_at, p.name AS project,"
        " (SELECT COUNT(*) FROM sessions s WHERE s.event_id=e.event_id) AS n_sessions"
        f" FROM events e LEFT JOIN projects p USING (project_id) WHERE {' AND '.join(clauses)}"
        " ORDER BY e.event_id DESC LIMIT ?",
        [*params, EVENT_PAGE_SIZE + 1],
    )
    items = [_list_item(r) for r in rows[:EVENT_PAGE_SIZE]]
    return EventPage(items, older=items[-1].event_id if len(rows) > EVENT_PAGE_SIZE else "")


async def started_sessions(db: Database, event_id: str) -> list[EventSession]:
    """The sessions the event started, by id."""
    rows = await db.fetchall(
        "SELECT session_id, state, entrypoint, created_at, started_at, ended_at FROM sessions"
        " WHERE event_id=? ORDER BY session_id",
        (event_id,),
    )
    return [EventSession(*r) for r in rows]

"""What a project holds, as the web UI shows it: its key-value store, what a delete would
take with it, a session's size and prints, and when each schedule last fired."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from akd.store import sessions
from akd.store.db import Database, Row
from akd.store.states import LIVE, sql_set


@dataclass(frozen=True)
class StoreEntry:
    key: str
    value: Any  # the JSON value sessions stored
    size: int  # bytes of its JSON encoding
    updated_at: float


@dataclass(frozen=True)
class Footprint:
    """What deleting a project deletes with it."""

    sessions: int
    events: int
    store_keys: int
    deployments: int
    builds: int
    vars: int
    triggers: int
    live_sessions: int  # queued, created or running: a delete is refused while there are any


@dataclass(frozen=True)
class SessionSize:
    prints: int
    log_records: int
    journal_entries: int


@dataclass(frozen=True)
class PrintLine:
    id: int  # the log record's id: the cursor a live page polls from
    t: float
    text: str


async def store_entries(db: Database, project_id: str) -> list[StoreEntry]:
    rows = await db.fetchall("SELECT key, value, updated_at FROM kv WHERE project_id=? ORDER BY key", (project_id,))
    return [_entry(r) for r in rows]


async def store_entry(db: Database, project_id: str, key: str) -> StoreEntry | None:
    r = await db.fetchone("SELECT key, value, updated_at FROM kv WHERE project_id=? AND key=?", (project_id, key))
    return None if r is None else _entry(r)


def _entry(r: Row) -> StoreEntry:
    return StoreEntry(str(r["key"]), json.loads(r["value"]), len(r["value"].encode()), float(r["updated_at"]))


async def set_store_value(db: Database, project_id: str, key: str, encoded: str, now: float) -> None:
    """Store a key's JSON-encoded value (the API's ``store set``; sessions go through the SDK's path)."""
    await db.execute(
        "INSERT INTO kv (project_id, key, value, updated_at) VALUES (?,?,?,?) ON CONFLICT (project_id, key)"
        " DO UPDATE SET value=excluded.value, updated_at=excluded.updated_at",
        (project_id, key, encoded, now),
    )


async def delete_store_key(db: Database, project_id: str, key: str) -> bool:
    """True if the key was there."""
    return bool(await db.execute("DELETE FROM kv WHERE project_id=? AND key=?", (project_id, key)))


async def footprint(db: Database, project_id: str) -> Footprint:
    counts = []
    for table in ("sessions", "events", "kv", "deployments", "builds", "vars", "triggers"):
        row = await db.fetchone(f"SELECT COUNT(*) AS n FROM {table} WHERE project_id=?", (project_id,))
        counts.append(int(row["n"]) if row else 0)
    live = await db.fetchone(
        "SELECT COUNT(*) AS n FROM sessions WHERE project_id=? AND state IN " + sql_set(LIVE), (project_id,)
    )
    counts.append(int(live["n"]) if live else 0)
    return Footprint(*counts)


async def session_size(db: Database, session_id: str) -> SessionSize:
    log = await db.fetchone(
        "SELECT COALESCE(SUM(CASE WHEN kind='print' THEN 1 ELSE 0 END), 0) AS prints, COUNT(*) AS n FROM session_log"
        " WHERE session_id=?",
        (session_id,),
    )
    journal = await db.fetchone("SELECT COUNT(*) AS n FROM journal WHERE session_id=?", (session_id,))
    prints, records = (int(log["prints"]), int(log["n"])) if log else (0, 0)
    return SessionSize(prints, records - prints, int(journal["n"]) if journal else 0)


async def last_ticks(db: Database, project_id: str) -> dict[str, float]:
    """trigger_id -> when its schedule last fired (its newest ``schedule`` event)."""
    rows = await db.fetchall(
        "SELECT trigger_id, MAX(created_at) AS t FROM events WHERE project_id=? AND source='schedule'"
        " GROUP BY trigger_id",
        (project_id,),
    )
    return {str(r["trigger_id"]): float(r["t"]) for r in rows if r["trigger_id"]}


async def print_count(db: Database, session_id: str) -> int:
    """How many prints a session has made (a range count on the (session, kind) index)."""
    row = await db.fetchone("SELECT COUNT(*) AS n FROM session_log WHERE session_id=? AND kind='print'", (session_id,))
    return int(row["n"]) if row else 0


def _print_line(r: sessions.LogEntry) -> PrintLine:
    return PrintLine(int(r.id), float(r.t), str(json.loads(r.data).get("text", "")))


async def print_tail(db: Database, session_id: str, limit: int) -> tuple[list[PrintLine], int]:
    """The last ``limit`` prints, oldest first, and how many there are in all."""
    rows = await sessions.list_log(db, session_id, kinds=("print",), limit=limit, descending=True)
    total = await print_count(db, session_id) if len(rows) == limit else len(rows)
    return [_print_line(r) for r in reversed(rows)], total


async def prints_after(db: Database, session_id: str, after: int, limit: int) -> list[PrintLine]:
    """Up to ``limit`` prints after the one with id ``after``, oldest first."""
    return [_print_line(r) for r in await sessions.list_log(db, session_id, kinds=("print",), after=after, limit=limit)]

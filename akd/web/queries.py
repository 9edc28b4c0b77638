"""The reads the UI needs beyond ``akd.store``: event pages by keyset, counts, stats buckets.

SQL here is a known defect (STYLE.md: SQL only in ``akd/store/``); the session list has
moved to ``akd.store.session_lists`` and project contents to ``akd.store.project_data``.
Lists are keyset pages over a sortable id, never ``OFFSET``.
"""

from __future__ import annotations

import json
import pickle
from dataclasses import dataclass
from typing import Any

from akd.store import sessions as sessions_store
from akd.store.db import Database, Row

PAGE_SIZE = 50
TIMELINE_KINDS = ("state", "step", "sleep", "stop_request", "stop", "restart", "resume", "storage")


@dataclass
class Page:
    rows: list[Row]
    newer: str = ""  # id to pass as ``after`` for the previous (newer) page, "" on the first
    older: str = ""  # id to pass as ``before`` for the next (older) page, "" on the last


# -- one session -----------------------------------------------------------------------


@dataclass(frozen=True)
class PrintLine:
    id: int
    t: float
    text: str


def print_lines(rows: list[Row]) -> list[PrintLine]:
    return [PrintLine(int(r["id"]), float(r["t"]), str(json.loads(r["data"]).get("text", ""))) for r in rows]


async def prints_tail(db: Database, session_id: str, limit: int) -> tuple[list[Row], int]:
    """The last ``limit`` prints, oldest first, and how many there are in all."""
    rows = await sessions_store.list_log(db, session_id, kinds=("print",), limit=limit, descending=True)
    total = len(rows)
    if total == limit:
        count = await db.fetchone(
            "SELECT COUNT(*) AS n FROM session_log WHERE session_id=? AND kind='print'", (session_id,)
        )
        total = int(count["n"]) if count else total
    return list(reversed(rows)), total


async def prints_after(db: Database, session_id: str, after: int, limit: int) -> list[Row]:
    return await sessions_store.list_log(db, session_id, kinds=("print",), after=after, limit=limit)


async def timeline_records(db: Database, session_id: str, limit: int) -> list[Row]:
    return await sessions_store.list_log(db, session_id, kinds=TIMELINE_KINDS, limit=limit)


async def journal_calls(db: Database, session_id: str, limit: int) -> list[Row]:
    """SDK requests akd answered and journaled (KV store, subscriptions, signals...)."""
    return await db.fetchall(
        "SELECT seq, name, t FROM journal WHERE session_id=? AND kind='call' ORDER BY seq LIMIT ?", (session_id, limit)
    )


async def event_row(db: Database, event_id: str) -> Row | None:
    return await db.fetchone("SELECT * FROM events WHERE event_id=?", (event_id,))


def unpickle(blob: bytes | None) -> Any:
    """Event data and session inputs: pickled by akd itself, never by a user or a client."""
    return pickle.loads(blob) if blob else None


# -- events ----------------------------------------------------------------------------


async def event_page(db: Database, project_id: str, before: str) -> Page:
    clauses, params = ["1=1"], []
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
        [*params, PAGE_SIZE + 1],
    )
    has_older = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    return Page(rows, older=rows[-1]["event_id"] if has_older else "")


async def sessions_of_event(db: Database, event_id: str) -> list[Row]:
    return await db.fetchall(
        "SELECT session_id, state, entrypoint, created_at, ended_at, started_at FROM sessions"
        " WHERE event_id=? ORDER BY session_id",
        (event_id,),
    )


# -- projects --------------------------------------------------------------------------


async def project_session_counts(db: Database) -> dict[str, dict[str, int]]:
    rows = await db.fetchall("SELECT project_id, state, COUNT(*) AS n FROM sessions GROUP BY project_id, state")
    counts: dict[str, dict[str, int]] = {}
    for r in rows:
        counts.setdefault(r["project_id"], {})[r["state"]] = int(r["n"])
    return counts


async def trigger_row(db: Database, trigger_id: str) -> Row | None:
    return await db.fetchone("SELECT * FROM triggers WHERE trigger_id=?", (trigger_id,))


# -- stats -----------------------------------------------------------------------------


async def first_session_since(db: Database, since: float, project_id: str) -> float | None:
    row = await db.fetchone(
        "SELECT MIN(created_at) AS t FROM sessions WHERE created_at >= ? AND (?='' OR project_id=?)",
        (since, project_id, project_id),
    )
    return float(row["t"]) if row is not None and row["t"] is not None else None


async def state_buckets(db: Database, start: float, step: float, project_id: str) -> list[Row]:
    """Sessions created per (bucket, state) since ``start``; the counting happens in SQLite."""
    return await db.fetchall(
        "SELECT CAST((created_at - ?) / ? AS INTEGER) AS bucket, state, COUNT(*) AS n FROM sessions"
        " WHERE created_at >= ? AND (?='' OR project_id=?) GROUP BY bucket, state",
        (start, step, start, project_id, project_id),
    )


async def durations(db: Database, start: float, project_id: str) -> list[Row]:
    """(created_at, duration) of every ended session since ``start``: two floats a row."""
    return await db.fetchall(
        "SELECT created_at, ended_at - COALESCE(started_at, created_at) AS d FROM sessions"
        " WHERE created_at >= ? AND ended_at IS NOT NULL AND (?='' OR project_id=?)",
        (start, project_id, project_id),
    )

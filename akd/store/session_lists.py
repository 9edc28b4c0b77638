"""Pages of the session list for the web UI: filtered, keyset-paged, with each row's trigger and error.

Every page is a keyset page over the sortable session id (``before``/``after`` an id,
``LIMIT n+1`` to know whether there is more), never ``OFFSET``: unfiltered, page 200 of
a million sessions costs what page 1 does. Filters: project, deployment, state, trigger
(by name; ``manual`` for sessions no trigger started) and a creation-time range.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from akd.store.db import Database, Row
from akd.store.states import SessionState

PAGE_SIZE = 50
MANUAL = "manual"  # the trigger filter value of sessions started by hand (no trigger)


@dataclass(frozen=True)
class SessionFilter:
    project_id: str = ""
    deployment_id: str = ""
    state: str = ""
    trigger: str = ""  # a trigger name, or MANUAL
    since: float | None = None  # created at or after
    until: float | None = None  # created before

    def where(self, *, with_state: bool = True) -> tuple[str, list[Any]]:
        clauses: list[str] = ["1=1"]
        params: list[Any] = []
        for column, value in (("s.project_id", self.project_id), ("s.deployment_id", self.deployment_id),
                              ("s.state", self.state if with_state else "")):  # fmt: skip
            if value:
                clauses.append(f"{column}=?")
                params.append(value)
        if self.trigger == MANUAL:
            clauses.append("s.trigger_id=''")
        elif self.trigger:
            clauses.append("s.trigger_id IN (SELECT trigger_id FROM triggers WHERE name=?)")
            params.append(self.trigger)
        if self.since is not None:
            clauses.append("s.created_at >= ?")
            params.append(self.since)
        if self.until is not None:
            clauses.append("s.created_at < ?")
            params.append(self.until)
        return " AND ".join(clauses), params


@dataclass(frozen=True)
class SessionItem:
    """One row of the session list."""

    session_id: str
    state: str
    project: str
    entrypoint: str
    trigger: str  # the trigger's name, "" when started by hand
    error: str  # "ValueError: message" for a session in error, else ""
    created_at: float
    started_at: float | None
    ended_at: float | None
    steps: int

    @property
    def duration(self) -> float | None:
        return None if self.ended_at is None else self.ended_at - (self.started_at or self.created_at)


@dataclass(frozen=True)
class SessionPage:
    items: list[SessionItem]
    newer: str = ""  # id to pass as ``after`` for the previous (newer) page, "" on the first
    older: str = ""  # id to pass as ``before`` for the next (older) page, "" on the last


_SELECT = (
    "SELECT s.session_id, s.state, p.name AS project, s.entrypoint, t.name AS trigger_name, s.error,"
    " s.created_at, s.started_at, s.ended_at, s.steps FROM sessions s"
    " LEFT JOIN projects p USING (project_id)"
    " LEFT JOIN triggers t ON t.trigger_id = s.trigger_id AND s.trigger_id != ''"
)


_WITH_ERROR = (SessionState.ERROR, SessionState.STOPPED)  # the states whose error column the list shows


def _error_text(raw: str | None) -> str:
    if not raw:
        return ""
    try:
        err = json.loads(raw)
    except ValueError:
        return raw
    if not isinstance(err, dict):
        return str(err)
    kind, message = str(err.get("type") or ""), str(err.get("message") or "")
    return f"{kind}: {message}" if kind and message else kind or message


def _item(r: Row) -> SessionItem:
    return SessionItem(
        r["session_id"], r["state"], r["project"] or "", r["entrypoint"], r["trigger_name"] or "",
        _error_text(r["error"]) if r["state"] in _WITH_ERROR else "", float(r["created_at"]),
        r["started_at"], r["ended_at"], int(r["steps"] or 0),
    )  # fmt: skip


async def session_page(db: Database, f: SessionFilter, *, before: str = "", after: str = "") -> SessionPage:
    """Newest first; ``after`` walks back towards newer sessions."""
    where, params = f.where()
    if after:
        rows = await db.fetchall(
            f"{_SELECT} WHERE {where} AND s.session_id > ? ORDER BY s.session_id ASC LIMIT ?",
            [*params, after, PAGE_SIZE + 1],
        )
        has_newer = len(rows) > PAGE_SIZE
        items = [_item(r) for r in reversed(rows[:PAGE_SIZE])]
        return SessionPage(
            items, newer=items[0].session_id if has_newer else "", older=items[-1].session_id if items else ""
        )
    if before:
        where += " AND s.session_id < ?"
        params.append(before)
    rows = await db.fetchall(f"{_SELECT} WHERE {where} ORDER BY s.session_id DESC LIMIT ?", [*params, PAGE_SIZE + 1])
    items = [_item(r) for r in rows[:PAGE_SIZE]]
    newer = items[0].session_id if before and items else ""
    return SessionPage(items, newer=newer, older=items[-1].session_id if len(rows) > PAGE_SIZE else "")


async def state_counts(db: Database, f: SessionFilter) -> dict[str, int]:
    """Sessions per state under every part of the filter but the state: one grouped COUNT."""
    where, params = f.where(with_state=False)
    rows = await db.fetchall(f"SELECT s.state, COUNT(*) AS n FROM sessions s WHERE {where} GROUP BY s.state", params)
    return {r["state"]: int(r["n"]) for r in rows}


async def trigger_names(db: Database, project_id: str = "") -> list[str]:
    """The names the trigger filter offers: every trigger of the project (or of all projects)."""
    rows = await db.fetchall(
        "SELECT DISTINCT name FROM triggers WHERE ?='' OR project_id=? ORDER BY name", (project_id, project_id)
    )
    return [str(r["name"]) for r in rows]

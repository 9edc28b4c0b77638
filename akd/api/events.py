"""/api/v1/events: list, get (optionally waiting for the sessions it started)."""

from __future__ import annotations

import pickle
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from akd.api.common import ctx, int_param, must, ok, rfc3339
from akd.store import events as store
from akd.store import projects as projects_store
from akd.store.db import Row


def jsonable(value: Any) -> Any:
    """Event data holds bytes (the raw body): shown as text when it decodes, else hex."""
    if isinstance(value, bytes):
        try:
            return value.decode()
        except UnicodeDecodeError:
            return {"hex": value.hex()}
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [jsonable(v) for v in value]
    return value


def event_json(row: Row, session_ids: list[str], *, with_data: bool = False) -> dict[str, Any]:
    data: dict[str, Any] = {
        "event_id": row["event_id"],
        "event_type": row["event_type"],
        "trigger": row["trigger_name"],
        "trigger_id": row["trigger_id"],
        "project_id": row["project_id"],
        "source": row["source"],
        "state": row["state"],
        "session_ids": session_ids,
        "created_at": rfc3339(row["created_at"]),
    }
    if with_data:
        data["data"] = jsonable(pickle.loads(row["data"]))
    return data


async def _sessions_of(request: Request, event_id: str) -> list[Row]:
    return await ctx(request).db.fetchall(
        "SELECT session_id, state FROM sessions WHERE event_id=? ORDER BY session_id", (event_id,)
    )


async def list_events(request: Request) -> JSONResponse:
    c = ctx(request)
    project = request.query_params.get("project", "")
    project_id = ""
    if project:
        project_id = must(await projects_store.project_by_name(c.db, project), "project", project)["project_id"]
    rows = await store.list_events(c.db, project_id=project_id, limit=int_param(request, "limit", 50))
    return ok([event_json(r, (r["session_ids"] or "").split(",") if r["session_ids"] else []) for r in rows])


async def get_event(request: Request) -> JSONResponse:
    """``?wait=final&timeout=S`` waits until the event is dispatched and its sessions ended."""
    c = ctx(request)
    event_id = request.path_params["id"]
    row = must(await store.get_event(c.db, event_id), "event", event_id)
    if request.query_params.get("wait") == "final":
        timeout = int_param(request, "timeout", 30, lo=0, hi=3600)

        async def settled() -> bool | None:
            ev = await store.get_event(c.db, event_id)
            if ev is None or ev["state"] == "pending":
                return None
            rows = await _sessions_of(request, event_id)
            return True if all(r["state"] in ("completed", "error", "stopped") for r in rows) else None

        await c.engine_notifier().wait_for(settled, timeout)
        row = must(await store.get_event(c.db, event_id), "event", event_id)
    sessions = await _sessions_of(request, event_id)
    return ok(event_json(row, [r["session_id"] for r in sessions], with_data=True))


routes = [
    Route("/events", list_events),
    Route("/events/{id}", get_event),
]

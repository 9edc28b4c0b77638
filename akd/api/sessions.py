"""/api/v1/sessions: list, get, prints, log."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from akd.api.common import ctx, int_param, json_body, must, ok, rfc3339, session_json
from akd.errors import InvalidArgument
from akd.ids import has_prefix
from akd.services import sessions as services
from akd.store import projects as projects_store
from akd.store import sessions as store
from akd.store.sessions import LogEntry, SessionRecord
from akd.store.states import FINAL


async def resolve_session(request: Request, ident: str) -> SessionRecord:
    """A session id, or a project name meaning that project's latest session."""
    db = ctx(request).db
    if has_prefix(ident, "ses"):
        return must(await store.get(db, ident), "session", ident)
    project = must(await projects_store.project_by_name(db, ident), "session or project", ident)
    return must(await store.latest_for_project(db, project.project_id), "session of project", ident)


async def list_sessions(request: Request) -> JSONResponse:
    db = ctx(request).db
    q = request.query_params
    project_id = ""
    if q.get("project"):
        project_id = must(await projects_store.project_by_name(db, q["project"]), "project", q["project"]).project_id
    rows = await store.list_sessions(
        db,
        project_id=project_id,
        deployment_id=q.get("deployment", ""),
        state=q.get("state", ""),
        limit=int_param(request, "limit", 50),
        before=q.get("before", ""),
    )
    stalls = db.stalls
    return ok([session_json(r, stalls.get(r.session_id)) for r in rows])


async def get_session(request: Request) -> JSONResponse:
    """``?wait=STATE[,STATE]&timeout=S`` waits until the session reaches one of the states."""
    row = await resolve_session(request, request.path_params["id"])
    wait = request.query_params.get("wait", "")
    if wait:
        states = set(FINAL) | (set() if wait == "final" else set(wait.split(",")))
        timeout = int_param(request, "timeout", 30, lo=0, hi=3600)
        sid = row.session_id
        c = ctx(request)

        async def reached() -> SessionRecord | None:
            current = await store.get(c.db, sid)
            return current if current is None or current.state in states or current.state in FINAL else None

        row = await c.notifier.wait_for(reached, timeout) or must(await store.get(c.db, sid), "session", sid)
    data = session_json(row, ctx(request).db.stalls.get(row.session_id))
    c = ctx(request)
    if c.config.temporal.ui_port and not c.config.temporal.address:
        data["temporal_ui_url"] = (
            f"http://127.0.0.1:{c.config.temporal.ui_port}/namespaces/{c.config.temporal.namespace}"
            f"/workflows/{row.session_id}"
        )
    return ok(data)


async def start_session(request: Request) -> JSONResponse:
    body = await json_body(request)
    inputs = body.get("inputs") or {}
    if not isinstance(inputs, dict):
        raise InvalidArgument("inputs must be an object")
    session_id = await services.start_manual(
        ctx(request), str(body.get("project", "")), str(body.get("entrypoint", "")), inputs
    )
    return ok({"session_id": session_id}, status=201)


async def stop_session(request: Request) -> JSONResponse:
    row = await resolve_session(request, request.path_params["id"])
    body = await json_body(request)
    delay = body.get("delay", 0)
    if not isinstance(delay, int | float) or delay < 0:
        raise InvalidArgument("delay must be a non-negative number of seconds")
    await services.stop(ctx(request), row, str(body.get("reason") or ""), bool(body.get("force")), float(delay))
    return ok({"session_id": row.session_id, "status": "stopping"}, status=202)


async def restart_session(request: Request) -> JSONResponse:
    row = await resolve_session(request, request.path_params["id"])
    return ok({"session_id": await services.restart(ctx(request), row), "restart_of": row.session_id}, 201)


async def delete_session(request: Request) -> JSONResponse:
    row = await resolve_session(request, request.path_params["id"])
    await services.delete(ctx(request), row)
    return ok({"session_id": row.session_id, "deleted": True})


def log_json(row: LogEntry) -> dict[str, Any]:
    return {"id": row.id, "t": rfc3339(row.t), "kind": row.kind, **json.loads(row.data)}


async def get_prints(request: Request) -> JSONResponse:
    row = await resolve_session(request, request.path_params["id"])
    after = int_param(request, "after", 0, lo=0, hi=2**62)
    limit = int_param(request, "limit", 1000, hi=100_000)
    desc = request.query_params.get("order", "asc") == "desc"
    rows = await store.list_prints(ctx(request).db, row.session_id, after=after, limit=limit, descending=desc)
    return ok(
        {
            "session_id": row.session_id,
            "state": row.state.value,
            "prints": [{"id": r.id, "t": rfc3339(r.t), "text": r.text} for r in rows],
        }
    )


async def get_log(request: Request) -> JSONResponse:
    row = await resolve_session(request, request.path_params["id"])
    after = int_param(request, "after", 0, lo=0, hi=2**62)
    limit = int_param(request, "limit", 1000, hi=100_000)
    desc = request.query_params.get("order", "asc") == "desc"
    rows = await store.list_log(ctx(request).db, row.session_id, after=after, limit=limit, descending=desc)
    return ok({"session_id": row.session_id, "state": row.state.value, "records": [log_json(r) for r in rows]})


routes = [
    Route("/sessions", list_sessions),
    Route("/sessions", start_session, methods=["POST"]),
    Route("/sessions/{id}", get_session),
    Route("/sessions/{id}", delete_session, methods=["DELETE"]),
    Route("/sessions/{id}/stop", stop_session, methods=["POST"]),
    Route("/sessions/{id}/restart", restart_session, methods=["POST"]),
    Route("/sessions/{id}/prints", get_prints),
    Route("/sessions/{id}/log", get_log),
]

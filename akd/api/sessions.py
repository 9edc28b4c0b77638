"""/api/v1/sessions: list, get, prints, log."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from akd.api.common import ctx, int_param, must, ok, rfc3339, session_json
from akd.ids import has_prefix
from akd.store import projects as projects_store
from akd.store import sessions as store
from akd.store.db import Row


async def resolve_session(request: Request, ident: str) -> Row:
    """A session id, or a project name meaning that project's latest session."""
    db = ctx(request).db
    if has_prefix(ident, "ses"):
        return must(await store.get(db, ident), "session", ident)
    project = must(await projects_store.project_by_name(db, ident), "session or project", ident)
    return must(await store.latest_for_project(db, project["project_id"]), "session of project", ident)


async def list_sessions(request: Request) -> JSONResponse:
    db = ctx(request).db
    q = request.query_params
    project_id = ""
    if q.get("project"):
        project_id = must(await projects_store.project_by_name(db, q["project"]), "project", q["project"])["project_id"]
    rows = await store.list_sessions(
        db,
        project_id=project_id,
        deployment_id=q.get("deployment", ""),
        state=q.get("state", ""),
        limit=int_param(request, "limit", 50),
        before=q.get("before", ""),
    )
    return ok([session_json(r) for r in rows])


async def get_session(request: Request) -> JSONResponse:
    row = await resolve_session(request, request.path_params["id"])
    return ok(session_json(row))


def log_json(row: Row) -> dict[str, Any]:
    return {"id": row["id"], "t": rfc3339(row["t"]), "kind": row["kind"], **json.loads(row["data"])}


async def get_prints(request: Request) -> JSONResponse:
    row = await resolve_session(request, request.path_params["id"])
    after = int_param(request, "after", 0, lo=0, hi=2**62)
    limit = int_param(request, "limit", 1000, hi=100_000)
    rows = await store.list_log(ctx(request).db, row["session_id"], kinds=("print",), after=after, limit=limit)
    return ok(
        {
            "session_id": row["session_id"],
            "state": row["state"],
            "prints": [{"id": r["id"], "t": rfc3339(r["t"]), "text": json.loads(r["data"])["text"]} for r in rows],
        }
    )


async def get_log(request: Request) -> JSONResponse:
    row = await resolve_session(request, request.path_params["id"])
    after = int_param(request, "after", 0, lo=0, hi=2**62)
    limit = int_param(request, "limit", 1000, hi=100_000)
    desc = request.query_params.get("order", "asc") == "desc"
    rows = await store.list_log(ctx(request).db, row["session_id"], after=after, limit=limit, descending=desc)
    return ok({"session_id": row["session_id"], "state": row["state"], "records": [log_json(r) for r in rows]})


routes = [
    Route("/sessions", list_sessions),
    Route("/sessions/{id}", get_session),
    Route("/sessions/{id}/prints", get_prints),
    Route("/sessions/{id}/log", get_log),
]

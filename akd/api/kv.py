"""/api/v1/store: a project's key-value store, as seen by its sessions."""

from __future__ import annotations

import json
import time

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from akd.api.common import ctx, json_body, must, ok, rfc3339
from akd.engine.sdk_calls import MAX_VALUE_BYTES
from akd.errors import InvalidArgument, NotFound
from akd.store import projects as projects_store


async def _project_id(request: Request, name: str) -> str:
    if not name:
        raise InvalidArgument("--project is required")
    return str(must(await projects_store.project_by_name(ctx(request).db, name), "project", name)["project_id"])


async def list_keys(request: Request) -> JSONResponse:
    project_id = await _project_id(request, request.query_params.get("project", ""))
    rows = await ctx(request).db.fetchall(
        "SELECT key, value, updated_at FROM kv WHERE project_id=? ORDER BY key", (project_id,)
    )
    return ok([{"key": r["key"], "value": json.loads(r["value"]), "updated_at": rfc3339(r["updated_at"])}
               for r in rows])  # fmt: skip


async def get_key(request: Request) -> JSONResponse:
    project_id = await _project_id(request, request.query_params.get("project", ""))
    key = request.path_params["key"]
    row = await ctx(request).db.fetchone("SELECT value FROM kv WHERE project_id=? AND key=?", (project_id, key))
    if row is None:
        raise NotFound(f"no value stored under key {key!r}")
    return ok({"key": key, "value": json.loads(row["value"])})


async def set_key(request: Request) -> JSONResponse:
    body = await json_body(request)
    project_id = await _project_id(request, str(body.get("project") or ""))
    key = request.path_params["key"]
    value = body.get("value")
    db = ctx(request).db
    if value is None:
        await db.execute("DELETE FROM kv WHERE project_id=? AND key=?", (project_id, key))
        return ok({"key": key, "value": None})
    text = json.dumps(value)
    if len(text.encode()) > MAX_VALUE_BYTES:
        raise InvalidArgument(f"value is {len(text.encode())} bytes encoded; the limit is {MAX_VALUE_BYTES}")
    await db.execute(
        "INSERT INTO kv (project_id, key, value, updated_at) VALUES (?,?,?,?) ON CONFLICT (project_id, key)"
        " DO UPDATE SET value=excluded.value, updated_at=excluded.updated_at",
        (project_id, key, text, time.time()),
    )
    return ok({"key": key, "value": value})


routes = [
    Route("/store", list_keys),
    Route("/store/{key:path}", get_key),
    Route("/store/{key:path}", set_key, methods=["PUT", "POST"]),
]

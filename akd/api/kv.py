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
from akd.store import project_data
from akd.store import projects as projects_store


async def _project_id(request: Request, name: str) -> str:
    if not name:
        raise InvalidArgument("--project is required")
    return str(must(await projects_store.project_by_name(ctx(request).db, name), "project", name).project_id)


async def list_keys(request: Request) -> JSONResponse:
    project_id = await _project_id(request, request.query_params.get("project", ""))
    entries = await project_data.store_entries(ctx(request).db, project_id)
    return ok([{"key": e.key, "value": e.value, "updated_at": rfc3339(e.updated_at)} for e in entries])


async def get_key(request: Request) -> JSONResponse:
    project_id = await _project_id(request, request.query_params.get("project", ""))
    key = request.path_params["key"]
    entry = await project_data.store_entry(ctx(request).db, project_id, key)
    if entry is None:
        raise NotFound(f"no value stored under key {key!r}")
    return ok({"key": key, "value": entry.value})


async def set_key(request: Request) -> JSONResponse:
    body = await json_body(request)
    project_id = await _project_id(request, str(body.get("project") or ""))
    key = request.path_params["key"]
    value = body.get("value")
    db = ctx(request).db
    if value is None:
        await project_data.delete_store_key(db, project_id, key)
        return ok({"key": key, "value": None})
    text = json.dumps(value)
    if len(text.encode()) > MAX_VALUE_BYTES:
        raise InvalidArgument(f"value is {len(text.encode())} bytes encoded; the limit is {MAX_VALUE_BYTES}")
    await project_data.set_store_value(db, project_id, key, text, time.time())
    return ok({"key": key, "value": value})


routes = [
    Route("/store", list_keys),
    Route("/store/{key:path}", get_key),
    Route("/store/{key:path}", set_key, methods=["PUT", "POST"]),
]

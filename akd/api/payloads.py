"""/api/v1/projects/{p}/triggers/{t}/payloads: a trigger's saved test payloads and recent real ones."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from akd.api.common import ctx, int_param, json_body, must, ok, rfc3339
from akd.api.events import jsonable
from akd.errors import InvalidArgument, NotFound
from akd.store import payloads as store
from akd.store import projects as projects_store

MAX_PAYLOAD = 512 * 1024  # as much as a webhook body may carry
NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.")


async def _scope(request: Request) -> tuple[str, str, str]:
    """(project id, project name, trigger name) of the path; NotFound for either."""
    c = ctx(request)
    project, trigger = request.path_params["project"], request.path_params["trigger"]
    prj = must(await projects_store.project_by_name(c.db, project), "project", project)
    if not await store.trigger_exists(c.db, prj.project_id, trigger):
        raise NotFound(f"project {project!r} has no trigger named {trigger!r}")
    return prj.project_id, project, trigger


def _saved_json(project: str, p: store.SavedPayload) -> dict[str, Any]:
    return {
        "kind": "saved", "name": p.name, "project": project, "trigger": p.trigger_name,
        "data": json.loads(p.data), "created_at": rfc3339(p.created_at), "updated_at": rfc3339(p.updated_at),
    }  # fmt: skip


def _recent_json(project: str, trigger: str, p: store.RecentPayload) -> dict[str, Any]:
    return {
        "kind": "recent", "name": p.event_id, "event_id": p.event_id, "event_type": p.event_type,
        "source": p.source, "project": project, "trigger": trigger, "data": jsonable(p.data),
        "created_at": rfc3339(p.created_at), "updated_at": rfc3339(p.created_at),
    }  # fmt: skip


def valid_name(name: str) -> str:
    if not name or len(name) > 100 or not set(name) <= NAME_CHARS:
        raise InvalidArgument(f"payload name {name!r}: use 1-100 letters, digits, '_', '-' or '.'")
    return name


def payload_text(body: dict[str, Any]) -> str:
    """The ``data`` of a save request as JSON text: an object, at most MAX_PAYLOAD bytes."""
    data = body.get("data")
    if not isinstance(data, dict):
        raise InvalidArgument("data must be a JSON object (the event's data)")
    text = json.dumps(data)
    if len(text.encode()) > MAX_PAYLOAD:
        raise InvalidArgument(f"data is {len(text.encode())} bytes as JSON; the limit is {MAX_PAYLOAD}")
    return text


async def list_payloads(request: Request) -> JSONResponse:
    """The saved payloads by name; ``?recent=N`` adds the data of the trigger's last N events."""
    project_id, project, trigger = await _scope(request)
    db = ctx(request).db
    found = [_saved_json(project, p) for p in await store.list_saved(db, project_id, trigger)]
    count = int_param(request, "recent", 0, lo=0, hi=100)
    if count:
        found += [_recent_json(project, trigger, p) for p in await store.recent(db, project_id, trigger, count)]
    return ok(found)


async def get_payload(request: Request) -> JSONResponse:
    project_id, project, trigger = await _scope(request)
    name = request.path_params["name"]
    found = await store.get_saved(ctx(request).db, project_id, trigger, name)
    if found is None:
        raise NotFound(f"trigger {project}/{trigger} has no saved payload named {name!r}")
    return ok(_saved_json(project, found))


async def put_payload(request: Request) -> JSONResponse:
    """Save (create or replace) a payload: body ``{"data": {...}}``; 201 when new."""
    project_id, project, trigger = await _scope(request)
    name = valid_name(request.path_params["name"])
    db = ctx(request).db
    created = await store.save(db, project_id, trigger, name, payload_text(await json_body(request)))
    saved = await store.get_saved(db, project_id, trigger, name)
    assert saved is not None
    return ok(_saved_json(project, saved), status=201 if created else 200)


async def delete_payload(request: Request) -> JSONResponse:
    project_id, project, trigger = await _scope(request)
    name = request.path_params["name"]
    if not await store.delete(ctx(request).db, project_id, trigger, name):
        raise NotFound(f"trigger {project}/{trigger} has no saved payload named {name!r}")
    return ok({"deleted": name, "project": project, "trigger": trigger})


_BASE = "/projects/{project}/triggers/{trigger}/payloads"
routes = [
    Route(_BASE, list_payloads),
    Route(_BASE + "/{name}", get_payload),
    Route(_BASE + "/{name}", put_payload, methods=["PUT"]),
    Route(_BASE + "/{name}", delete_payload, methods=["DELETE"]),
]

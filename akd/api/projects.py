"""/api/v1/deploy and /api/v1/projects, /deployments, /triggers."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from akd.api.common import ctx, json_body, must, ok, rfc3339
from akd.api.connections import connection_json
from akd.errors import InvalidArgument
from akd.services.deploy import deploy
from akd.store import projects as store
from akd.store.projects import ProjectRecord
from akd.store.triggers import TriggerRecord


def _files(body: dict[str, Any]) -> dict[str, bytes]:
    raw = body.get("files")
    if not isinstance(raw, dict):
        raise InvalidArgument("files must be an object of path -> base64 content")
    try:
        return {str(path): base64.b64decode(content, validate=True) for path, content in raw.items()}
    except (binascii.Error, TypeError) as exc:
        raise InvalidArgument(f"files: invalid base64 content: {exc}") from None


async def post_deploy(request: Request) -> JSONResponse:
    body = await json_body(request)
    manifest = body.get("manifest")
    if not isinstance(manifest, str):
        raise InvalidArgument("manifest must be the text of autokitteh.yaml")
    c = ctx(request)
    root_dir, force = str(body.get("root_dir", "")), body.get("force") is True
    result = await deploy(c.db, c.config.data_dir, c.base_url, manifest, _files(body), root_dir, force)
    await c.engine.reconcile_schedules()
    return ok(
        {
            "project_id": result.project_id,
            "build_id": result.build_id,
            "deployment_id": result.deployment_id,
            "webhooks": result.webhooks,
            "connections": [connection_json(r) for r in result.connections],
        }
    )


def trigger_json(row: TriggerRecord, base_url: str) -> dict[str, Any]:
    return {
        "trigger_id": row.trigger_id,
        "name": row.name,
        "type": row.type,
        "call": row.call,
        "event_type": row.event_type,
        "filter": row.filter,
        "is_sync": bool(row.is_sync),
        "is_durable": bool(row.is_durable),
        "schedule": row.schedule,
        "timezone": row.timezone,
        "connection": row.connection,
        "webhook_url": f"{base_url}/webhooks/{row.slug}" if row.slug else None,
    }


def project_json(row: ProjectRecord) -> dict[str, Any]:
    return {
        "project_id": row.project_id,
        "name": row.name,
        "display_name": row.display_name,
        "root_dir": row.root_dir,
        "active_deployment_id": row.active_deployment_id,
        "created_at": rfc3339(row.created_at),
        "updated_at": rfc3339(row.updated_at),
    }


async def list_projects(request: Request) -> JSONResponse:
    return ok([project_json(r) for r in await store.list_projects(ctx(request).db)])


async def get_project(request: Request) -> JSONResponse:
    c = ctx(request)
    name = request.path_params["name"]
    rows = [r for r in await store.list_projects(c.db) if name in (r.name, r.project_id)]
    row = must(rows[0] if rows else None, "project", name)
    data = project_json(row)
    data["triggers"] = [trigger_json(t, c.base_url) for t in await store.triggers_of(c.db, row.project_id)]
    data["counts"] = await store.counts(c.db, row.project_id)
    return ok(data)


routes = [
    Route("/deploy", post_deploy, methods=["POST"]),
    Route("/projects", list_projects),
    Route("/projects/{name}", get_project),
]

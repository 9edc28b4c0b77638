"""/api/v1 project lifecycle: manifest plan, project delete, builds, deployments, vars.

Secret var values leave the daemon only with ``?reveal=true``; otherwise they read
``********``.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from akd.api.common import ctx, json_body, ok, rfc3339
from akd.errors import InvalidArgument
from akd.services import lifecycle as service
from akd.services.deploy import plan
from akd.store.builds import BuildRecord
from akd.store.deployments import DeploymentRecord
from akd.store.states import ORDER
from akd.store.vars import Var
from akd.store.vars import list_vars as list_vars_of
from akd.vendor_layers import layer_home
from akd.venvs import is_ready

_DEPLOYMENT_STATES = ("active", "draining", "inactive", "testing")


def build_json(row: BuildRecord) -> dict[str, Any]:
    return {
        "build_id": row.build_id,
        "project": row.project,
        "project_id": row.project_id,
        "digest": row.digest,
        "size": row.size,
        "requirements": row.requirements,
        "created_at": rfc3339(row.created_at),
    }


def deployment_json(row: DeploymentRecord) -> dict[str, Any]:
    counts = {state.value: row.session_counts[state.value] for state in ORDER}
    return {
        "deployment_id": row.deployment_id,
        "project": row.project,
        "project_id": row.project_id,
        "build_id": row.build_id,
        "state": row.state,
        "sessions": counts,
        "session_count": sum(counts.values()),
        "created_at": rfc3339(row.created_at),
        "updated_at": rfc3339(row.updated_at),
    }


def var_json(var: Var, project: str) -> dict[str, Any]:
    return {**asdict(var), "project": project, "updated_at": rfc3339(var.updated_at)}


def _flag(request: Request, name: str) -> bool:
    return request.query_params.get(name, "").lower() in ("1", "true", "yes")


async def post_plan(request: Request) -> JSONResponse:
    body = await json_body(request)
    manifest = body.get("manifest")
    if not isinstance(manifest, str):
        raise InvalidArgument("manifest must be the text of autokitteh.yaml")
    c = ctx(request)
    return ok(await plan(c.db, c.config.data_dir, manifest, str(body.get("root_dir", ""))))


async def _reconcile(request: Request) -> None:
    """Triggers may have changed: schedules follow them."""
    await ctx(request).engine.reconcile_schedules()


async def delete_project(request: Request) -> JSONResponse:
    row = await service.delete_project(ctx(request), request.path_params["name"])
    await _reconcile(request)
    return ok({"project_id": row.project_id, "name": row.name, "deleted": True})


async def list_builds(request: Request) -> JSONResponse:
    rows = await service.list_builds(ctx(request).db, request.query_params.get("project", ""))
    return ok([build_json(r) for r in rows])


async def get_build(request: Request) -> JSONResponse:
    c = ctx(request)
    row = await service.get_build(c.db, request.path_params["id"])
    data = build_json(row)
    data["deployment_ids"] = await service.deployments_of_build(c.db, row.build_id)
    data["files"] = service.build_files(c.config.data_dir, row.digest)
    data["manifest"] = row.manifest  # stored with secret values masked
    return ok(data)


async def list_deployments(request: Request) -> JSONResponse:
    q = request.query_params
    state = q.get("state", "")
    if state and state not in _DEPLOYMENT_STATES:
        raise InvalidArgument(f"state must be one of {', '.join(_DEPLOYMENT_STATES)}, got {state!r}")
    rows = await service.list_deployments(ctx(request).db, q.get("project", ""), state)
    return ok([deployment_json(r) for r in rows])


async def get_deployment(request: Request) -> JSONResponse:
    return ok(deployment_json(await service.get_deployment(ctx(request).db, request.path_params["id"])))


async def activate_deployment(request: Request) -> JSONResponse:
    row = await service.activate_deployment(ctx(request), request.path_params["id"])
    await _reconcile(request)
    return ok(deployment_json(row))


async def deactivate_deployment(request: Request) -> JSONResponse:
    return ok(deployment_json(await service.deactivate_deployment(ctx(request), request.path_params["id"])))


async def delete_deployment(request: Request) -> JSONResponse:
    row = await service.delete_deployment(ctx(request), request.path_params["id"])
    return ok({"deployment_id": row.deployment_id, "deleted": True})


async def list_vars(request: Request) -> JSONResponse:
    c = ctx(request)
    prj = await service.project(c.db, request.path_params["name"])
    found = await list_vars_of(c.db, c.config.data_dir, prj.project_id, reveal=_flag(request, "reveal"))
    return ok([var_json(v, prj.name) for v in found])


async def get_var(request: Request) -> JSONResponse:
    c = ctx(request)
    prj = await service.project(c.db, request.path_params["name"])
    var = await service.get_var(
        c.db, c.config.data_dir, prj.project_id, request.path_params["var"], reveal=_flag(request, "reveal")
    )
    return ok(var_json(var, prj.name))


async def put_var(request: Request) -> JSONResponse:
    body = await json_body(request)
    value, secret, description = body.get("value"), body.get("secret", False), body.get("description")
    if not isinstance(value, str):
        raise InvalidArgument("value must be a string")
    if not isinstance(secret, bool) or not isinstance(description, str | None):
        raise InvalidArgument("secret must be a boolean and description a string")
    c = ctx(request)
    prj = await service.project(c.db, request.path_params["name"])
    var = await service.set_var(
        c.db, c.config.data_dir, prj.project_id, request.path_params["var"], value,
        secret=secret, description=description,
    )  # fmt: skip
    return ok(var_json(var, prj.name))


async def delete_var(request: Request) -> JSONResponse:
    c = ctx(request)
    prj = await service.project(c.db, request.path_params["name"])
    await service.delete_var(c.db, prj.project_id, request.path_params["var"])
    return ok({"name": request.path_params["var"], "project": prj.name, "deleted": True})


async def get_venv(request: Request) -> JSONResponse:
    digest = request.path_params["hash"]
    if not digest.isalnum():
        raise InvalidArgument("expected a requirements hash (hex digits)")
    ready = is_ready(ctx(request).config.data_dir, digest) or is_ready(layer_home(), digest)
    return ok({"requirements_hash": digest, "ready": ready})


routes = [
    Route("/manifest/plan", post_plan, methods=["POST"]),
    Route("/projects/{name}", delete_project, methods=["DELETE"]),
    Route("/projects/{name}/vars", list_vars),
    Route("/projects/{name}/vars/{var}", get_var),
    Route("/projects/{name}/vars/{var}", put_var, methods=["PUT"]),
    Route("/projects/{name}/vars/{var}", delete_var, methods=["DELETE"]),
    Route("/builds", list_builds),
    Route("/builds/{id}", get_build),
    Route("/deployments", list_deployments),
    Route("/deployments/{id}", get_deployment),
    Route("/deployments/{id}", delete_deployment, methods=["DELETE"]),
    Route("/deployments/{id}/activate", activate_deployment, methods=["POST"]),
    Route("/deployments/{id}/deactivate", deactivate_deployment, methods=["POST"]),
    Route("/venvs/{hash}", get_venv),
]

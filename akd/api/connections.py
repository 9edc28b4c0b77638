"""/api/v1/connections and /api/v1/integrations: a project's connections, their vars,
status, init and test; the integrations akd knows."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from akd import integrations
from akd.api import github, slack, vendor_hooks
from akd.api.common import ctx, json_body, ok, rfc3339
from akd.errors import InvalidArgument, NotFound
from akd.integrations import Integration, VarDef
from akd.services import connections as service
from akd.services import oauth as oauth_service
from akd.services.connections import ConnectionVar
from akd.store import connections as store
from akd.store import projects as projects_store
from akd.store.connections import ConnectionRecord

# What ``connection get`` adds for integrations that receive events over HTTP: their
# inbound URL (``webhook_url``), and Slack's Socket Mode state.
InboundFields = Callable[[Request, ConnectionRecord], Awaitable[dict[str, Any]]]
INBOUND: dict[str, InboundFields] = {
    "github": github.connection_fields,
    "slack": slack.connection_fields,
    **{name: vendor_hooks.connection_fields for name in vendor_hooks.VENDORS},
}


def connection_json(rec: ConnectionRecord) -> dict[str, Any]:
    return {
        "connection_id": rec.connection_id,
        "name": rec.name,
        "project": rec.project,
        "project_id": rec.project_id,
        "integration": rec.integration,
        "status": rec.status.value,
        "status_message": rec.status_message,
        "created_at": rfc3339(rec.created_at),
        "updated_at": rfc3339(rec.updated_at),
    }


def var_json(var: ConnectionVar, rec: ConnectionRecord) -> dict[str, Any]:
    return {
        "name": var.name,
        "value": var.value,
        "secret": var.secret,
        "origin": var.origin,
        "connection": f"{rec.project}/{rec.name}",
        "updated_at": rfc3339(var.updated_at),
    }


def integration_json(i: Integration) -> dict[str, Any]:
    return {
        "name": i.name,
        "display_name": i.display_name,
        "auth_modes": [
            {
                "auth_type": m.name,
                "label": m.label,
                "oauth": m.oauth,
                "vars": [_var_def(v) for v in m.vars],
            }
            for m in i.modes
        ],
        "extra_vars": [v.name for v in i.extra_vars] + ["base_url"],
        "has_test": i.has_test,
        "receives_events": i.events,
    }


def _var_def(v: VarDef) -> dict[str, Any]:
    return {"name": v.name, "prompt": v.prompt, "secret": v.secret, "file": v.file, "optional": v.optional}


def _ref(request: Request) -> str:
    return f"{request.path_params['project']}/{request.path_params['name']}"


def _reveal(request: Request) -> bool:
    return request.query_params.get("reveal", "") in ("1", "true", "yes")


async def list_connections(request: Request) -> JSONResponse:
    c = ctx(request)
    project = request.query_params.get("project", "")
    if not project:
        return ok([connection_json(r) for r in await store.list_all(c.db)])
    prj = await projects_store.project_by_name(c.db, project)
    if prj is None:
        raise NotFound(f"project {project!r} not found; see `akctl project list`")
    return ok([connection_json(r) for r in await store.list_for_project(c.db, prj.project_id)])


async def get_connection(request: Request) -> JSONResponse:
    c = ctx(request)
    rec = await service.resolve(c.db, _ref(request))
    data = connection_json(rec)
    data["vars"] = [var_json(v, rec) for v in await service.list_vars(c.db, c.config.data_dir, rec, reveal=False)]
    inbound = INBOUND.get(rec.integration)
    if inbound is not None:
        data.update(await inbound(request, rec))
    return ok(data)


async def delete_connection(request: Request) -> JSONResponse:
    c = ctx(request)
    rec = await service.resolve(c.db, _ref(request))
    await store.delete(c.db, rec.connection_id)
    return ok({**connection_json(rec), "deleted": True})


async def test_connection(request: Request) -> JSONResponse:
    c = ctx(request)
    result = await service.run_test(c.db, c.config.data_dir, await service.resolve(c.db, _ref(request)))
    return ok({**connection_json(result.connection), "ok": result.ok, "message": result.message})


async def init_connection(request: Request) -> JSONResponse:
    """``{"auth_type", "vars": {name: value}, "test": true}``: store one auth mode's credentials."""
    body = await json_body(request)
    auth_type, values, test = body.get("auth_type", ""), body.get("vars"), body.get("test", True)
    if not isinstance(auth_type, str) or not isinstance(values, dict) or not isinstance(test, bool):
        raise InvalidArgument('expected {"auth_type": "...", "vars": {"name": "value"}, "test": true}')
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in values.items()):
        raise InvalidArgument("vars must map names to string values")
    c = ctx(request)
    rec = await service.resolve(c.db, _ref(request))
    result = await service.init(c.db, c.config.data_dir, rec, auth_type, values, test=test)
    return ok({**connection_json(result.connection), "ok": result.ok, "message": result.message})


async def start_oauth(request: Request) -> JSONResponse:
    """A new OAuth authorization: ``{"authorize_url", "state", "redirect_uri", "expires_at"}``."""
    c = ctx(request)
    rec = await service.resolve(c.db, _ref(request))
    started = await oauth_service.start(c.db, c.config.data_dir, c.config.oauth, c.base_url, rec)
    return ok({"authorize_url": started.authorize_url, "state": started.state, "redirect_uri": started.redirect_uri,
               "expires_at": rfc3339(started.expires_at), "connection": f"{rec.project}/{rec.name}"})  # fmt: skip


async def oauth_outcome(request: Request) -> JSONResponse:
    """How an authorization went: ``{"outcome": "pending" | "ok" | "failed", "message", ...}``."""
    c = ctx(request)
    rec = await service.resolve(c.db, _ref(request))
    found = await oauth_service.outcome(c.db, rec, request.path_params["state"])
    current = await store.by_id(c.db, rec.connection_id)
    return ok({"outcome": found.outcome, "message": found.message, "expires_at": rfc3339(found.expires_at),
               **({"connection": connection_json(current)} if current is not None else {})})  # fmt: skip


async def list_vars(request: Request) -> JSONResponse:
    c = ctx(request)
    rec = await service.resolve(c.db, _ref(request))
    found = await service.list_vars(c.db, c.config.data_dir, rec, reveal=_reveal(request))
    return ok([var_json(v, rec) for v in found])


async def get_var(request: Request) -> JSONResponse:
    c = ctx(request)
    rec = await service.resolve(c.db, _ref(request))
    var = await service.get_var(c.db, c.config.data_dir, rec, request.path_params["var"], reveal=_reveal(request))
    return ok(var_json(var, rec))


async def put_var(request: Request) -> JSONResponse:
    body = await json_body(request)
    value, secret = body.get("value"), body.get("secret", False)
    if not isinstance(value, str) or not isinstance(secret, bool):
        raise InvalidArgument("value must be a string and secret a boolean")
    c = ctx(request)
    rec = await service.resolve(c.db, _ref(request))
    var = await service.set_var(c.db, c.config.data_dir, rec, request.path_params["var"], value, secret=secret)
    return ok(var_json(var, rec))


async def delete_var(request: Request) -> JSONResponse:
    c = ctx(request)
    rec = await service.resolve(c.db, _ref(request))
    await service.delete_var(c.db, c.config.data_dir, rec, request.path_params["var"])
    return ok({"name": request.path_params["var"], "connection": f"{rec.project}/{rec.name}", "deleted": True})


async def list_integrations(request: Request) -> JSONResponse:
    return ok([integration_json(integrations.REGISTRY[n]) for n in integrations.known_names()])


async def get_integration(request: Request) -> JSONResponse:
    return ok(integration_json(integrations.get(request.path_params["name"])))


_ONE = "/connections/{project}/{name}"
routes = [
    Route("/connections", list_connections),
    Route(_ONE, get_connection),
    Route(_ONE, delete_connection, methods=["DELETE"]),
    Route(f"{_ONE}/test", test_connection, methods=["POST"]),
    Route(f"{_ONE}/init", init_connection, methods=["POST"]),
    Route(f"{_ONE}/oauth/start", start_oauth, methods=["POST"]),
    Route(f"{_ONE}/oauth/{{state}}", oauth_outcome),
    Route(f"{_ONE}/vars", list_vars),
    Route(f"{_ONE}/vars/{{var}}", get_var),
    Route(f"{_ONE}/vars/{{var}}", put_var, methods=["PUT"]),
    Route(f"{_ONE}/vars/{{var}}", delete_var, methods=["DELETE"]),
    Route("/integrations", list_integrations),
    Route("/integrations/{name}", get_integration),
]

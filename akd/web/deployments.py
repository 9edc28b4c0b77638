"""Pages: deployments with their session counts per state; activate and deactivate."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from akd.api.common import ctx
from akd.services import lifecycle
from akd.store import projects as projects_store
from akd.web.auth import action, page
from akd.web.common import choice_param, notice, query, redirect
from akd.web.render import render

DEPLOYMENT_STATES = ("active", "draining", "inactive", "testing")


@page
async def deployment_list(request: Request) -> Response:
    c = ctx(request)
    project = request.query_params.get("project", "")
    state = choice_param(request, "state", DEPLOYMENT_STATES)
    return render(
        request, "deployments.html", title="Deployments", nav="deployments", project=project, state=state,
        deployments=await lifecycle.list_deployments(c.db, project, state), notice=notice(request),
        projects=await projects_store.list_projects(c.db), deployment_states=DEPLOYMENT_STATES,
    )  # fmt: skip


@action
async def activate(request: Request) -> Response:
    row = await lifecycle.activate_deployment(ctx(request), request.path_params["id"])
    return redirect("/deployments" + query(project=row.project), "activated")


@action
async def deactivate(request: Request) -> Response:
    row = await lifecycle.deactivate_deployment(ctx(request), request.path_params["id"])
    return redirect("/deployments" + query(project=row.project), "deactivated")


routes = [
    Route("/deployments", deployment_list),
    Route("/deployments/{id}/activate", activate, methods=["POST"]),
    Route("/deployments/{id}/deactivate", deactivate, methods=["POST"]),
]

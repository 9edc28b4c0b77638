"""Pages: projects, each with its active deployment, triggers (webhook URLs, a test form,
schedules' next and last fire times) and links to its vars, store, builds and diffs."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from akd.api.common import ctx
from akd.api.projects import trigger_json
from akd.api.triggers import cron_next
from akd.appctx import AppContext
from akd.engine.schedules import next_fire_times
from akd.errors import NotFound
from akd.services import debug, lifecycle
from akd.store import project_data
from akd.store import projects as store
from akd.store.db import Row
from akd.web import queries
from akd.web.auth import action, page
from akd.web.common import notice, redirect
from akd.web.connections import connection_views
from akd.web.render import render


@page
async def project_list(request: Request) -> Response:
    c = ctx(request)
    projects = await store.list_projects(c.db)
    triggers = {p["project_id"]: await store.triggers_of(c.db, p["project_id"]) for p in projects}
    return render(
        request, "projects.html", title="Projects", nav="projects", projects=projects, triggers=triggers,
        counts=await queries.project_session_counts(c.db), notice=notice(request),
    )  # fmt: skip


async def _fires(c: AppContext, t: Row, active: bool, last: dict[str, float]) -> dict[str, Any]:
    """A schedule's next fire times (none while paused: no active deployment) and its last tick."""
    if t["type"] != "schedule":
        return {}
    times: list[float] = []
    if active:
        times = cron_next(t["schedule"], t["timezone"])
        if not times and c.engine is not None:
            times = await next_fire_times(c.engine.client, t["trigger_id"])
    return {"next_fires": times, "last_fire": last.get(t["trigger_id"]), "paused": not active}


@page
async def project_detail(request: Request) -> Response:
    c = ctx(request)
    prj = await lifecycle.project(c.db, request.path_params["name"])
    active = await store.active_deployment(c.db, prj["project_id"])
    last = await project_data.last_ticks(c.db, prj["project_id"])
    triggers = [
        {**trigger_json(t, c.base_url), "path": f"/webhooks/{t['slug']}" if t["slug"] else "",
         **await _fires(c, t, active is not None, last)}
        for t in await store.triggers_of(c.db, prj["project_id"])
    ]  # fmt: skip
    return render(
        request, "project.html", title=f"Project {prj['name']}", nav="projects", p=prj, active=active,
        triggers=triggers, deployments=(await lifecycle.list_deployments(c.db, prj["project_id"]))[:10],
        counts=(await queries.project_session_counts(c.db)).get(prj["project_id"], {}),
        connections=await connection_views(request, prj["project_id"]), notice=notice(request),
    )  # fmt: skip


@action
async def fire_trigger(request: Request) -> Response:
    """A schedule trigger's tick, now (akd.services.debug.fire)."""
    c = ctx(request)
    prj = await lifecycle.project(c.db, request.path_params["name"])
    name = request.path_params["trigger"]
    trigger = next((t for t in await store.triggers_of(c.db, prj["project_id"]) if t["name"] == name), None)
    if trigger is None:
        raise NotFound(f"project {prj['name']} has no trigger {name!r}")
    await debug.fire(c, trigger)
    return redirect(f"/projects/{prj['name']}", "fired")


routes = [
    Route("/", project_list),
    Route("/projects", project_list),
    Route("/projects/{name}/triggers/{trigger}/fire", fire_trigger, methods=["POST"]),
    Route("/projects/{name}", project_detail),
]

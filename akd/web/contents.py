"""Pages: a project's vars (secrets masked: their values never reach the browser) and its
key-value store."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from akd.api.common import ctx
from akd.services import lifecycle
from akd.store import project_data
from akd.store import vars as vars_store
from akd.web.auth import page
from akd.web.common import notice
from akd.web.render import render


@page
async def vars_page(request: Request) -> Response:
    c = ctx(request)
    prj = await lifecycle.project(c.db, request.path_params["name"])
    # reveal=False: a secret's value is replaced by the mask before the template sees it.
    found = await vars_store.list_vars(c.db, c.config.data_dir, prj.project_id, reveal=False)
    return render(
        request, "vars.html", title=f"Vars · {prj.name}", nav="projects", p=prj, vars=found,
        notice=notice(request),
    )  # fmt: skip


@page
async def store_page(request: Request) -> Response:
    c = ctx(request)
    prj = await lifecycle.project(c.db, request.path_params["name"])
    return render(
        request, "store.html", title=f"Store · {prj.name}", nav="projects", p=prj,
        entries=await project_data.store_entries(c.db, prj.project_id), notice=notice(request),
    )  # fmt: skip


routes = [
    Route("/projects/{name}/vars", vars_page),
    Route("/projects/{name}/store", store_page),
]

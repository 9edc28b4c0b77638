"""Delete a project, deployment, session, var or store key: a confirmation page, then a POST.

The GET shows what will be lost (counted from the store, so the page names real numbers)
and a form; the POST is an ``action``, so it needs the viewer's CSRF token like every
other form of the UI (``akd.web.auth``). Both are plain pages: deleting works without
JavaScript, and nothing is deleted by following a link.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from akd.api.common import ctx, must
from akd.errors import FailedPrecondition, NotFound
from akd.services import lifecycle
from akd.services import sessions as session_services
from akd.store import project_data
from akd.store import sessions as sessions_store
from akd.store.states import FINAL
from akd.web.auth import action, form_fields, page
from akd.web.common import query, redirect
from akd.web.render import render


@dataclass(frozen=True)
class Confirmation:
    title: str  # "Delete project hello?"
    lost: list[str]  # what goes with it, one line each
    kept: list[str] = field(default_factory=list)  # what stays, so nobody worries about it
    refused: str = ""  # why it cannot be deleted now ("" when it can)
    fields: dict[str, str] = field(default_factory=dict)  # hidden form fields besides csrf
    back: str = "/"


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def _confirm(request: Request, c: Confirmation) -> Response:
    return render(request, "confirm_delete.html", title=c.title, nav="", c=c, action=request.url.path)


# -- projects --------------------------------------------------------------------------


@page
async def project_confirm(request: Request) -> Response:
    db = ctx(request).db
    prj = await lifecycle.project(db, request.path_params["name"])
    f = await project_data.footprint(db, prj.project_id)
    live = f.live_sessions
    return _confirm(request, Confirmation(
        f"Delete project {prj.name}?",
        [_plural(f.sessions, "session") + " with their prints, timelines and journals", _plural(f.events, "event"),
         _plural(f.store_keys, "store key"), _plural(f.vars, "var"), _plural(f.triggers, "trigger")
         + " (webhook URLs stop answering, schedules stop)", _plural(f.deployments, "deployment"),
         _plural(f.builds, "build")],
        ["the project's directory and files on disk"],
        refused=f"It has {_plural(live, 'live session')} (queued or running): stop them first." if live else "",
        back=f"/projects/{prj.name}",
    ))  # fmt: skip


@action
async def project_delete(request: Request) -> Response:
    await lifecycle.delete_project(ctx(request), request.path_params["name"])
    return redirect("/projects", "deleted")


# -- deployments -----------------------------------------------------------------------


@page
async def deployment_confirm(request: Request) -> Response:
    dep = await lifecycle.get_deployment(ctx(request).db, request.path_params["id"])
    refused = "" if dep.state == "inactive" else f"It is {dep.state}: only inactive deployments can be deleted."
    return _confirm(request, Confirmation(
        f"Delete deployment {dep.deployment_id}?",
        [f"deployment {dep.deployment_id} of project {dep.project} (it can no longer be activated)"],
        [f"its {_plural(sum(dep.session_counts[s] for s in lifecycle.SESSION_STATES), 'session')} (history)",
         f"build {dep.build_id}"],
        refused=refused, back="/deployments" + query(project=dep.project),
    ))  # fmt: skip


@action
async def deployment_delete(request: Request) -> Response:
    dep = await lifecycle.delete_deployment(ctx(request), request.path_params["id"])
    return redirect("/deployments" + query(project=dep.project), "deleted")


# -- sessions --------------------------------------------------------------------------


@page
async def session_confirm(request: Request) -> Response:
    db = ctx(request).db
    row = must(await sessions_store.get(db, request.path_params["id"]), "session", request.path_params["id"])
    size = await project_data.session_size(db, row.session_id)
    final = row.state in FINAL
    return _confirm(request, Confirmation(
        f"Delete session {row.session_id}?",
        [f"session {row.session_id} ({row.state}) and its return value or error", _plural(size.prints, "print"),
         _plural(size.log_records, "timeline record"), _plural(size.journal_entries, "journal entry")],
        ["the event that started it"] if row.event_id else [],
        refused="" if final else f"It is {row.state}: stop it first.",
        back=f"/sessions/{row.session_id}",
    ))  # fmt: skip


@action
async def session_delete(request: Request) -> Response:
    c = ctx(request)
    row = must(await sessions_store.get(c.db, request.path_params["id"]), "session", request.path_params["id"])
    await session_services.delete(c, row)
    return redirect("/sessions" + query(project=row.project), "deleted")


# -- vars and store keys ---------------------------------------------------------------


@page
async def var_confirm(request: Request) -> Response:
    c = ctx(request)
    prj = await lifecycle.project(c.db, request.path_params["name"])
    var = await lifecycle.get_var(c.db, c.config.data_dir, prj.project_id, request.path_params["var"])
    comes_back = ["it comes back with the next deploy (the manifest declares it)"] if var.origin == "manifest" else []
    return _confirm(request, Confirmation(
        f"Delete var {var.name} of {prj.name}?",
        [f"{'secret ' if var.secret else ''}var {var.name} and its value (sessions started later do not get it)"],
        comes_back, back=f"/projects/{prj.name}/vars",
    ))  # fmt: skip


@action
async def var_delete(request: Request) -> Response:
    db = ctx(request).db
    prj = await lifecycle.project(db, request.path_params["name"])
    await lifecycle.delete_var(db, prj.project_id, request.path_params["var"])
    return redirect(f"/projects/{prj.name}/vars", "deleted")


@page
async def key_confirm(request: Request) -> Response:
    db = ctx(request).db
    prj = await lifecycle.project(db, request.path_params["name"])
    key = request.query_params.get("key", "")
    entry = await project_data.store_entry(db, prj.project_id, key)
    if entry is None:
        raise NotFound(f"project {prj.name} stores nothing under key {key!r}")
    return _confirm(request, Confirmation(
        f"Delete store key {key} of {prj.name}?",
        [f"key {key} and its value ({_plural(entry.size, 'byte')} of JSON)"],
        back=f"/projects/{prj.name}/store", fields={"key": key},
    ))  # fmt: skip


@action
async def key_delete(request: Request) -> Response:
    db = ctx(request).db
    prj = await lifecycle.project(db, request.path_params["name"])
    key = (await form_fields(request)).get("key", "")
    if not await project_data.delete_store_key(db, prj.project_id, key):
        raise FailedPrecondition(f"project {prj.name} stores nothing under key {key!r} (deleted already?)")
    return redirect(f"/projects/{prj.name}/store", "deleted")


routes = [
    Route("/projects/{name}/delete", project_confirm),
    Route("/projects/{name}/delete", project_delete, methods=["POST"]),
    Route("/deployments/{id}/delete", deployment_confirm),
    Route("/deployments/{id}/delete", deployment_delete, methods=["POST"]),
    Route("/sessions/{id}/delete", session_confirm),
    Route("/sessions/{id}/delete", session_delete, methods=["POST"]),
    Route("/projects/{name}/vars/{var}/delete", var_confirm),
    Route("/projects/{name}/vars/{var}/delete", var_delete, methods=["POST"]),
    Route("/projects/{name}/store/delete", key_confirm),
    Route("/projects/{name}/store/delete", key_delete, methods=["POST"]),
]

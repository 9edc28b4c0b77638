"""Pages: projects, each with its active deployment, triggers (webhook URLs, a test form,
saved and recent test payloads, schedules' next and last fire times) and links to its
vars, store, builds and diffs."""

from __future__ import annotations

import json
import pickle
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from akd.api.common import ctx
from akd.api.events import jsonable
from akd.api.payloads import payload_text, valid_name
from akd.api.projects import trigger_json
from akd.api.triggers import cron_next
from akd.engine.schedules import next_fire_times
from akd.errors import InvalidArgument, NotFound
from akd.services import debug, lifecycle
from akd.services.context import AppContext
from akd.store import payloads as payloads_store
from akd.store import project_data
from akd.store import projects as store
from akd.store import stats as stats_store
from akd.store.events import NewEvent
from akd.store.projects import ProjectRecord
from akd.store.triggers import TriggerRecord
from akd.web.auth import action, form_fields, page
from akd.web.common import notice, redirect
from akd.web.connections import connection_views
from akd.web.render import render


@page
async def project_list(request: Request) -> Response:
    c = ctx(request)
    projects = await store.list_projects(c.db)
    triggers = {p.project_id: await store.triggers_of(c.db, p.project_id) for p in projects}
    return render(
        request, "projects.html", title="Projects", nav="projects", projects=projects, triggers=triggers,
        counts=await stats_store.counts_by_project(c.db), notice=notice(request),
    )  # fmt: skip


async def _fires(c: AppContext, t: TriggerRecord, active: bool, last: dict[str, float]) -> dict[str, Any]:
    """A schedule's next fire times (none while paused: no active deployment) and its last tick."""
    if t.type != "schedule":
        return {}
    times: list[float] = []
    if active:
        times = cron_next(t.schedule, t.timezone)
        if not times:
            times = await next_fire_times(c.engine.client, t.trigger_id)
    return {"next_fires": times, "last_fire": last.get(t.trigger_id), "paused": not active}


def _request_body(data: Any) -> Any:
    """What a recent webhook event's request carried as its JSON body (None when not JSON)."""
    body = data.get("body") if isinstance(data, dict) else None
    return body.get("json") if isinstance(body, dict) else None


async def _payloads(c: AppContext, project_id: str, t: TriggerRecord) -> dict[str, Any]:
    """A trigger's saved payloads and recent ones, as ``{label, name, json}`` choices; for a
    webhook a choice is the body of a test request (recent requests whose body was not a
    JSON object are left out), for other triggers the event's data."""
    saved = [{"label": p.name, "name": p.name, "json": p.data}
             for p in await payloads_store.list_saved(c.db, project_id, t.name)]  # fmt: skip
    recent = []
    for r in await payloads_store.recent(c.db, project_id, t.name):
        value = _request_body(r.data) if t.slug else jsonable(r.data)
        if isinstance(value, dict):
            recent.append({"label": f"{r.event_id} ({r.source})", "name": r.event_id, "json": json.dumps(value)})
    return {"saved": saved, "recent": recent}


@page
async def project_detail(request: Request) -> Response:
    c = ctx(request)
    prj = await lifecycle.project(c.db, request.path_params["name"])
    active = await store.active_deployment(c.db, prj.project_id)
    last = await project_data.last_ticks(c.db, prj.project_id)
    triggers = [
        {**trigger_json(t, c.base_url), "path": f"/webhooks/{t.slug}" if t.slug else "",
         **await _fires(c, t, active is not None, last), "payloads": await _payloads(c, prj.project_id, t)}
        for t in await store.triggers_of(c.db, prj.project_id)
    ]  # fmt: skip
    return render(
        request, "project.html", title=f"Project {prj.name}", nav="projects", p=prj, active=active,
        triggers=triggers, deployments=(await lifecycle.list_deployments(c.db, prj.project_id))[:10],
        counts=(await stats_store.counts_by_project(c.db)).get(prj.project_id, {}),
        connections=await connection_views(request, prj.project_id), notice=notice(request),
    )  # fmt: skip


@action
async def fire_trigger(request: Request) -> Response:
    """A schedule trigger's tick, now (akd.services.debug.fire)."""
    c = ctx(request)
    prj = await lifecycle.project(c.db, request.path_params["name"])
    name = request.path_params["trigger"]
    trigger = next((t for t in await store.triggers_of(c.db, prj.project_id) if t.name == name), None)
    if trigger is None:
        raise NotFound(f"project {prj.name} has no trigger {name!r}")
    await debug.fire(c, trigger)
    return redirect(f"/projects/{prj.name}", "fired")


async def _trigger(request: Request) -> tuple[ProjectRecord, TriggerRecord]:
    c = ctx(request)
    prj = await lifecycle.project(c.db, request.path_params["name"])
    name = request.path_params["trigger"]
    trigger = next((t for t in await store.triggers_of(c.db, prj.project_id) if t.name == name), None)
    if trigger is None:
        raise NotFound(f"project {prj.name} has no trigger {name!r}")
    return prj, trigger


def _form_data(fields: dict[str, str]) -> dict[str, Any]:
    try:
        data = json.loads(fields.get("data") or "{}")
    except ValueError as exc:
        raise InvalidArgument(f"the payload is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise InvalidArgument("a test payload is a JSON object ({...})")
    return data


@action
async def save_payload(request: Request) -> Response:
    """Save the form's JSON (field ``data``) as the trigger's payload ``save_as``."""
    c = ctx(request)
    prj, trigger = await _trigger(request)
    fields = await form_fields(request)
    name = valid_name(fields.get("save_as", "").strip())
    text = payload_text({"data": _form_data(fields)})
    await payloads_store.save(c.db, prj.project_id, trigger.name, name, text)
    return redirect(f"/projects/{prj.name}#trigger-{trigger.name}")


@action
async def delete_payload(request: Request) -> Response:
    c = ctx(request)
    prj, trigger = await _trigger(request)
    name = request.path_params["payload"]
    if not await payloads_store.delete(c.db, prj.project_id, trigger.name, name):
        raise NotFound(f"trigger {trigger.name} has no saved payload {name!r}")
    return redirect(f"/projects/{prj.name}", "deleted")


@action
async def dispatch_payload(request: Request) -> Response:
    """The form's JSON as a manual event's data, dispatched like ``akctl event dispatch``."""
    c = ctx(request)
    prj, trigger = await _trigger(request)
    data = _form_data(await form_fields(request))
    ev = NewEvent(
        project_id=prj.project_id, trigger_id=trigger.trigger_id, trigger_name=trigger.name,
        event_type=trigger.event_type, source="manual", data=pickle.dumps(data),
    )  # fmt: skip
    got = await c.dispatcher.ingest(ev, wait=True)
    return redirect(f"/events/{got.event_id}")


_TRIGGER = "/projects/{name}/triggers/{trigger}"
routes = [
    Route(_TRIGGER + "/payloads", save_payload, methods=["POST"]),
    Route(_TRIGGER + "/payloads/{payload}/delete", delete_payload, methods=["POST"]),
    Route(_TRIGGER + "/dispatch", dispatch_payload, methods=["POST"]),
    Route("/", project_list),
    Route("/projects", project_list),
    Route("/projects/{name}/triggers/{trigger}/fire", fire_trigger, methods=["POST"]),
    Route("/projects/{name}", project_detail),
]

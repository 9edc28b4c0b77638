"""Pages: the event list, one event (payload, the sessions it started) and redispatch."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from akd.api import deliveries
from akd.api.common import ctx, must
from akd.api.events import jsonable
from akd.errors import FailedPrecondition
from akd.services.context import AppContext
from akd.store import events as store
from akd.store import projects as projects_store
from akd.store.events import EventRecord, NewEvent
from akd.store.triggers import TriggerRecord
from akd.web.auth import action, page
from akd.web.common import id_param, notice, project_id_param, query, redirect, unpickle
from akd.web.render import render


@page
async def event_list(request: Request) -> Response:
    c = ctx(request)
    before = id_param(request, "before", "evt")
    result = await store.event_page(c.db, await project_id_param(request), before)
    project = request.query_params.get("project", "")
    return render(
        request, "events.html", title="Events", nav="events", page=result, project=project,
        projects=await projects_store.list_projects(c.db),
        older_link="/events" + query(project=project, before=result.older) if result.older else "",
        first_link="/events" + query(project=project) if before else "",
    )  # fmt: skip


@page
async def event_detail(request: Request) -> Response:
    c = ctx(request)
    event_id = request.path_params["id"]
    row = must(await store.get_event(c.db, event_id), "event", event_id)
    project = await projects_store.project_by_id(c.db, row.project_id) if row.project_id else None
    found = await store.get_delivery(c.db, event_id) if row.connection_id else None
    trigger = await projects_store.trigger_by_id(c.db, row.trigger_id) if row.trigger_id else None
    return render(
        request, "event.html", title=f"Event {event_id}", nav="events", e=row,
        project=project.name if project is not None else "", data=jsonable(unpickle(row.data)),
        sessions=await store.started_sessions(c.db, event_id), notice=notice(request),
        trigger_exists=trigger is not None,
        delivery=await deliveries.delivery_json(request, found) if found is not None else None,
    )  # fmt: skip


@action
async def redispatch(request: Request) -> Response:
    c = ctx(request)
    old = must(await store.get_event(c.db, request.path_params["id"]), "event", request.path_params["id"])
    trg = await projects_store.trigger_by_id(c.db, old.trigger_id) if old.trigger_id else None
    if trg is None:
        raise FailedPrecondition(f"the trigger of event {old.event_id} no longer exists")
    return redirect(f"/events/{await _dispatch_copy(c, old, trg)}", "redispatched")


async def _dispatch_copy(c: AppContext, old: EventRecord, trg: TriggerRecord) -> str:
    """Like ``akctl event redispatch``: a new event with the old one's type and data."""
    ev = NewEvent(
        project_id=trg.project_id, trigger_id=trg.trigger_id, trigger_name=trg.name,
        event_type=old.event_type, source="redispatch", data=bytes(old.data),
    )  # fmt: skip
    return (await c.dispatcher.ingest(ev, wait=True)).event_id


routes = [
    Route("/events", event_list),
    Route("/events/{id}", event_detail),
    Route("/events/{id}/redispatch", redispatch, methods=["POST"]),
]

"""/api/v1/events: list, get (optionally waiting for the sessions it started)."""

from __future__ import annotations

import pickle
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from akd.api import deliveries
from akd.api.common import ctx, int_param, json_body, must, ok, rfc3339
from akd.errors import FailedPrecondition, InvalidArgument, NotFound
from akd.ids import new_id
from akd.services import connections as connections_service
from akd.services import deliveries as deliveries_service
from akd.services.dispatch import SessionEvent
from akd.store import events as store
from akd.store import projects as projects_store
from akd.store import sessions as sessions_store
from akd.store.events import EventRecord, NewEvent
from akd.store.sessions import SessionOfEvent
from akd.store.states import FINAL
from akd.store.triggers import TriggerRecord


def jsonable(value: Any) -> Any:
    """Event data holds bytes (the raw body): shown as text when it decodes, else hex."""
    if isinstance(value, bytes):
        try:
            return value.decode()
        except UnicodeDecodeError:
            return {"hex": value.hex()}
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [jsonable(v) for v in value]
    return value


def event_json(row: EventRecord, session_ids: list[str], *, with_data: bool = False) -> dict[str, Any]:
    data: dict[str, Any] = {
        "event_id": row.event_id,
        "event_type": row.event_type,
        "trigger": row.trigger_name,
        "trigger_id": row.trigger_id,
        "project_id": row.project_id,
        "source": row.source,
        "state": row.state,
        "skip_reason": row.skip_reason,  # why a skipped event started nothing; null otherwise
        "session_ids": session_ids,
        "created_at": rfc3339(row.created_at),
    }
    if with_data:
        data["data"] = jsonable(pickle.loads(row.data))
    return data


async def _sessions_of(request: Request, event_id: str) -> list[SessionOfEvent]:
    return await sessions_store.sessions_of_event(ctx(request).db, event_id)


async def list_events(request: Request) -> JSONResponse:
    """``?connection=PROJECT/CONN``: that connection's vendor deliveries, with their state."""
    c = ctx(request)
    if request.query_params.get("connection"):
        rec = await connections_service.resolve(c.db, request.query_params["connection"])
        found = await deliveries_service.list_for(c.db, rec.connection_id, int_param(request, "limit", 50))
        return ok([await deliveries.summary_json(request, r) for r in found])
    project = request.query_params.get("project", "")
    project_id = ""
    if project:
        project_id = must(await projects_store.project_by_name(c.db, project), "project", project).project_id
    rows = await store.list_events(c.db, project_id=project_id, limit=int_param(request, "limit", 50))
    return ok([event_json(r, (r.session_ids or "").split(",") if r.session_ids else []) for r in rows])


async def get_event(request: Request) -> JSONResponse:
    """``?wait=final&timeout=S`` waits until the event is dispatched and its sessions ended."""
    c = ctx(request)
    event_id = request.path_params["id"]
    row = must(await store.get_event(c.db, event_id), "event", event_id)
    if request.query_params.get("wait") == "final":
        timeout = int_param(request, "timeout", 30, lo=0, hi=3600)

        async def settled() -> bool | None:
            ev = await store.get_event(c.db, event_id)
            if ev is None or ev.state == "pending":
                return None
            rows = await _sessions_of(request, event_id)
            return True if all(r.state in FINAL for r in rows) else None

        await c.engine_notifier().wait_for(settled, timeout)
        row = must(await store.get_event(c.db, event_id), "event", event_id)
    sessions = await _sessions_of(request, event_id)
    data = event_json(row, [r.session_id for r in sessions], with_data=True)
    if row.connection_id:
        found = await store.get_delivery(c.db, event_id)
        if found is not None:
            data["delivery"] = await deliveries.delivery_json(request, found)
    return ok(data)


async def _trigger_row(request: Request, project: str, trigger: str) -> TriggerRecord:
    c = ctx(request)
    rows = await projects_store.triggers_named(c.db, trigger, project)
    if not rows:
        where = f" in project {project!r}" if project else ""
        raise NotFound(f"no trigger named {trigger!r}{where}")
    if len(rows) > 1:
        names = ", ".join(r.project for r in rows)
        raise InvalidArgument(f"trigger {trigger!r} exists in several projects ({names}); pass --project")
    return rows[0]


async def _store_and_dispatch(
    request: Request, trg: TriggerRecord, event_type: str, data: Any, source: str
) -> JSONResponse:
    c = ctx(request)
    ev = NewEvent(
        project_id=trg.project_id, trigger_id=trg.trigger_id, trigger_name=trg.name,
        event_type=event_type, source=source, data=pickle.dumps(data),
    )  # fmt: skip
    got = await c.dispatcher.ingest(ev, wait=True)
    row = must(await store.get_event(c.db, got.event_id), "event", got.event_id)
    return ok(event_json(row, got.session_ids or []), status=201)


async def dispatch_event(request: Request) -> JSONResponse:
    """Store a manual event for a trigger and dispatch it like a real one."""
    body = await json_body(request)
    trg = await _trigger_row(request, str(body.get("project") or ""), str(body.get("trigger") or ""))
    data = body.get("data") if body.get("data") is not None else {}
    if not isinstance(data, dict):
        raise InvalidArgument("data must be a JSON object")
    if body.get("session_id"):
        return await _deliver_to_session(request, trg, str(body["session_id"]), str(body.get("event_type") or ""), data)
    return await _store_and_dispatch(request, trg, str(body.get("event_type") or ""), data, "manual")


async def _deliver_to_session(
    request: Request, trg: TriggerRecord, session_id: str, event_type: str, data: Any
) -> JSONResponse:
    """``session_id``: the event goes to that session's waiters on the trigger only; no session starts."""
    c = ctx(request)
    ev = SessionEvent(new_id("evt"), trg.project_id, trg.trigger_id, trg.name, event_type, data)
    subs = await c.dispatcher.deliver_to_session(ev, session_id)
    row = must(await store.get_event(c.db, ev.event_id), "event", ev.event_id)
    return ok({**event_json(row, []), "delivered_to": {"session_id": session_id, "subscriptions": subs}}, status=201)


async def redispatch_event(request: Request) -> JSONResponse:
    """A new event with the same trigger, type and data as an earlier one, dispatched now."""
    c = ctx(request)
    old = must(await store.get_event(c.db, request.path_params["id"]), "event", request.path_params["id"])
    trg = await projects_store.trigger_by_id(c.db, old.trigger_id or "")
    if trg is None:
        raise FailedPrecondition(f"the trigger of event {old.event_id} no longer exists")
    return await _store_and_dispatch(request, trg, old.event_type, pickle.loads(old.data), "redispatch")


routes = [
    Route("/events", list_events),
    Route("/events", dispatch_event, methods=["POST"]),
    Route("/events/{id}", get_event),
    Route("/events/{id}/redispatch", redispatch_event, methods=["POST"]),
]

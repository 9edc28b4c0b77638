"""Pages: the session list (filtered, keyset-paged), one session, and its stop/restart actions."""

from __future__ import annotations

import json
import time
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from akd.api.common import ctx, must, session_json
from akd.api.events import jsonable
from akd.errors import InvalidArgument
from akd.services import debug
from akd.services import sessions as services
from akd.store import events as events_store
from akd.store import project_data, session_lists
from akd.store import projects as projects_store
from akd.store import sessions as store
from akd.store.sessions import SessionRecord
from akd.store.states import FINAL
from akd.web import timeline
from akd.web.auth import action, page, partial
from akd.web.common import choice_param, id_param, notice, project_id_param, query, redirect, time_param, unpickle
from akd.web.render import STATES, fragment, render

PRINTS_SHOWN = 2000
TIMELINE_LIMIT = 500
STOP_GRACE_SECONDS = 10.0


FILTERS = ("project", "deployment", "state", "trigger", "since", "until")


@page
async def session_list(request: Request) -> Response:
    c = ctx(request)
    project_id = await project_id_param(request)
    f = session_lists.SessionFilter(
        project_id=project_id, deployment_id=id_param(request, "deployment", "dep"),
        state=choice_param(request, "state", STATES), trigger=request.query_params.get("trigger", ""),
        since=time_param(request, "since"), until=time_param(request, "until"),
    )  # fmt: skip
    before, after = id_param(request, "before", "ses"), id_param(request, "after", "ses")
    result = await session_lists.session_page(c.db, f, before=before, after=after)
    keep = {name: request.query_params.get(name, "") for name in FILTERS}
    return render(
        request, "sessions.html", title="Sessions", nav="sessions", page=result, filters=keep,
        projects=await projects_store.list_projects(c.db), counts=await session_lists.state_counts(c.db, f),
        triggers=await session_lists.trigger_names(c.db, project_id), manual=session_lists.MANUAL,
        links=_pager_links(keep, result, paged=bool(before or after)),
        state_link=lambda state: "/sessions" + query(**{**keep, "state": state}),
        trigger_link=lambda name: query(**{**keep, "trigger": name}),
        without_deployment="/sessions" + query(**{**keep, "deployment": ""}),
        clear_link="/sessions" if any(keep.values()) else "", notice=notice(request),
    )  # fmt: skip


def _pager_links(keep: dict[str, str], result: session_lists.SessionPage, paged: bool) -> dict[str, str]:
    return {
        "first": "/sessions" + query(**keep) if paged else "",
        "newer": "/sessions" + query(**keep, after=result.newer) if result.newer else "",
        "older": "/sessions" + query(**keep, before=result.older) if result.older else "",
    }


@page
async def session_detail(request: Request) -> Response:
    c = ctx(request)
    sid = request.path_params["id"]
    row = must(await store.get(c.db, sid), "session", sid)
    prints, total = await project_data.print_tail(c.db, sid, PRINTS_SHOWN)
    return render(
        request, "session.html", title=f"Session {sid}", nav="sessions", prints=prints,
        after=prints[-1].id if prints else 0, inputs=await _inputs(request, row), notice=notice(request),
        **await _live_context(request, row, total),
    )  # fmt: skip


@partial
async def session_summary(request: Request) -> Response:
    """The parts of a session page that change while it runs (facts, print count, timeline),
    as regions the page's script swaps in where they differ (see ``static/app.js``)."""
    c = ctx(request)
    sid = request.path_params["id"]
    row = must(await store.get(c.db, sid), "session", sid)
    context = await _live_context(request, row, await project_data.print_count(c.db, sid))
    return fragment(request, "_session_live.html", headers={"X-Session-State": row.state.value}, **context)


async def _live_context(request: Request, row: SessionRecord, prints_total: int) -> dict[str, Any]:
    c = ctx(request)
    sid = row.session_id
    now = time.time()
    records = await store.list_log(c.db, sid, kinds=timeline.KINDS, limit=TIMELINE_LIMIT)
    calls = await store.list_log(c.db, sid, kinds=("call",), limit=TIMELINE_LIMIT)
    shown = session_json(row, c.db.stalls.get(sid))
    waiting = timeline.live_wait(row)
    return {
        "s": shown, "row": row, "final": row.state in FINAL, "prints_total": prints_total,
        "timeline": timeline.build(row, records, calls, now), "timeline_cut": len(records) >= TIMELINE_LIMIT,
        "trigger": await _trigger_name(request, row),
        "elapsed": None if row.ended_at else max(0.0, now - (row.started_at or row.created_at)),
        "sleeping_until": await debug.sleeping_until(c, row),
        "waiting": None if waiting is None else timeline.wait_text(waiting),
    }  # fmt: skip


async def _trigger_name(request: Request, row: SessionRecord) -> str:
    if not row.trigger_id:
        return ""
    trg = await projects_store.trigger_by_id(ctx(request).db, row.trigger_id)
    return str(trg.name) if trg is not None else row.trigger_id


async def _inputs(request: Request, row: SessionRecord) -> dict[str, Any]:
    """What the entry function received: its event (type and data) or its manual inputs."""
    if row.event_id:
        ev = await events_store.get_event(ctx(request).db, row.event_id)
        if ev is not None:
            return {"event_type": ev.event_type, "data": jsonable(unpickle(ev.data))}
    value = unpickle(row.inputs)
    if isinstance(value, dict) and "__akd_event__" in value:  # a restart carries its event along
        event = value["__akd_event__"]
        return {"event_type": event.get("event_type", ""), "data": jsonable(event.get("data"))}
    return {"inputs": jsonable(value)} if value else {}


@action
async def stop(request: Request) -> Response:
    c = ctx(request)
    row = must(await store.get(c.db, request.path_params["id"]), "session", request.path_params["id"])
    await services.stop(c, row, "stopped from the web UI", True, STOP_GRACE_SECONDS)
    return redirect(f"/sessions/{row.session_id}", "stopping")


@action
async def restart(request: Request) -> Response:
    c = ctx(request)
    row = must(await store.get(c.db, request.path_params["id"]), "session", request.path_params["id"])
    return redirect(f"/sessions/{await services.restart(c, row)}", "restarted")


@action
async def rerun(request: Request) -> Response:
    c = ctx(request)
    row = must(await store.get(c.db, request.path_params["id"]), "session", request.path_params["id"])
    raw = str(request.state.form.get("from_step", ""))
    if not raw.isdigit():
        raise InvalidArgument(f"from_step must be a step number, got {raw!r}")
    return redirect(f"/sessions/{await debug.rerun(c, row, int(raw))}", "rerun")


@action
async def wake(request: Request) -> Response:
    c = ctx(request)
    row = must(await store.get(c.db, request.path_params["id"]), "session", request.path_params["id"])
    await debug.wake(c, row)
    return redirect(f"/sessions/{row.session_id}", "woken")


@action
async def signal(request: Request) -> Response:
    c = ctx(request)
    row = must(await store.get(c.db, request.path_params["id"]), "session", request.path_params["id"])
    form = request.state.form
    raw = str(form.get("payload", "")).strip()
    try:
        payload = json.loads(raw) if raw else None
    except ValueError as exc:
        raise InvalidArgument(f"the payload is not JSON: {exc}") from None
    await debug.signal(c, row, str(form.get("name", "")).strip(), payload)
    return redirect(f"/sessions/{row.session_id}", "signalled")


routes = [
    Route("/sessions", session_list),
    Route("/sessions/{id}", session_detail),
    Route("/sessions/{id}/summary", session_summary),
    Route("/sessions/{id}/stop", stop, methods=["POST"]),
    Route("/sessions/{id}/restart", restart, methods=["POST"]),
    Route("/sessions/{id}/rerun", rerun, methods=["POST"]),
    Route("/sessions/{id}/wake", wake, methods=["POST"]),
    Route("/sessions/{id}/signal", signal, methods=["POST"]),
]

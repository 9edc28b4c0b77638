"""/api/v1 recovery and debugging: rerun a session from a step, wake a durable sleep,
fire a schedule trigger now (akd.services.debug)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from akd.api.common import ctx, json_body, must, ok, rfc3339
from akd.api.sessions import resolve_session
from akd.errors import InvalidArgument
from akd.services import debug
from akd.store import projects as projects_store


async def rerun_session(request: Request) -> JSONResponse:
    """Body: ``{"from_step": N, "result": <JSON>?, "latest": bool}``; a given ``result``
    replaces step N's (the new session is then live from step N+1)."""
    row = await resolve_session(request, request.path_params["id"])
    body = await json_body(request)
    from_step = body.get("from_step")
    if not isinstance(from_step, int) or isinstance(from_step, bool):
        raise InvalidArgument('"from_step" must be a step number (an integer)')
    new_id = await debug.rerun(
        ctx(request), row, from_step, result=body.get("result"), edit="result" in body, latest=bool(body.get("latest"))
    )
    return ok({"session_id": new_id, "rerun_of": row.session_id, "from_step": from_step}, 201)


async def wake_session(request: Request) -> JSONResponse:
    row = await resolve_session(request, request.path_params["id"])
    woke = await debug.wake(ctx(request), row)
    return ok({**woke, "until": rfc3339(woke["until"]), "woken_at": rfc3339(woke["woken_at"])})


async def signal_session(request: Request) -> JSONResponse:
    """Body: ``{"name": "...", "payload": <JSON>?}``: what the session's ``next_signal(name)`` returns."""
    row = await resolve_session(request, request.path_params["id"])
    body = await json_body(request)
    name = body.get("name")
    if not isinstance(name, str):
        raise InvalidArgument('"name" must be the signal\'s name (a string)')
    return ok(await debug.signal(ctx(request), row, name, body.get("payload")))


async def fire_trigger(request: Request) -> JSONResponse:
    """``POST /projects/{project}/triggers/{name}/fire``: a schedule trigger's tick, now."""
    c = ctx(request)
    project, name = request.path_params["project"], request.path_params["name"]
    prj = must(await projects_store.project_by_name(c.db, project), "project", project)
    triggers = {t.name: t for t in await projects_store.triggers_of(c.db, prj.project_id)}
    trigger = must(triggers.get(name), "trigger", f"{project}/{name}")
    await debug.fire(c, trigger)
    return ok({"project": project, "trigger": name, "trigger_id": trigger.trigger_id, "fired": True}, 202)


routes = [
    Route("/sessions/{id}/rerun", rerun_session, methods=["POST"]),
    Route("/sessions/{id}/wake", wake_session, methods=["POST"]),
    Route("/sessions/{id}/signal", signal_session, methods=["POST"]),
    Route("/projects/{project}/triggers/{name}/fire", fire_trigger, methods=["POST"]),
]

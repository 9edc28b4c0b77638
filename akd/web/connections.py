"""Connections in the UI: the project page's test and init forms, and each connection's
own page (its inbound URLs, its recent deliveries, a form to simulate one)."""

from __future__ import annotations

import json

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from akd import integrations
from akd.api import deliveries as deliveries_api
from akd.api.common import ctx
from akd.api.connections import INBOUND
from akd.errors import AkdError, InvalidArgument
from akd.services import connections as service
from akd.services import deliveries as deliveries_service
from akd.services import oauth as oauth_service
from akd.services import simulate as simulator
from akd.store import connections as store
from akd.store.connections import ConnectionRecord
from akd.web.auth import action, form_fields, page
from akd.web.common import id_param, redirect
from akd.web.render import render

FIELD_PREFIX = "var_"


def view(rec: ConnectionRecord) -> dict[str, object]:
    """What the project page shows of a connection, with the forms of its non-OAuth modes."""
    integration = integrations.find(rec.integration)
    modes = [m for m in integration.modes if not m.oauth] if integration is not None else []
    return {
        "name": rec.name,
        "integration": rec.integration,
        "display_name": integration.display_name if integration is not None else rec.integration,
        "status": rec.status.value,
        "status_message": rec.status_message,
        "has_test": integration is not None and integration.has_test,
        "oauth": integration is not None and integration.oauth is not None,
        "modes": [{"auth_type": m.name, "label": m.label, "vars": m.vars} for m in modes],
        "path": f"/projects/{rec.project}/connections/{rec.name}",
    }


async def connection_views(request: Request, project_id: str) -> list[dict[str, object]]:
    return [view(r) for r in await store.list_for_project(ctx(request).db, project_id)]


async def _record(request: Request) -> ConnectionRecord:
    return await service.resolve(ctx(request).db, f"{request.path_params['name']}/{request.path_params['conn']}")


@action
async def test(request: Request) -> Response:
    c = ctx(request)
    rec = await _record(request)
    result = await service.run_test(c.db, c.config.data_dir, rec)
    return redirect(f"/projects/{rec.project}", "connection_ok" if result.ok else "connection_failed")


@action
async def init(request: Request) -> Response:
    c = ctx(request)
    rec = await _record(request)
    fields = await form_fields(request)
    values = {k[len(FIELD_PREFIX) :]: v for k, v in fields.items() if k.startswith(FIELD_PREFIX) and v}
    result = await service.init(c.db, c.config.data_dir, rec, fields.get("auth_type", ""), values)
    return redirect(f"/projects/{rec.project}", "connection_saved" if result.ok else "connection_failed")


@action
async def oauth(request: Request) -> Response:
    """Start an OAuth authorization and send the browser to the vendor (back to akd's callback).

    A page that navigates, not a redirect: the UI's CSP (form-action 'self') stops a form
    POST from being redirected to another origin.
    """
    c = ctx(request)
    rec = await _record(request)
    started = await oauth_service.start(c.db, c.config.data_dir, c.config.oauth, c.base_url, rec)
    return render(request, "oauth_go.html", title="Authorize", url=started.authorize_url,
                  integration=rec.integration, connection=f"{rec.project}/{rec.name}")  # fmt: skip


DELIVERIES_SHOWN = 50


async def _deliveries(request: Request, rec: ConnectionRecord) -> list[dict[str, object]]:
    rows = await deliveries_service.list_for(ctx(request).db, rec.connection_id, DELIVERIES_SHOWN)
    return [{**await deliveries_api.summary_json(request, r), "received": r.created_at} for r in rows]


async def _urls(request: Request, rec: ConnectionRecord) -> list[tuple[str, str]]:
    """The connection's inbound URLs (events, commands, interactions for Slack)."""
    fields_of = INBOUND.get(rec.integration)
    if fields_of is None:
        return []
    url = str((await fields_of(request, rec))["webhook_url"])
    if rec.integration != "slack":
        return [("Webhook URL", url)]
    return [("Events URL", url), ("Commands URL", url.replace("/slack/event/", "/slack/command/", 1)),
            ("Interactions URL", url.replace("/slack/event/", "/slack/interaction/", 1))]  # fmt: skip


async def _page(request: Request, rec: ConnectionRecord, status: int = 200, error: str = "", **form: str) -> Response:
    simulated = id_param(request, "event", "evt")
    return render(
        request, "connection.html", status, title=f"{rec.project}/{rec.name}", cn=view(rec), project=rec.project,
        connection_id=rec.connection_id, urls=await _urls(request, rec), deliveries=await _deliveries(request, rec),
        fixtures=simulator.fixtures(rec.integration) if rec.integration in simulator.VENDORS else [],
        simulated=simulated if request.query_params.get("done") == "simulated" else "", error=error,
        form_event_type=form.get("event_type", ""), form_data=form.get("data", ""),
    )  # fmt: skip


@page
async def connection_page(request: Request) -> Response:
    return await _page(request, await _record(request))


def _form_data(text: str) -> dict[str, object]:
    if not text.strip():
        return {}
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise InvalidArgument(f"the data is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise InvalidArgument("the data must be a JSON object (it is merged into the fixture's event data)")
    return data


@action
async def simulate(request: Request) -> Response:
    """The "Simulate" form: the same signed delivery through the same route as
    ``akctl connection simulate``; a refusal is shown on the page, the form kept."""
    rec = await _record(request)
    fields = await form_fields(request)
    event_type, text = fields.get("event_type", ""), fields.get("data", "")
    try:
        done = await deliveries_api.simulate(request, rec, event_type, _form_data(text))
    except AkdError as exc:
        return await _page(request, rec, exc.status, exc.message, event_type=event_type, data=text)
    return redirect(f"{view(rec)['path']}?event={done['event_id']}", "simulated")


routes = [
    Route("/projects/{name}/connections/{conn}", connection_page),
    Route("/projects/{name}/connections/{conn}/simulate", simulate, methods=["POST"]),
    Route("/projects/{name}/connections/{conn}/oauth", oauth, methods=["POST"]),
    Route("/projects/{name}/connections/{conn}/test", test, methods=["POST"]),
    Route("/projects/{name}/connections/{conn}/init", init, methods=["POST"]),
]

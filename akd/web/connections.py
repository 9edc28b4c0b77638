"""Connection actions on the project page: test, and init with a token form."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from akd import integrations
from akd.api.common import ctx
from akd.services import connections as service
from akd.services import oauth as oauth_service
from akd.store import connections as store
from akd.store.connections import ConnectionRecord
from akd.web.auth import action, form_fields
from akd.web.common import redirect
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
    values = {k[len(FIELD_PREFIX):]: v for k, v in fields.items() if k.startswith(FIELD_PREFIX) and v}
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


routes = [
    Route("/projects/{name}/connections/{conn}/oauth", oauth, methods=["POST"]),
    Route("/projects/{name}/connections/{conn}/test", test, methods=["POST"]),
    Route("/projects/{name}/connections/{conn}/init", init, methods=["POST"]),
]

"""OAuth: ``/api/v1/integrations/{name}/oauth-app`` (the user's own OAuth app) and the
public ``/oauth/{integration}/callback`` the vendor redirects the browser to.

The callback carries no token: the ``state`` it brings is what authorizes it (single
use, bound to one connection, short-lived; see akd.services.oauth). Its answers are
small HTML pages, since a person reads them in a browser tab.
"""

from __future__ import annotations

import html
import logging
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse
from starlette.routing import Route

from akd.api.common import ctx, json_body, ok, rfc3339
from akd.errors import AkdError, InvalidArgument
from akd.services import oauth as service
from akd.services.oauth import AppInfo

log = logging.getLogger(__name__)


def app_json(info: AppInfo) -> dict[str, Any]:
    return {
        "integration": info.integration,
        "client_id": info.client_id,
        "client_secret_set": True,
        "scopes": info.scopes.split() or list(info.endpoints.scopes),
        "authorize_url": info.endpoints.authorize_url,
        "token_url": info.endpoints.token_url,
        "redirect_uri": info.redirect_uri,
        "updated_at": rfc3339(info.updated_at),
    }


async def put_app(request: Request) -> JSONResponse:
    """``{"client_id", "client_secret", "scopes": "a b"}``: the user's own OAuth app."""
    body = await json_body(request)
    client_id, secret, scopes = body.get("client_id"), body.get("client_secret"), body.get("scopes", "")
    if not isinstance(client_id, str) or not isinstance(secret, str) or not isinstance(scopes, str):
        raise InvalidArgument('expected {"client_id": "...", "client_secret": "...", "scopes": "space separated"}')
    c = ctx(request)
    info = await service.configure_app(c.db, c.config.data_dir, c.config.oauth, c.base_url,
                                       request.path_params["name"], client_id, secret, scopes)  # fmt: skip
    return ok(app_json(info))


async def get_app(request: Request) -> JSONResponse:
    c = ctx(request)
    return ok(app_json(await service.app_info(c.db, c.config.oauth, c.base_url, request.path_params["name"])))


async def delete_app(request: Request) -> JSONResponse:
    await service.remove_app(ctx(request).db, request.path_params["name"])
    return ok({"integration": request.path_params["name"], "deleted": True})


_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>akd: {title}</title></head>
<body style="font-family: sans-serif; margin: 3em"><h1>{title}</h1><p>{text}</p></body></html>"""


def _page(title: str, text: str, status: int) -> HTMLResponse:
    return HTMLResponse(_PAGE.format(title=html.escape(title), text=html.escape(text)), status_code=status)


async def callback(request: Request) -> HTMLResponse:
    """The vendor's redirect after the user approved (or refused) the authorization."""
    q = request.query_params
    c = ctx(request)
    try:
        rec = await service.complete(c.db, c.config.data_dir, c.config.oauth, request.path_params["integration"],
                                     q.get("state", ""), q.get("code", ""), q.get("error", ""))  # fmt: skip
    except AkdError as exc:  # the browser's page; akctl reads the outcome from the API
        log.info("OAuth callback for %s refused: %s", request.path_params["integration"], exc.message)
        return _page("Not connected", exc.message, exc.status)
    return _page("Connected", f"{rec.project}/{rec.name} is connected; you can close this tab.", 200)


routes = [
    Route("/integrations/{name}/oauth-app", get_app),
    Route("/integrations/{name}/oauth-app", put_app, methods=["PUT"]),
    Route("/integrations/{name}/oauth-app", delete_app, methods=["DELETE"]),
]
public_routes = [Route("/oauth/{integration}/callback", callback)]

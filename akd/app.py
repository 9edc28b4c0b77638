"""The ASGI app: ``/api/v1`` (bearer token), ``/mcp``, ``/webhooks`` and the vendors'
delivery paths (public, verified), and the web UI; the one exception handler that turns
every error into the API's error body."""

from __future__ import annotations

import hmac
import logging
import secrets
import sqlite3

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.types import ASGIApp, Receive, Scope, Send
from temporalio.service import RPCError

from akd import web
from akd.api import (
    connections,
    daemon,
    debug,
    deliveries,
    events,
    github,
    kv,
    lifecycle,
    oauth,
    payloads,
    projects,
    published,
    schema,
    sessions,
    slack,
    stats,
    triggers,
    vendor_hooks,
    webhooks,
)  # fmt: skip
from akd.errors import AkdError, NotFound, Unauthenticated, Unavailable
from akd.mcp import http as mcp_http
from akd.services.context import AppContext

log = logging.getLogger(__name__)

PUBLIC_API_PATHS = frozenset({"/api/v1/health"})


def error_response(exc: AkdError) -> JSONResponse:
    return JSONResponse(exc.to_dict(), status_code=exc.status, headers=exc.headers)


class TokenAuth:
    """Requires ``Authorization: Bearer <token>`` on /api/v1 and /mcp (constant-time compare)."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.token = token.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope["path"] if scope["type"] == "http" else ""
        if (path.startswith("/api/") and path not in PUBLIC_API_PATHS) or path == "/mcp" or path.startswith("/mcp/"):
            header = dict(scope["headers"]).get(b"authorization", b"")
            scheme, _, given = header.partition(b" ")
            if scheme.lower() != b"bearer" or not hmac.compare_digest(given.strip(), self.token):
                err = Unauthenticated("missing or wrong API token; akctl reads it from <data_dir>/token or $AKD_TOKEN")
                await error_response(err)(scope, receive, send)
                return
        await self.app(scope, receive, send)


async def on_akd_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, AkdError)
    return error_response(exc)


def token_checked(request: Request) -> bool:
    """The request passed ``TokenAuth``: its caller holds the API token and may see details."""
    path = request.url.path
    return (path.startswith("/api/") or path == "/mcp" or path.startswith("/mcp/")) and path not in PUBLIC_API_PATHS


def error_id() -> str:
    """An id that ties an answer to its log line: ``err_`` + 12 hex characters."""
    return f"err_{secrets.token_hex(6)}"


async def on_temporal_error(request: Request, exc: Exception) -> Response:
    ident = error_id()
    log.warning("%s: Temporal call failed on %s %s: %s", ident, request.method, request.url.path, exc)
    detail = f" ({exc})" if token_checked(request) else ""
    return error_response(Unavailable(
        f"Temporal is not available right now{detail}; akd restarts its embedded server by itself, "
        "retry in a few seconds", details={"error_id": ident},
    ))  # fmt: skip


async def on_database_error(request: Request, exc: Exception) -> Response:
    """A full disk or a read-only data dir: refuse (503) rather than pretend; nothing is lost."""
    ident = error_id()
    log.error("%s: database error on %s %s: %s", ident, request.method, request.url.path, exc)
    detail = f" ({exc})" if token_checked(request) else ""
    return error_response(Unavailable(
        f"akd cannot write its database{detail}; free disk space or fix the data dir's permissions, "
        "then retry: nothing was accepted", details={"error_id": ident},
    ))  # fmt: skip


async def on_unexpected(request: Request, exc: Exception) -> Response:
    """A bug: the token holder reads what broke; anyone else (webhooks, the login form)
    gets only an id to quote, and the details go to the log under it."""
    ident = error_id()
    log.error("%s: unhandled error on %s %s", ident, request.method, request.url.path, exc_info=exc)
    if token_checked(request):
        message = f"internal error {ident}: {type(exc).__name__}: {exc}"
    else:
        message = f"internal error {ident}; the details are in akd's log"
    return error_response(AkdError(message, details={"error_id": ident}))


async def on_disconnect(request: Request, exc: Exception) -> Response:
    """The client went away (or was cut off by a deadline) mid-body: nobody to answer."""
    return Response(status_code=400)


async def on_not_found(request: Request, exc: Exception) -> Response:
    return error_response(NotFound(f"no route for {request.method} {request.url.path}"))


def create_app(ctx: AppContext) -> Starlette:
    api_routes = [
        *connections.routes, *daemon.routes, *debug.routes, *deliveries.routes, *events.routes, *kv.routes,
        *lifecycle.routes, *oauth.routes, *projects.routes, *schema.routes, *sessions.routes, *stats.routes,
        *triggers.routes, *payloads.routes,
    ]  # fmt: skip
    app = Starlette(
        routes=[
            Mount("/api/v1", routes=api_routes),
            Route("/mcp", mcp_http.endpoint),
            *webhooks.routes,
            *github.routes,
            *slack.routes,
            *vendor_hooks.routes,
            *published.routes,
            *oauth.public_routes,
            *web.routes,
        ],
        middleware=[Middleware(TokenAuth, token=ctx.token)],
        exception_handlers={
            AkdError: on_akd_error,
            sqlite3.OperationalError: on_database_error,
            RPCError: on_temporal_error,
            ClientDisconnect: on_disconnect,
            Exception: on_unexpected,
            404: on_not_found,
        },
    )
    app.state.ctx = ctx
    return app

"""The ASGI app: ``/api/v1`` (bearer token), ``/webhooks`` (public)."""

from __future__ import annotations

import hmac
import logging
import sqlite3

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount
from starlette.types import ASGIApp, Receive, Scope, Send
from temporalio.service import RPCError

from akd import web
from akd.api import daemon, events, kv, lifecycle, projects, published, sessions, stats, triggers, webhooks
from akd.appctx import AppContext
from akd.errors import AkdError, NotFound, Unauthenticated, Unavailable

log = logging.getLogger(__name__)

PUBLIC_API_PATHS = frozenset({"/api/v1/health"})


def error_response(exc: AkdError) -> JSONResponse:
    return JSONResponse(exc.to_dict(), status_code=exc.status)


class TokenAuth:
    """Requires ``Authorization: Bearer <token>`` on /api/v1 (constant-time compare)."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.token = token.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/api/") and scope["path"] not in PUBLIC_API_PATHS:
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


async def on_temporal_error(request: Request, exc: Exception) -> Response:
    log.warning("Temporal call failed on %s %s: %s", request.method, request.url.path, exc)
    return error_response(Unavailable(
        f"Temporal is not available right now ({exc}); akd restarts its embedded server by itself, "
        "retry in a few seconds"
    ))  # fmt: skip


async def on_database_error(request: Request, exc: Exception) -> Response:
    """A full disk or a read-only data dir: refuse (503) rather than pretend; nothing is lost."""
    log.error("database error on %s %s: %s", request.method, request.url.path, exc)
    return error_response(Unavailable(
        f"akd cannot write its database ({exc}); free disk space or fix the data dir's permissions, "
        "then retry: nothing was accepted"
    ))  # fmt: skip


async def on_unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return error_response(AkdError(f"internal error: {type(exc).__name__}: {exc}"))


async def on_not_found(request: Request, exc: Exception) -> Response:
    return error_response(NotFound(f"no route for {request.method} {request.url.path}"))


def create_app(ctx: AppContext) -> Starlette:
    api_routes = [
        *daemon.routes, *events.routes, *kv.routes, *lifecycle.routes, *projects.routes, *sessions.routes,
        *stats.routes, *triggers.routes,
    ]  # fmt: skip
    app = Starlette(
        routes=[Mount("/api/v1", routes=api_routes), *webhooks.routes, *published.routes, *web.routes],
        middleware=[Middleware(TokenAuth, token=ctx.token)],
        exception_handlers={
            AkdError: on_akd_error,
            sqlite3.OperationalError: on_database_error,
            RPCError: on_temporal_error,
            Exception: on_unexpected,
            404: on_not_found,
        },
    )
    app.state.ctx = ctx
    return app

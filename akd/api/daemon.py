"""/api/v1/health and /api/v1/shutdown."""

from __future__ import annotations

import os
import time

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from akd import __version__
from akd.api.common import ctx, ok


async def health(request: Request) -> JSONResponse:
    c = ctx(request)
    temporal_ok = c.temporal.running
    return ok(
        {
            "status": "ok" if temporal_ok else "degraded",
            "version": __version__,
            "pid": os.getpid(),
            "uptime": round(time.time() - c.started_at, 3),
            "temporal": "ok" if temporal_ok else "down",
            "runners": c.hub.live_count,
            "store": "postgres" if c.config.store.url else "sqlite",
            "node": c.engine.ctx.node,
        }
    )


async def shutdown(request: Request) -> JSONResponse:
    ctx(request).shutdown.set()
    return ok({"status": "stopping"}, status=202)


routes = [
    Route("/health", health),
    Route("/shutdown", shutdown, methods=["POST"]),
]

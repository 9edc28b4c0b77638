"""``/mcp``: the streamable HTTP transport, its tools calling akd's own API in process.

Stateless, JSON answers: each MCP request is one HTTP request whose server lives only
as long as it, so nothing outlives a request (akd's shutdown stops HTTP first and
that covers it; no session table, no open SSE stream to drain). The tools call the
akd app itself through ``httpx.ASGITransport`` with the API token, so they answer with
exactly the API's behaviour and errors. ``TokenAuth`` guards ``/mcp`` before this runs.
"""

from __future__ import annotations

import asyncio
import importlib
import json
from typing import Any

import httpx
from starlette.types import ASGIApp, Receive, Scope, Send

from akd.mcp.tools import ApiError

BASE_URL = "http://akd.internal/api/v1"


class InProcessApi:
    """``/api/v1`` of the running akd app, called without a socket."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        # raise_app_exceptions=False: a bug answers 500 with akd's error body, as over HTTP.
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        self.client = httpx.AsyncClient(
            transport=transport, base_url=BASE_URL, headers={"Authorization": f"Bearer {token}"}
        )

    async def request(self, method: str, path: str, *, params: dict[str, Any], body: Any, timeout: float) -> Any:
        answer = await self.client.request(method, BASE_URL + path, params=params, json=body, timeout=timeout)
        return decode(answer.status_code, answer.content)

    async def aclose(self) -> None:
        await self.client.aclose()


def decode(status: int, raw: bytes) -> Any:
    """The JSON of a 2xx answer; ``ApiError`` with akd's code and message otherwise."""
    try:
        body = json.loads(raw) if raw else None
    except ValueError:
        body = None
    if 200 <= status < 300:
        return body
    err = body.get("error") if isinstance(body, dict) else None
    if isinstance(err, dict):
        raise ApiError(str(err.get("code", "")), str(err.get("message", "")), err.get("details") or None)
    raise ApiError("internal", f"akd answered {status}: {raw[:200].decode(errors='replace')}")


class McpEndpoint:
    """The ASGI app mounted at ``/mcp``.

    The MCP SDK is imported on the first request, in a worker thread: it takes about
    0.8 s, which akd's start-up should not pay for a feature it may never serve, nor
    its event loop (sessions, webhooks) wait for.
    """

    def __init__(self) -> None:
        self._loaded = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self._loaded:
            await asyncio.to_thread(importlib.import_module, "mcp.server.streamable_http_manager")
            await asyncio.to_thread(importlib.import_module, "akd.mcp.server")
            self._loaded = True
        from mcp.server.streamable_http_manager import StreamableHTTPSessionManager

        from akd.mcp.server import build_server

        app = scope["app"]
        api = InProcessApi(app, app.state.ctx.token)
        manager = StreamableHTTPSessionManager(build_server(api), stateless=True, json_response=True)
        try:
            async with manager.run():
                await manager.handle_request(scope, receive, send)
        finally:
            await api.aclose()


endpoint = McpEndpoint()

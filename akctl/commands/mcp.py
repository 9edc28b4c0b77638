"""``akctl mcp``: akd's MCP tools on stdin/stdout, for MCP clients that start a command.

Each tool call goes to the daemon's HTTP API through akctl's own client, found the
way every akctl command finds it (``AKD_URL``/``AKD_TOKEN``, else the data dir), anew
for each call: the MCP client may start this before akd, and akd may restart.
"""

from __future__ import annotations

from typing import Any

import click

from akctl.app import App, common
from akctl.client import Client
from akctl.errors import CliError


class DaemonApi:
    """``akd.mcp.tools.Api`` over akctl's blocking client (each call in a worker thread)."""

    def __init__(self, app: App) -> None:
        self.app = app

    async def request(self, method: str, path: str, *, params: dict[str, Any], body: Any, timeout: float) -> Any:
        import anyio

        return await anyio.to_thread.run_sync(self._request, method, path, params, body, timeout)

    def _request(self, method: str, path: str, params: dict[str, Any], body: Any, timeout: float) -> Any:
        from akd.mcp.tools import ApiError

        try:
            client = Client.locate(self.app.daemon_data_dir())
            return client.request(method, path, params=params or None, json=body, timeout=timeout)
        except CliError as exc:
            message = f"{exc.message}; {exc.hint}" if exc.hint else exc.message
            raise ApiError(exc.code, message) from None
        except OSError as exc:  # a socket error other than "nothing listens" (that one is a CliError)
            raise ApiError("unavailable", f"cannot reach akd: {exc}") from None


async def serve(app: App) -> None:
    from mcp.server.stdio import stdio_server

    from akd.mcp.server import build_server

    server = build_server(DaemonApi(app))
    async with stdio_server() as (read_stream, write_stream):
        await server.run(read_stream, write_stream, server.create_initialization_options())


@click.command("mcp")
@common
def mcp_cmd(app: App) -> None:
    """Serve akd's MCP tools over stdin/stdout (for MCP clients such as Claude Desktop).

    The same tools as the daemon's /mcp endpoint: projects, deploy, deployments,
    sessions, events, triggers and connections. Each call goes to the running
    daemon; when none runs, the tool answers with that error.

    Serves until stdin closes. See docs/mcp.md for client set-up.

    \b
    Example:
      akctl mcp       # as an MCP client runs it: {"command": "akctl", "args": ["mcp"]}
    """
    import anyio

    anyio.run(serve, app)


def register(cli: click.Group) -> None:
    cli.add_command(mcp_cmd)

"""The MCP server over an ``Api``: lists the tools of ``akd.mcp.tools`` and runs them.

A tool's result is the API's JSON answer: as text (what a model reads) and as
structured content (lists as ``{"items": [...]}``, since protocol versions before
2026-07-28 allow only an object there). An akd error is a tool error whose text is
akd's message and whose structured content is the API's error body.
"""

from __future__ import annotations

import json
import logging
import secrets
from typing import Any

import mcp_types as types
from mcp.server import Server
from mcp.server.context import ServerRequestContext

from akd.mcp.tools import TOOLS, Api, ApiError, ToolSpec

log = logging.getLogger(__name__)

INSTRUCTIONS = (
    "akd runs durable Python automations (AutoKitteh projects). Deploy a project directory with `deploy`, "
    "then follow what happened with event_* and session_* tools: session_get (optionally with wait=final), "
    "session_prints and session_log. Results are the JSON of akd's HTTP API (/api/v1)."
)


def tool(spec: ToolSpec) -> types.Tool:
    return types.Tool(
        name=spec.name,
        description=spec.description,
        input_schema=spec.input_schema(),
        annotations=types.ToolAnnotations(read_only_hint=spec.method == "GET"),
    )


def result(value: Any) -> types.CallToolResult:
    structured = value if isinstance(value, dict) else {"items": value}
    text = json.dumps(value, indent=2, ensure_ascii=False)
    return types.CallToolResult(content=[types.TextContent(text=text)], structured_content=structured)


def error(exc: ApiError) -> types.CallToolResult:
    return types.CallToolResult(
        content=[types.TextContent(text=exc.message)], structured_content=exc.to_dict(), is_error=True
    )


async def call(api: Api, name: str, arguments: dict[str, Any]) -> types.CallToolResult:
    """Run one tool; every akd error (and an unknown tool) is a tool error, never a crash."""
    spec = TOOLS.get(name)
    if spec is None:
        return error(ApiError("not_found", f"no tool named {name!r}; tools/list names them"))
    try:
        return result(await spec.run(api, arguments))
    except ApiError as exc:
        return error(exc)
    except Exception as exc:  # a bug: the caller holds the token, so it reads what broke (as /api/v1 does)
        ident = f"err_{secrets.token_hex(6)}"
        log.error("%s: MCP tool %s failed", ident, name, exc_info=exc)
        return error(ApiError("internal", f"internal error {ident}: {type(exc).__name__}: {exc}", {"error_id": ident}))


def build_server(api: Api) -> Server[Any]:
    """An MCP server whose tools call ``api``."""

    async def list_tools(
        ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        return types.ListToolsResult(tools=[tool(spec) for spec in TOOLS.values()])

    async def call_tool(ctx: ServerRequestContext[Any], params: types.CallToolRequestParams) -> types.CallToolResult:
        return await call(api, params.name, params.arguments or {})

    from akd import __version__

    return Server(
        "akd", version=__version__, instructions=INSTRUCTIONS, on_list_tools=list_tools, on_call_tool=call_tool
    )

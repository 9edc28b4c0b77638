"""The MCP endpoint at /mcp and ``akctl mcp`` on a real daemon, driven by the MCP SDK's
own client: list the tools, deploy a project through the tool, dispatch an event, read
its session and prints; an akd error is a clean tool error; no token is a 401."""

from __future__ import annotations

import json
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx
import httpx2
import pytest
from mcp import Client, MCPError, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp_types import CallToolResult, TextContent

from tests.e2e.harness import ROOT, Akd, write_project

pytestmark = pytest.mark.e2e

PROGRAM = """\
def on_hook(event):
    print(f"hello {event.data['name']}")
    return {"greeted": event.data["name"]}
"""

MANIFEST = """\
version: v1
project:
  name: mcpdemo
  triggers:
    - name: hook
      type: webhook
      call: program.py:on_hook
"""

EXPECTED_TOOLS = {
    "project_list", "project_get", "deploy", "deployment_list", "deployment_activate", "deployment_deactivate",
    "session_list", "session_get", "session_prints", "session_log", "session_stop", "session_restart",
    "session_rerun", "session_wake", "session_signal", "session_start", "event_list", "event_get", "event_dispatch",
    "event_redispatch",
    "trigger_list", "trigger_get", "trigger_fire", "connection_list", "connection_get", "connection_test",
}  # fmt: skip


@pytest.fixture(scope="module")
def project_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_project(tmp_path_factory.mktemp("mcpdemo"), {"autokitteh.yaml": MANIFEST, "program.py": PROGRAM})


@pytest.fixture(scope="module")
def deployed(akd_module: Akd, project_dir: Path) -> dict[str, Any]:
    """The project, deployed through the MCP ``deploy`` tool (checked by test_deploy_tool)."""
    result = anyio.run(call_http, akd_module, "deploy", {"directory": str(project_dir)})
    assert not result.is_error, text_of(result)
    data: dict[str, Any] = result.structured_content
    return data


@asynccontextmanager
async def http_client(
    akd: Akd, mode: str = "auto", token: str | None = None, statuses: list[int] | None = None
) -> AsyncIterator[Client]:
    """The SDK's client over its streamable HTTP transport; ``statuses`` collects each HTTP answer's status."""

    async def seen(response: httpx2.Response) -> None:
        if statuses is not None:
            statuses.append(response.status_code)

    headers = {"Authorization": f"Bearer {akd.token if token is None else token}"}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=60, event_hooks={"response": [seen]}) as http,
        Client(streamable_http_client(f"{akd.url}/mcp", http_client=http), mode=mode) as client,
    ):
        yield client


async def call_http(akd: Akd, name: str, arguments: dict[str, Any], mode: str = "auto") -> CallToolResult:
    async with http_client(akd, mode) as client:
        return await client.call_tool(name, arguments)


def text_of(result: CallToolResult) -> str:
    return "".join(c.text for c in result.content if isinstance(c, TextContent))


def test_list_tools_names_each_with_a_description_and_schema(akd_module: Akd) -> None:
    async def run() -> Any:
        async with http_client(akd_module) as client:
            return (await client.list_tools()).tools

    tools = {t.name: t for t in anyio.run(run)}
    assert set(tools) == EXPECTED_TOOLS
    for t in tools.values():
        assert t.description and t.input_schema["type"] == "object", t.name
    rerun = tools["session_rerun"].input_schema
    assert rerun["required"] == ["session_id", "from_step"]
    assert rerun["properties"]["from_step"]["type"] == "integer"
    assert tools["deploy"].input_schema["required"] == ["directory"]
    assert tools["session_list"].annotations is not None and tools["session_list"].annotations.read_only_hint


def test_deploy_tool_answers_like_akctl_deploy_json(akd_module: Akd, deployed: dict[str, Any]) -> None:
    assert set(deployed) >= {"project_id", "build_id", "deployment_id", "webhooks"}
    assert deployed["deployment_id"].startswith("dep_")
    assert deployed["webhooks"]["hook"].startswith(f"{akd_module.url}/webhooks/")
    # The daemon agrees: the deployment is its project's active one.
    [dep] = akd_module.akctl_json("deployment", "list", "--project", "mcpdemo")
    assert (dep["deployment_id"], dep["state"]) == (deployed["deployment_id"], "active")


def test_dispatch_then_list_sessions_and_read_prints(akd_module: Akd, deployed: dict[str, Any]) -> None:
    async def run() -> tuple[CallToolResult, ...]:
        async with http_client(akd_module) as client:
            event = await client.call_tool("event_dispatch", {"trigger": "hook", "data": {"name": "mcp"}})
            [sid] = event.structured_content["session_ids"]
            done = await client.call_tool("session_get", {"session_id": sid, "wait": "final", "timeout": 60})
            listed = await client.call_tool("session_list", {"project": "mcpdemo"})
            prints = await client.call_tool("session_prints", {"session_id": sid})
            return event, done, listed, prints

    event, done, listed, prints = anyio.run(run)
    assert not any(r.is_error for r in (event, done, listed, prints))
    assert event.structured_content["trigger"] == "hook"
    session = done.structured_content
    assert (session["state"], session["return_value"]) == ("completed", {"greeted": "mcp"}), session
    assert session["session_id"] in [s["session_id"] for s in listed.structured_content["items"]]
    assert [p["text"] for p in prints.structured_content["prints"]] == ["hello mcp"]
    # The text is the HTTP API's JSON of the (final, so unchanging) session.
    assert json.loads(text_of(done)) == session == akd_module.session(session["session_id"])


def test_unknown_session_is_a_clean_tool_error(akd_module: Akd) -> None:
    missing = "ses_" + "a" * 26
    result = anyio.run(call_http, akd_module, "session_get", {"session_id": missing})
    assert result.is_error
    assert text_of(result) == f"session {missing!r} not found"
    assert result.structured_content["error"]["code"] == "not_found"


def test_bad_arguments_are_tool_errors_that_name_them(akd_module: Akd) -> None:
    missing = anyio.run(call_http, akd_module, "session_rerun", {"session_id": "ses_x"})
    assert missing.is_error and "missing required argument 'from_step'" in text_of(missing)
    wrong = anyio.run(call_http, akd_module, "session_rerun", {"session_id": "ses_x", "from_step": "two"})
    assert wrong.is_error and "'from_step' must be of type integer" in text_of(wrong)
    extra = anyio.run(call_http, akd_module, "project_list", {"verbose": True})
    assert extra.is_error and "unknown argument(s) verbose" in text_of(extra)


def test_a_bad_manifest_is_a_tool_error_and_deploys_nothing(akd_module: Akd, tmp_path: Path) -> None:
    bad = write_project(tmp_path / "bad", {"autokitteh.yaml": "version: v1\nproject:\n  name: bad\n  nope: 1\n"})
    result = anyio.run(call_http, akd_module, "deploy", {"directory": str(bad)})
    assert result.is_error and "nope" in text_of(result), text_of(result)
    assert "bad" not in [p["name"] for p in akd_module.api("GET", "/projects").json()]


def test_legacy_handshake_clients_get_the_same_tools(akd_module: Akd, deployed: dict[str, Any]) -> None:
    """Clients of protocol versions before 2026-07-28 (initialize handshake) work too."""
    result = anyio.run(call_http, akd_module, "project_get", {"name": "mcpdemo"}, "legacy")
    assert not result.is_error, text_of(result)
    assert result.structured_content["active_deployment_id"] == deployed["deployment_id"]


def test_no_token_or_a_wrong_one_is_401(akd_module: Akd) -> None:
    hello = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    for headers in ({}, {"Authorization": "Bearer wrong"}):
        answer = httpx.post(f"{akd_module.url}/mcp", json=hello, headers=headers, timeout=30)
        assert answer.status_code == 401, answer.text
        assert answer.json()["error"]["code"] == "unauthenticated"

    # The SDK's own client with a wrong token: refused at the HTTP level, before any MCP message.
    statuses: list[int] = []

    async def run() -> None:
        async with http_client(akd_module, "legacy", token="wrong", statuses=statuses) as client:
            await client.list_tools()

    with pytest.raises(ExceptionGroup) as raised:
        anyio.run(run)
    assert raised.group_contains(MCPError), repr(raised.value)
    assert statuses and set(statuses) == {401}, statuses


@pytest.fixture
def stdio_params(akd_module: Akd) -> Iterator[StdioServerParameters]:
    env = {k: v for k, v in akd_module.env.items() if k.startswith(("AKD_", "PYTHON", "PATH", "HOME"))}
    yield StdioServerParameters(command=sys.executable, args=["-m", "akctl.main", "mcp"], env=env, cwd=str(ROOT))


def test_akctl_mcp_over_stdio(akd_module: Akd, deployed: dict[str, Any], stdio_params: StdioServerParameters) -> None:
    async def run() -> tuple[Any, ...]:
        async with Client(stdio_params) as client:
            tools = (await client.list_tools()).tools
            projects = await client.call_tool("project_list", {})
            triggers = await client.call_tool("trigger_list", {"project": "mcpdemo"})
            missing = await client.call_tool("event_get", {"event_id": "evt_" + "b" * 26})
            return tools, projects, triggers, missing

    tools, projects, triggers, missing = anyio.run(run)
    assert {t.name for t in tools} == EXPECTED_TOOLS
    assert "mcpdemo" in [p["name"] for p in projects.structured_content["items"]]
    [hook] = triggers.structured_content["items"]
    assert hook["webhook_url"] == deployed["webhooks"]["hook"]
    assert missing.is_error and text_of(missing) == f"event {'evt_' + 'b' * 26!r} not found"
    # The same answer as the HTTP API's.
    assert triggers.structured_content["items"] == akd_module.api("GET", "/triggers?project=mcpdemo").json()


def test_akctl_mcp_without_a_daemon_says_so(tmp_path: Path, stdio_params: StdioServerParameters) -> None:
    assert stdio_params.env is not None
    env = {**stdio_params.env, "AKD_DATA_DIR": str(tmp_path / "none"), "AKD_RUNTIME_DIR": str(tmp_path / "run")}
    params = stdio_params.model_copy(update={"env": env})

    async def run() -> CallToolResult:
        async with Client(params) as client:
            return await client.call_tool("project_list", {})

    result = anyio.run(run)
    assert result.is_error and "akd is not running" in text_of(result), text_of(result)


def test_every_tool_reaches_its_api_route(akd_module: Akd, deployed: dict[str, Any]) -> None:
    """Each tool's path, query and body reach the API call it names (a wrong path would
    answer "no route for ..."); the ones with effects do what the API does."""
    dep = deployed["deployment_id"]
    ref = {"project": "mcpdemo"}

    async def run() -> dict[str, CallToolResult]:
        out: dict[str, CallToolResult] = {}
        async with http_client(akd_module) as client:

            async def call(tool: str, **arguments: Any) -> Any:
                out[tool] = await client.call_tool(tool, arguments)
                return out[tool].structured_content

            sid = (await call("event_dispatch", trigger="hook", data={"name": "all"}, **ref))["session_ids"][0]
            event_id = (await call("event_list", **ref))["items"][0]["event_id"]
            await call("session_get", session_id=sid, wait="final", timeout=60)
            for name in ("session_prints", "session_log", "session_restart", "session_stop", "session_wake"):
                await call(name, session_id=sid)
            await call("session_rerun", session_id=sid, from_step=0)
            await call("session_signal", session_id=sid, name="go", payload={"n": 1})  # ended: the API refuses it
            await call("session_start", entrypoint="program.py:on_hook", inputs={"name": "started"}, **ref)
            await call("session_list", state="completed", limit=5, **ref)
            await call("event_get", event_id=event_id)
            await call("event_redispatch", event_id=event_id)
            await call("project_list")
            await call("project_get", name="mcpdemo")
            await call("deployment_list", state="active", **ref)
            await call("deployment_deactivate", deployment_id=dep)
            await call("deployment_activate", deployment_id=dep)
            await call("trigger_list", **ref)
            await call("trigger_get", trigger="hook", **ref)
            await call("trigger_fire", trigger="hook", **ref)  # a webhook trigger: the API refuses it
            await call("connection_list", **ref)
            await call("connection_get", connection="nope", **ref)
            await call("connection_test", connection="nope", **ref)
        return out

    results = anyio.run(run)
    assert set(results) | {"deploy"} == EXPECTED_TOOLS
    for name, result in results.items():
        assert not text_of(result).startswith("no route for"), (name, text_of(result))
    ok = {n: r.structured_content for n, r in results.items() if not r.is_error}
    sid = ok["session_get"]["session_id"]
    assert ok["session_restart"]["restart_of"] == sid
    assert ok["session_start"]["session_id"].startswith("ses_")
    assert ok["event_redispatch"]["event_id"] != ok["event_get"]["event_id"]
    assert ok["event_get"]["data"] == {"name": "all"}
    assert ok["deployment_activate"]["state"] == "active"
    assert [d["deployment_id"] for d in ok["deployment_list"]["items"]] == [dep]
    assert ok["trigger_get"]["name"] == "hook" and ok["connection_list"] == {"items": []}
    for name in ("session_stop", "session_wake", "session_signal", "trigger_fire", "connection_get", "connection_test"):
        assert results[name].is_error, name
    assert results["connection_get"].structured_content["error"]["code"] == "not_found"


class BrokenApi:
    """An ``Api`` with a bug in it (the tool layer's own error path; no daemon involved)."""

    async def request(self, method: str, path: str, **kw: Any) -> Any:
        raise RuntimeError(f"bug on {method} {path}")


def test_a_bug_is_a_tool_error_with_an_id_not_a_stack_trace() -> None:
    from akd.mcp.server import build_server

    async def run() -> CallToolResult:
        async with Client(build_server(BrokenApi())) as client:
            return await client.call_tool("session_log", {"session_id": "ses_x"})

    result = anyio.run(run)
    assert result.is_error
    text = text_of(result)
    assert text.startswith("internal error err_") and text.endswith("RuntimeError: bug on GET /sessions/ses_x/log")
    assert "Traceback" not in text
    assert result.structured_content["error"]["details"]["error_id"] in text

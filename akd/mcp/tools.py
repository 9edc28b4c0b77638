"""The MCP tools: each names one call of akd's HTTP API, with its arguments' JSON schema.

A tool is data (``ToolSpec``): where each argument goes (path, query or JSON body)
decides the request, so every tool answers exactly what ``/api/v1`` answers, errors
included. Both transports share this table: the endpoint at ``/mcp`` calls the API in
process, ``akctl mcp`` calls it over HTTP (``Api`` is what each provides).
"""

from __future__ import annotations

import asyncio
import base64
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol
from urllib.parse import quote

from akd.errors import AkdError

JsonType = Literal["string", "integer", "boolean", "object", "any"]
Where = Literal["path", "query", "body"]

# A deploy installs requirements first: as long as ``akctl deploy`` waits for it.
DEPLOY_TIMEOUT = 900.0
# Calls that may wait on the daemon (``wait``) get the longest wait plus some room.
WAIT_TIMEOUT = 3660.0


class ApiError(Exception):
    """An error answer of akd's API: its stable code and its message (shown to the MCP client)."""

    def __init__(self, code: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details or {}

    def to_dict(self) -> dict[str, Any]:
        """The API's error body: ``{"error": {"code", "message", "details"}}``."""
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


class Api(Protocol):
    """One call of ``/api/v1`` (``path`` below it); the decoded JSON answer, or ``ApiError``."""

    async def request(
        self, method: str, path: str, *, params: dict[str, Any], body: Any, timeout: float
    ) -> Any: ...  # fmt: skip


@dataclass(frozen=True)
class Arg:
    name: str
    type: JsonType
    description: str
    where: Where = "query"
    required: bool = False

    def schema(self) -> dict[str, Any]:
        return {"description": self.description} if self.type == "any" else {
            "type": self.type, "description": self.description,
        }  # fmt: skip

    def accepts(self, value: Any) -> bool:
        if self.type == "integer":
            return isinstance(value, int) and not isinstance(value, bool)
        expected = {"string": str, "boolean": bool, "object": dict}.get(self.type)
        return expected is None or isinstance(value, expected)


@dataclass(frozen=True)
class ToolSpec:
    name: str
    description: str
    method: str
    path: str  # below /api/v1, with {arg} for each path argument
    args: tuple[Arg, ...] = ()
    timeout: float = 60.0

    def input_schema(self) -> dict[str, Any]:
        return {
            "type": "object",
            "properties": {a.name: a.schema() for a in self.args},
            "required": [a.name for a in self.args if a.required],
            "additionalProperties": False,
        }

    def checked(self, arguments: dict[str, Any]) -> dict[str, Any]:
        """The arguments, or ``ApiError`` (invalid_argument) naming what is wrong."""
        known = {a.name: a for a in self.args}
        unknown = sorted(set(arguments) - set(known))
        if unknown:
            raise invalid(
                f"{self.name}: unknown argument(s) {', '.join(unknown)}; expected {', '.join(known) or 'none'}"
            )
        for arg in self.args:
            if arg.name not in arguments:
                if arg.required:
                    raise invalid(f"{self.name}: missing required argument {arg.name!r} ({arg.description})")
            elif not arg.accepts(arguments[arg.name]):
                raise invalid(f"{self.name}: argument {arg.name!r} must be of type {arg.type}")
        return arguments

    async def run(self, api: Api, arguments: dict[str, Any]) -> Any:
        """Check the arguments, make the one API call, return its JSON answer."""
        args = self.checked(arguments)
        where = {a.name: a.where for a in self.args}
        path = self.path.format(**{k: quote(str(v), safe="") for k, v in args.items() if where[k] == "path"})
        params = {k: _query_value(v) for k, v in args.items() if where[k] == "query"}
        body = {k: v for k, v in args.items() if where[k] == "body"} if self.method != "GET" else None
        return await api.request(self.method, path, params=params, body=body, timeout=self.timeout)


@dataclass(frozen=True)
class DeploySpec(ToolSpec):
    """``deploy``: the directory is read and checked where the MCP server runs, as
    ``akctl deploy`` does, then uploaded to ``POST /deploy``."""

    async def run(self, api: Api, arguments: dict[str, Any]) -> Any:
        args = self.checked(arguments)
        body = await asyncio.to_thread(deploy_body, args["directory"], args.get("manifest"), args.get("force", False))
        return await api.request("POST", "/deploy", params={}, body=body, timeout=self.timeout)


def deploy_body(directory: str, manifest: str | None, force: bool) -> dict[str, Any]:
    """The body of ``POST /deploy`` for a project directory (its files, base64)."""
    from akd.build import snapshot_project
    from akd.manifest import load_manifest

    root = Path(directory).expanduser().resolve()
    if not root.is_dir():
        raise ApiError("not_found", f"project directory {root} does not exist")
    manifest_path = Path(manifest).expanduser() if manifest else root / "autokitteh.yaml"
    if not manifest_path.is_absolute():
        manifest_path = root / manifest_path
    if not manifest_path.is_file():
        raise ApiError("not_found", f"no manifest at {manifest_path}; create autokitteh.yaml or pass manifest")
    try:
        loaded = load_manifest(manifest_path)
        snapshot = snapshot_project(root, loaded)
        text = manifest_path.read_text(encoding="utf-8-sig")
    except AkdError as exc:
        raise ApiError(exc.code, exc.message, exc.details) from None
    except OSError as exc:  # unreadable file or directory
        raise ApiError("invalid_argument", f"cannot read the project in {root}: {exc}") from None
    files = {p: base64.b64encode(c).decode() for p, c in snapshot.files.items()}
    return {"manifest": text, "files": files, "root_dir": str(root), "force": force}


def invalid(message: str) -> ApiError:
    return ApiError("invalid_argument", message)


def _query_value(value: Any) -> Any:
    return ("true" if value else "false") if isinstance(value, bool) else value


def _p(name: str, description: str) -> Arg:
    """A required path argument."""
    return Arg(name, "string", description, where="path", required=True)


def _q(name: str, type_: JsonType, description: str) -> Arg:
    return Arg(name, type_, description)


def _b(name: str, type_: JsonType, description: str, required: bool = False) -> Arg:
    return Arg(name, type_, description, where="body", required=required)


SESSION = _p("session_id", "A session id (ses_...), or a project name meaning that project's latest session.")
PROJECT_FILTER = _q("project", "string", "Only this project (by name).")
LIMIT = _q("limit", "integer", "At most this many (newest first).")
AFTER = _q("after", "integer", "Only records after this id (the `id` of the last one seen), to page or follow.")
PAGE = _q("limit", "integer", "At most this many records (default 1000).")
CONN_PROJECT = _p("project", "The project's name.")
CONNECTION = _p("connection", "The connection's name in that project.")
DEPLOYMENT = _p("deployment_id", "A deployment id (dep_...).")
EVENT = _p("event_id", "An event id (evt_...).")


PROJECT_TOOLS = (
    ToolSpec("project_list", "List the projects akd knows, with their active deployment.", "GET", "/projects"),
    ToolSpec(
        "project_get", "One project by name or id: its triggers (with webhook URLs) and session counts.",
        "GET", "/projects/{name}", (_p("name", "The project's name or id (prj_...)."),),
    ),
    DeploySpec(
        "deploy",
        "Build a project directory (autokitteh.yaml, code, resources) and make it the active deployment, as "
        "`akctl deploy DIR` does. Returns project_id, build_id, deployment_id, each webhook trigger's URL and the "
        "connections. A bad manifest or file is an error naming file, line and key; nothing is deployed then.",
        "POST", "/deploy", (
            Arg("directory", "string", "The project directory: an absolute path (a relative one is taken from the "
                "MCP server's working directory).", required=True),
            Arg("manifest", "string", "Manifest file (default: DIRECTORY/autokitteh.yaml)."),
            Arg("force", "boolean", "Deploy although the project was last deployed from another directory."),
        ), timeout=DEPLOY_TIMEOUT,
    ),
)  # fmt: skip

DEPLOYMENT_TOOLS = (
    ToolSpec(
        "deployment_list", "List deployments (newest first) with their build and state.", "GET", "/deployments",
        (PROJECT_FILTER, _q("state", "string", "Only this state: active, draining, inactive or testing.")),
    ),
    ToolSpec(
        "deployment_activate", "Make a deployment its project's active one; the previous active one drains.",
        "POST", "/deployments/{deployment_id}/activate", (DEPLOYMENT,),
    ),
    ToolSpec(
        "deployment_deactivate", "Stop a deployment taking new events; its running sessions finish (draining).",
        "POST", "/deployments/{deployment_id}/deactivate", (DEPLOYMENT,),
    ),
)  # fmt: skip

SESSION_TOOLS = (
    ToolSpec(
        "session_list", "List sessions, newest first: state, entrypoint, deployment, error and return value.",
        "GET", "/sessions", (
            PROJECT_FILTER, _q("deployment", "string", "Only this deployment (dep_...)."),
            _q("state", "string", "Only this state: created, running, completed, error or stopped."),
            LIMIT, _q("before", "string", "Only sessions older than this session id (to page)."),
        ),
    ),
    ToolSpec(
        "session_get", "One session: state, steps, error (with traceback), return value, timestamps.",
        "GET", "/sessions/{session_id}", (
            SESSION,
            _q("wait", "string", "Wait until the session reaches one of these states (comma-separated), or "
               "`final` for any final one; it returns at once if it is already final."),
            _q("timeout", "integer", "How long `wait` may take, in seconds (default 30)."),
        ), timeout=WAIT_TIMEOUT,
    ),
    ToolSpec(
        "session_prints", "The lines a session printed, oldest first, each with its time and id.",
        "GET", "/sessions/{session_id}/prints", (SESSION, AFTER, PAGE),
    ),
    ToolSpec(
        "session_log", "A session's log records: state changes, steps (calls and their results), prints, errors.",
        "GET", "/sessions/{session_id}/log", (SESSION, AFTER, PAGE),
    ),
    ToolSpec(
        "session_stop", "Stop a running session (it ends in state `stopped`).",
        "POST", "/sessions/{session_id}/stop", (
            SESSION, _b("reason", "string", "Why, recorded with the session."),
            _b("force", "boolean", "Terminate at once instead of cancelling gracefully."),
            _b("delay", "integer", "Stop after this many seconds."),
        ),
    ),
    ToolSpec(
        "session_restart", "Start a new session with the same entrypoint and event as this one (from scratch).",
        "POST", "/sessions/{session_id}/restart", (SESSION,),
    ),
    ToolSpec(
        "session_rerun",
        "Start a new session whose first FROM_STEP steps replay this session's recorded results (their side "
        "effects do not happen again), then runs live. With `result`, step FROM_STEP's result is replaced by it.",
        "POST", "/sessions/{session_id}/rerun", (
            SESSION, _b("from_step", "integer", "Replay the journal up to this step number.", required=True),
            _b("result", "any", "A JSON value to use as step FROM_STEP's result instead of the recorded one."),
            _b("latest", "boolean", "Run on the project's active deployment instead of the original build."),
        ),
    ),
    ToolSpec(
        "session_wake", "End a durable session's sleep now: the sleep returns as if it had elapsed.",
        "POST", "/sessions/{session_id}/wake", (SESSION,),
    ),
    ToolSpec(
        "session_signal", "Send a session a signal: its next_signal(name) returns it (as autokitteh.signal does).",
        "POST", "/sessions/{session_id}/signal", (
            SESSION,
            _b("name", "string", "The signal's name (what the session's next_signal() waits for).", required=True),
            _b("payload", "any", "The signal's payload (any JSON value)."),
        ),
    ),
    ToolSpec(
        "session_start", "Start a session of a project's active deployment by calling one function (file.py:func).",
        "POST", "/sessions", (
            _b("project", "string", "The project's name.", required=True),
            _b("entrypoint", "string", "The function to call, as file.py:function.", required=True),
            _b("inputs", "object", "The event data the function receives (a JSON object)."),
        ),
    ),
)  # fmt: skip

EVENT_TOOLS = (
    ToolSpec(
        "event_list", "List events (newest first): type, trigger, state and the sessions each started.",
        "GET", "/events", (PROJECT_FILTER, LIMIT),
    ),
    ToolSpec(
        "event_get", "One event with its data and the sessions it started.",
        "GET", "/events/{event_id}", (
            EVENT, _q("wait", "string", "`final`: wait until it is dispatched and its sessions have ended."),
            _q("timeout", "integer", "How long `wait` may take, in seconds (default 30)."),
        ), timeout=WAIT_TIMEOUT,
    ),
    ToolSpec(
        "event_dispatch", "Store an event for a trigger and dispatch it like a real one (starts matching sessions).",
        "POST", "/events", (
            _b("trigger", "string", "The trigger's name.", required=True),
            _b("project", "string", "The trigger's project (needed when several projects have that trigger name)."),
            _b("event_type", "string", "The event type (e.g. post, tick); the trigger's filter sees it."),
            _b("data", "object", "The event data (a JSON object)."),
        ),
    ),
    ToolSpec(
        "event_redispatch", "Dispatch a new event with the same trigger, type and data as an earlier one.",
        "POST", "/events/{event_id}/redispatch", (EVENT,),
    ),
)  # fmt: skip

TRIGGER_TOOLS = (
    ToolSpec(
        "trigger_list", "List triggers: type, call, filter, webhook URL, schedule and its next fire times.",
        "GET", "/triggers", (PROJECT_FILTER,),
    ),
    ToolSpec(
        "trigger_get", "One trigger by id or name.", "GET", "/triggers/{trigger}", (
            _p("trigger", "A trigger id (trg_...) or name."), _q("project", "string", "The project of a trigger name."),
        ),
    ),
    ToolSpec(
        "trigger_fire", "Run a schedule trigger now: a real tick event, as if its schedule had fired.",
        "POST", "/projects/{project}/triggers/{trigger}/fire", (
            _p("project", "The project's name."), _p("trigger", "The schedule trigger's name."),
        ),
    ),
)  # fmt: skip

CONNECTION_TOOLS = (
    ToolSpec(
        "connection_list", "List connections: integration, status and status message.",
        "GET", "/connections", (PROJECT_FILTER,),
    ),
    ToolSpec(
        "connection_get", "One connection with its vars (secrets masked) and, for some integrations, its webhook URL.",
        "GET", "/connections/{project}/{connection}", (CONN_PROJECT, CONNECTION),
    ),
    ToolSpec(
        "connection_test", "Check a connection's credentials with a round trip to the vendor; says ok and why not.",
        "POST", "/connections/{project}/{connection}/test", (CONN_PROJECT, CONNECTION),
    ),
)  # fmt: skip

TOOLS: dict[str, ToolSpec] = {
    t.name: t
    for t in (*PROJECT_TOOLS, *DEPLOYMENT_TOOLS, *SESSION_TOOLS, *EVENT_TOOLS, *TRIGGER_TOOLS, *CONNECTION_TOOLS)
}

"""The runner's main: connect to akd, load the build, run one session segment.

A runner is born holding one end of a socket pair whose other end akd holds: forked
by the fork server, or started by akd itself with the descriptor's number on its
command line (``--fd N``). The socket has no address, so no other process can reach
akd's side or pose as a runner. akd's first frame is ``start`` (the session id), then
``init`` carries everything else.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import inspect
import json
import os
import pickle
import resource
import socket
import sys
import traceback
from pathlib import Path
from types import ModuleType
from typing import Any

from akd.procs import set_child_subreaper, yield_on_wakeup
from akd.runner import compact, context, hook, watchdog
from akd.runner.context import safe_str
from akd.runner.protocol import SyncChannel
from akd.runner.retry import RetryPolicy
from akd.runner.values import AttrDict, Event

SDK_DIR = str(Path(__file__).resolve().parent.parent / "sdk")


def channel_from_fd(fd: int) -> SyncChannel:
    """The socket akd passed down; not inherited further by the user's subprocesses."""
    sock = socket.socket(fileno=fd)
    sock.set_inheritable(False)
    return SyncChannel(sock)


# Opt-in OS limits per runner process; 0 (the default for the first and last) = none.
# Memory and process count of the whole tree are the watchdog's (akd.runner.watchdog).
RLIMITS = {
    "address_space_mb": (resource.RLIMIT_AS, 1024 * 1024),
    "cpu_seconds": (resource.RLIMIT_CPU, 1),
    "open_files": (resource.RLIMIT_NOFILE, 1),
    "user_processes": (resource.RLIMIT_NPROC, 1),
}


def apply_limits(limits: dict[str, int]) -> None:
    """This runner's rlimits; its tree's memory and process count are ``watchdog.start``'s."""
    for name, (which, unit) in RLIMITS.items():
        value = int(limits.get(name) or 0)
        if value <= 0:
            continue
        _soft, hard = resource.getrlimit(which)
        wanted = value * unit
        if hard != resource.RLIM_INFINITY:
            wanted = min(wanted, hard)
        try:
            resource.setrlimit(which, (wanted, hard))
        except (ValueError, OSError):
            pass  # a limit the OS refuses is skipped, not fatal


def prepare_process(init: dict[str, Any]) -> None:
    """Environment, limits, working directory and import path of the user's code."""
    apply_limits(init.get("limits") or {})
    os.environ.clear()
    os.environ.update(init["env"])
    compact.reset()  # credentials are journaled by the names of this session's vars
    os.chdir(init["build_dir"])
    loaded = sys.modules.get("autokitteh")
    if loaded is not None and not str(getattr(loaded, "__file__", "")).startswith(SDK_DIR):
        for name in [m for m in sys.modules if m == "autokitteh" or m.startswith("autokitteh.")]:
            del sys.modules[name]  # akd's SDK always wins over an installed package
    sys.path[:0] = [SDK_DIR, init["build_dir"], *init.get("site_dirs", [])]


def retry_from(spec: dict[str, float]) -> RetryPolicy:
    """The manifest's ``project.retry_policy`` as a RetryPolicy."""
    fields: dict[str, Any] = dict(spec)
    if "maximum_attempts" in fields:
        fields["maximum_attempts"] = int(fields["maximum_attempts"])
    return RetryPolicy(**fields)


def module_name(file: str) -> str:
    path = file[:-3] if file.endswith(".py") else file
    if path.endswith("/__init__"):
        path = path[: -len("/__init__")]
    return path.replace("/", ".")


def load_entry(session: context.Session, entrypoint: str, code_cache: str = "") -> Any:
    file, _, function = entrypoint.partition(":")
    caller = context.make_caller(session)

    def inject(module: ModuleType) -> None:
        session.user_modules.add(module.__name__)
        module.__dict__[hook.CALL_NAME] = caller
        module.__dict__["print"] = session.print

    def importing(delta: int) -> None:
        session.importing += delta

    hook.install(session.build_prefix, inject, code_cache, importing)
    module = __import__(module_name(file), fromlist=["_"])
    return getattr(module, function)


def call_entry(fn: Any, event: Event) -> Any:
    params = inspect.signature(fn).parameters
    kwargs: dict[str, Any] = {}
    args: list[Any] = []
    if "session_id" in params:
        kwargs["session_id"] = event.session_id
    if any(
        p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and name != "session_id" for name, p in params.items()
    ) or any(p.kind == p.VAR_POSITIONAL for p in params.values()):
        args.append(event)
    result = fn(*args, **kwargs)
    if inspect.iscoroutine(result):
        result = asyncio.run(result)
    return result


def user_traceback(exc: BaseException, build_prefix: str) -> str:
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename.startswith(build_prefix)]
    lines = ["Traceback (most recent call last):\n"]
    for frame in frames:
        rel = frame.filename[len(build_prefix) :]
        lines.append(f'  File "{rel}", line {frame.lineno}, in {frame.name}\n')
        if frame.line:
            lines.append(f"    {frame.line.strip()}\n")
    lines.extend(traceback.format_exception_only(type(exc), exc))
    return "".join(lines)


# A stored traceback keeps its first and last parts within this many characters.
MAX_TRACEBACK_CHARS = 32 * 1024


def error_info(exc: BaseException, build_prefix: str, message: str = "") -> dict[str, str]:
    """The session's error as akd stores it: type, message (with a hint where one helps), traceback."""
    message = message or safe_str(exc)
    if isinstance(exc, ModuleNotFoundError) and exc.name:
        top = exc.name.split(".")[0]
        if not Path(build_prefix, top).exists() and not Path(build_prefix, f"{top}.py").exists():
            message += f" (if {top!r} is a package from the index, add it to the project's requirements.txt)"
    try:
        tb = user_traceback(exc, build_prefix)
    except BaseException:
        tb = ""
    if len(tb) > MAX_TRACEBACK_CHARS:
        half = MAX_TRACEBACK_CHARS // 2
        tb = f"{tb[:half]}\n  ... [{len(tb) - 2 * half} characters of traceback cut] ...\n{tb[-half:]}"
    return {"type": type(exc).__name__, "message": message, "traceback": tb}


def encode_value(value: Any) -> Any:
    """The return value as JSON when it is JSON, else its repr (the return value is for people)."""
    try:
        json.dumps(value)
        return value
    except (TypeError, ValueError, RecursionError):
        pass
    try:
        return repr(value)[:MAX_TRACEBACK_CHARS]
    except BaseException:
        return f"<a {type(value).__name__} whose repr() failed>"


def make_event(payload: dict[str, Any], session_id: str) -> Event:
    return Event(
        data=AttrDict(payload.get("data") or {}),
        event_id=payload.get("event_id", ""),
        event_type=payload.get("event_type", ""),
        session_id=session_id,
    )


def run(chan: SyncChannel, session_id: str) -> None:
    chan.send({"op": "hello", "session_id": session_id, "pid": os.getpid()})
    init, blob = chan.recv()
    payload = pickle.loads(blob)
    prepare_process(init)
    chan = context.LockedChannel(chan.sock)  # the output drain and the watchdog send too
    watchdog.start(chan, init.get("limits") or {})
    journal = [context.JournalEntry(k, n, b) for k, n, b in payload["journal"]]
    session = context.Session(
        chan,
        session_id,
        durable=bool(init["durable"]),
        journal=journal,
        build_dir=init["build_dir"],
        max_result_bytes=int(init["max_result_bytes"]),
        max_print_bytes=int(init.get("max_print_bytes") or 0),
        secret_env=list(init.get("secret_env") or ()),
    )
    if int(init.get("attempt") or 1) > 1:
        session.print_prefix = f"a{int(init['attempt'])}."
    if init.get("retry_policy"):
        session.default_policy = retry_from(init["retry_policy"])
    context.current = session
    builtins.print = session.print  # third-party prints become session prints too
    context.route_output(session)  # and so do sys.stdout/sys.stderr and descriptors 1 and 2
    if init.get("hold"):  # given its spec ahead of the segment: the user's code waits for "go"
        try:
            chan.recv()
        except EOFError:
            return  # akd gave the segment up (its workflow did not start here)
        session.heard()
    try:
        fn = load_entry(session, init["entrypoint"], str(init.get("code_cache", "")))
        value = call_entry(fn, make_event(payload["event"], session_id))
        context.flush_output(settle=True)
        chan.send({"op": "done", "ok": True, "value": encode_value(value)})
    except SystemExit as exc:
        context.flush_output(settle=True)
        if exc.code in (None, 0):  # a script's way of saying "done"
            chan.send({"op": "done", "ok": True, "value": None})
        else:
            message = (
                f"the session's code called sys.exit({exc.code!r}); a session ends by returning "
                "(or raising an exception), so it ended in error"
            )
            chan.send({"op": "done", "ok": False, "error": error_info(exc, session.build_prefix, message)})
    except Exception as exc:
        context.flush_output(settle=True)
        chan.send({"op": "done", "ok": False, "error": error_info(exc, session.build_prefix)})
    with contextlib.suppress(EOFError):
        chan.recv()  # akd closes the connection once it has stored the outcome


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if "--fd" not in args or args.index("--fd") + 1 >= len(args):
        sys.stderr.write("usage: python -m akd.runner --fd N [--batch] (started by akd)\n")
        raise SystemExit(2)
    set_child_subreaper()  # what the session's code starts stays below this process
    chan = channel_from_fd(int(args[args.index("--fd") + 1]))
    if "--batch" in args:
        yield_on_wakeup()  # as the fork server does for the runners it forks
    try:
        start, _ = chan.recv()
    except EOFError:
        os._exit(0)  # akd gave this runner up before it started
    try:
        run(chan, str(start["session_id"]))
    except BaseException:
        context.fail_runner()
    context.end_runner()

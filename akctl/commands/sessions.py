"""``akctl session ...``: list, get, prints."""

from __future__ import annotations

import datetime
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from akctl import manual, render
from akctl.app import App, common
from akctl.confirm import confirm_loss, plural
from akctl.durations import DURATION
from akctl.errors import CliError
from akctl.render import escape

FINAL = ("completed", "error", "stopped")


def list_sessions(app: App, project: str, deployment: str, state: str, limit: int) -> None:
    rows: list[dict[str, Any]] = app.client.get(
        "/sessions", project=project, deployment=deployment, state=state, limit=limit
    )
    if app.as_json:
        render.print_json(rows)
        return
    if not rows:
        render.out.print("no sessions")
        return
    t = render.table("SESSION", "PROJECT", "STATE", "ENTRYPOINT", "CREATED", "DURATION")
    for r in rows:
        t.add_row(
            r["session_id"],
            escape(r["project"] or ""),
            render.state(r["state"]),
            escape(r["entrypoint"]),
            render.relative(r["created_at"]),
            render.human_duration(r["duration"]),
        )
    render.out.print(t)


def get_session(app: App, ident: str) -> None:
    s: dict[str, Any] = app.client.get(f"/sessions/{ident}")
    if app.as_json:
        render.print_json(s)
        return
    fields = [
        ("session", s["session_id"]),
        ("project", s["project"]),
        ("state", render.state(s["state"])),
        ("entrypoint", escape(s["entrypoint"])),
        ("durable", "yes" if s["durable"] else "no"),
        ("deployment", s["deployment_id"]),
        ("build", s["build_id"]),
        ("event", s["event_id"] or "-"),
        ("created", f"{render.local_time(s['created_at'])} ({render.relative(s['created_at'])})"),
        ("duration", render.human_duration(s["duration"])),
        ("steps", str(s["steps"])),
    ]
    if s.get("worker"):
        fields.append(("worker", escape(s["worker"])))
    if s.get("attempt", 1) > 1:
        again = "its code ran again from the top; see `akctl session log`"
        fields.append(("attempt", f"[yellow]{s['attempt']}[/] ({again})"))
    for key, value in fields:
        render.out.print(f"[bold]{key:>11}[/]  {value}")
    if s.get("waiting"):
        render.out.print(f"[bold]{'waiting':>11}[/]  [cyan]{escape(describe_wait(s['waiting']))}[/]")
    waiting = s.get("waiting_for")
    if waiting:
        detail = f"{waiting['what']} ({escape(waiting['detail'])}), {render.relative(waiting['since'])}"
        render.out.print(f"[bold]{'waiting for':>11}[/]  [yellow]{detail}[/]")
    if s.get("temporal_ui_url"):
        render.out.print(f"[bold]{'temporal':>11}[/]  {s['temporal_ui_url']}")
    if s["return_value"] is not None:
        render.out.print("[bold]     return[/]  " + escape(json.dumps(s["return_value"])))
    if s.get("error"):
        show_error(render.out, s["error"])


def describe_wait(w: dict[str, Any]) -> str:
    """What a session waits on, in plain words: ``sleeping until 22:37:05 (in 3m00s)``,
    ``waiting for an event on trigger X with filter F``, ``waiting for signal ping``."""
    if w["kind"] == "sleep":
        return f"sleeping until {_clock(w['until'])}"
    if w["kind"] == "event":
        sources = [_event_source(sub) for sub in w.get("subscriptions") or []]
        text = "waiting for an event " + (", or ".join(sources) or "(no subscription)")
    else:
        names = [str(n) for n in w.get("names") or []]
        text = f"waiting for signal{'s' if len(names) > 1 else ''} " + " or ".join(names)
    return text + (f", until {_clock(w['until'])}" if w.get("until") else "")


def _event_source(sub: dict[str, Any]) -> str:
    kind = sub.get("source_kind") or "source"
    text = f"on {kind} {sub['source']}"
    return text + (f" with filter {sub['filter']}" if sub.get("filter") else "")


def _clock(value: str) -> str:
    """``22:37:05 (in 3m00s)`` (local time; the date too when it is not today)."""
    t = render.parse_time(value)
    if t is None:
        return "-"
    local = t.astimezone()
    shown = local.strftime("%H:%M:%S" if local.date() == datetime.date.today() else "%Y-%m-%d %H:%M:%S")
    left = (t - datetime.datetime.now(datetime.UTC)).total_seconds()
    return f"{shown} (in {render.human_duration(left)})" if left > 0 else f"{shown} (due now)"


def show_error(console: Any, err: dict[str, Any]) -> None:
    """A session's error: ``Type: message``, then its traceback highlighted."""
    console.print(f"[bold]      error[/]  [red]{escape(err.get('type', ''))}: {escape(err.get('message', ''))}[/]")
    if err.get("traceback"):
        console.print(_syntax(err["traceback"].rstrip(), "pytb", theme="ansi_dark", background_color="default"))


# The first page is small so the first lines show at once; later pages are big.
FIRST_PAGE, PAGE = 1000, 10000


def fetch_prints(app: App, ident: str, after: int, limit: int = PAGE, order: str = "asc") -> dict[str, Any]:
    data: dict[str, Any] = app.client.get(f"/sessions/{ident}/prints", after=after, limit=limit, order=order)
    return data


def _colour() -> bool:
    """Whether stdout takes ANSI colour (decided without importing rich)."""
    return sys.stdout.isatty() and "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"


def show_prints(app: App, prints: list[dict[str, Any]], timestamps: bool) -> None:
    """Print lines written in bulk (rich per line is far too slow for 100,000 prints)."""
    dim, reset = ("\x1b[2m", "\x1b[0m") if _colour() else ("", "")
    # Lines show whole seconds: format each second once (the cache key drops the milliseconds).
    lines = [
        f"{dim}{render.local_time(p['t'][:19] + 'Z')}{reset} {p['text']}" if timestamps else str(p["text"])
        for p in prints
    ]
    if lines:
        sys.stdout.write("\n".join(lines) + "\n")
        sys.stdout.flush()


def prints(app: App, ident: str, timestamps: bool, follow: bool, tail: int = 0) -> None:
    """All prints (page by page, each shown as it arrives), or the last ``tail`` ones."""
    if tail:
        data = fetch_prints(app, ident, 0, limit=tail, order="desc")
        page, more = data["prints"][::-1], False
    else:
        data = fetch_prints(app, ident, 0, limit=FIRST_PAGE)
        page = data["prints"]
        more = len(page) == FIRST_PAGE
    ident = data["session_id"]  # a project name must not move to a newer session mid-way
    collected: list[dict[str, Any]] = []
    last = 0
    while True:
        if page:
            last = page[-1]["id"]
        if app.as_json and not follow:
            collected.extend(page)
        else:
            show_prints(app, page, timestamps)
        if not more:
            break
        data = fetch_prints(app, ident, last)
        page = data["prints"]
        more = len(page) == PAGE
    if app.as_json and not follow:
        render.print_json([{"t": p["t"], "text": p["text"]} for p in collected])
        return
    if not follow:
        return
    while data["state"] not in FINAL:
        time.sleep(0.2)
        last, data = drain_prints(app, ident, last, timestamps)


def drain_prints(app: App, sid: str, last: int, timestamps: bool, show: bool = True) -> tuple[int, dict[str, Any]]:
    """Show every print after ``last``, page by page until a short page; the last response too.

    A response whose state is final holds the session's last prints (they are stored with
    its end), so a follower may stop at the first short page that says so, never before.
    """
    while True:
        data = fetch_prints(app, sid, last)
        page = data["prints"]
        if page:
            last = page[-1]["id"]
            if show:
                show_prints(app, page, timestamps)
        if len(page) < PAGE:
            return last, data


def log_line(rec: dict[str, Any]) -> str:
    """One session-log record as a readable line (no markup)."""
    kind = rec["kind"]
    if kind == "print":
        return f"print  {rec['text']}"
    if kind == "state":
        extra = f" ({rec['error']})" if rec.get("error") else ""
        return f"state  {rec['state']}{extra}"
    if kind in ("step", "sleep"):
        outcome = "ok" if rec.get("ok") else f"error: {rec.get('error', '')}"
        attempt = f" attempt {rec['attempt']}" if rec.get("attempt", 1) != 1 else ""
        duration = render.human_duration(rec.get("duration"))
        if rec.get("ok") and "result" in rec:
            outcome = f"ok: {rec['result']}"
        if kind == "sleep":  # journaled when it starts: its length is what it asked for
            duration = _asked(rec.get("args", ""))
        return f"{kind:<5}  #{rec['seq']} {rec['name']}({rec.get('args', '')}){attempt} -> {outcome} [{duration}]"
    if kind == "call":
        outcome = "ok" if rec.get("ok") else f"error: {rec.get('error', '')}"
        waited = f" [waited {render.human_duration(rec['waited'])}]" if rec.get("waited") is not None else ""
        return f"call   #{rec['seq']} {rec['name']} -> {outcome}{waited}"
    special = _NOTES.get(kind)
    if special is not None:
        return special(rec)
    detail = {k: v for k, v in rec.items() if k not in ("id", "t", "kind")}
    return f"{kind:<5}  {json.dumps(detail)}"


def _asked(args: str) -> str:
    try:
        return f"for {render.human_duration(float(args))}"
    except ValueError:
        return args


def _down(rec: dict[str, Any]) -> str:
    if not rec.get("down_from"):
        return ""
    gone = render.human_duration(rec["down_to"] - rec["down_from"])
    seen = datetime.datetime.fromtimestamp(rec["down_from"]).strftime("%Y-%m-%d %H:%M:%S")
    return f"; akd was down {gone} (last seen {seen})"


_NOTES: dict[str, Callable[[dict[str, Any]], str]] = {
    "restart": lambda r: f"restart  attempt {r['attempt']}: {r['why']}",
    "resume": lambda r: f"resume  after a restart of akd: replayed {r['steps']} journaled steps{_down(r)}",
    "storage": lambda r: f"storage  {r['what']} waited {render.human_duration(r['waited'])} for storage ({r['error']})",
}


def fetch_log(app: App, ident: str, order: str) -> tuple[str, list[dict[str, Any]]]:
    """Every record of a session's log, paging through the API."""
    records: list[dict[str, Any]] = []
    after = 0
    while True:
        page: dict[str, Any] = app.client.get(f"/sessions/{ident}/log", after=after, limit=10000)
        records.extend(page["records"])
        if len(page["records"]) < 10000:
            break
        after = page["records"][-1]["id"]
    if order == "desc":
        records.reverse()
    return page["session_id"], records


def watch(app: App, ident: str, end_states: tuple[str, ...], timeout: float | None) -> int:
    """Follow a session, printing its prints, until it ends or reaches a state; 0 if it completed."""
    started = time.monotonic()
    session: dict[str, Any] = app.client.get(f"/sessions/{ident}")
    sid, last = session["session_id"], 0
    wanted = set(end_states) | set(FINAL)
    while True:
        last, _ = drain_prints(app, sid, last, True, show=not app.as_json)
        session = app.client.get(f"/sessions/{sid}", wait=",".join(wanted), timeout=1)
        if session["state"] in wanted:
            drain_prints(app, sid, last, True, show=not app.as_json)
            break
        if timeout is not None and time.monotonic() - started > timeout:
            render.err.print(
                f"[yellow]timed out[/] after {render.human_duration(timeout)}; session is {session['state']}"
            )
            return 1
    if app.as_json:
        render.print_json(session)
    else:
        render.err.print(f"session {sid} is {render.state(session['state'])}")
        if session.get("error"):
            show_error(render.err, session["error"])
    reached = session["state"] in end_states if end_states else session["state"] == "completed"
    return 0 if reached else 1


def hint_as_request(app: App, sid: str) -> None:
    """A webhook's function run with plain inputs fails reading the request: say how to send one."""
    err = app.client.get(f"/sessions/{sid}").get("error") or {}
    if err.get("type") == "AttributeError" and "no key 'body'" in err.get("message", ""):
        render.err.print("[dim]hint:[/] the function reads a webhook request; --as-request sends the inputs as one")


def parse_inputs(inputs: tuple[str, ...]) -> dict[str, Any]:
    """``--input key=<json>`` pairs (a value that is not JSON is a string)."""
    data: dict[str, Any] = {}
    for pair in inputs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise CliError(f"--input expects key=<json>, got {pair!r}", 40)
        try:
            data[key] = json.loads(value)
        except ValueError:
            data[key] = value
    return data


def register(cli: click.Group) -> None:
    @cli.group("session")
    def session() -> None:
        """Inspect and control sessions (one run of an entry function)."""

    register_control(session)
    register_logs(session)

    @session.command("list")
    @click.option("--project", "-p", default="", help="Only this project's sessions.")
    @click.option("--deployment", default="", help="Only this deployment's sessions.")
    @click.option(
        "--state",
        type=click.Choice(["created", "queued", "running", "completed", "error", "stopped"]),
        default=None,
        help="Only sessions in this state.",
    )
    @click.option("--limit", type=click.IntRange(1, 10000), default=50, show_default=True)
    @common
    def list_cmd(app: App, project: str, deployment: str, state: str | None, limit: int) -> None:
        """List sessions, newest first.

        \b
        Example:
          akctl session list --project hello --state error
        """
        list_sessions(app, project, deployment, state or "", limit)

    @session.command("get")
    @click.argument("session_id")
    @common
    def get_cmd(app: App, session_id: str) -> None:
        """Show a session: state, inputs, return value or error with traceback.

        SESSION_ID may also be a project name, meaning its latest session.
        """
        get_session(app, session_id)

    @session.command("prints")
    @click.argument("session_id")
    @click.option("--no-timestamps", is_flag=True, help="Print only the text.")
    @click.option("--follow", "-f", is_flag=True, help="Keep printing new lines until the session ends.")
    @click.option(
        "--tail", "-n", type=click.IntRange(1, 100_000), default=None, help="Only the last N lines (fast on huge logs)."
    )
    @common
    def prints_cmd(app: App, session_id: str, no_timestamps: bool, follow: bool, tail: int | None) -> None:
        """Show what a session printed (all of it, streamed page by page).

        SESSION_ID may also be a project name, meaning its latest session.

        \b
        Examples:
          akctl session prints hello --no-timestamps
          akctl session prints ses_01... --tail 100 --follow
        """
        prints(app, session_id, not no_timestamps, follow, tail or 0)


def register_control(session: click.Group) -> None:
    @session.command("start")
    @click.option("--project", "-p", required=True, help="Project whose active deployment runs the session.")
    @click.option("--entrypoint", required=True, help="file.py:function")
    @click.option("--input", "inputs", multiple=True, help="key=<json> passed in event.data; repeatable.")
    @click.option(
        "--as-request",
        is_flag=True,
        help="Send the inputs as the JSON body of a POST to the webhook that calls ENTRYPOINT.",
    )
    @click.option("--watch", "watch_", is_flag=True, help="Follow the session's prints until it ends.")
    @common
    def start_cmd(
        app: App, project: str, entrypoint: str, inputs: tuple[str, ...], as_request: bool, watch_: bool
    ) -> int:
        """Start a session by hand; the inputs are its event.data (event.data.name, ...).

        A webhook's function reads the request instead (event.data.body.json,
        event.data.method, ...): --as-request sends the inputs as the JSON body of a POST
        to the URL of the webhook trigger that calls ENTRYPOINT.

        \b
        Example:
          akctl session start -p hello --entrypoint program.py:on_webhook --as-request --input name='"Ada"' --watch
        """
        data = parse_inputs(inputs)
        if as_request:
            data = manual.as_request(data, manual.webhook_of_entrypoint(app, project, entrypoint))
        res = app.client.post("/sessions", {"project": project, "entrypoint": entrypoint, "inputs": data})
        if app.as_json and not watch_:
            render.print_json({"session_id": res["session_id"]})
            return 0
        if not app.as_json:
            render.out.print(res["session_id"])
        if not watch_:
            return 0
        code = watch(app, res["session_id"], (), None)
        if code and not as_request and not app.as_json:
            hint_as_request(app, res["session_id"])
        return code

    @session.command("stop")
    @click.argument("session_id")
    @click.option("--reason", default="", help="Recorded in the session's log and error.")
    @click.option("--force", is_flag=True, help="Terminate if the graceful stop has not finished after --delay.")
    @click.option("--delay", type=DURATION, default=0.0, help="Grace period before --force terminates (e.g. 1s).")
    @common
    def stop_cmd(app: App, session_id: str, reason: str, force: bool, delay: float) -> None:
        """Stop a running session (graceful; --force terminates after --delay).

        SESSION_ID may also be a project name (its latest session).

        \b
        Example:
          akctl session stop ses_01... --reason "wrong input" --force --delay 1s
        """
        res = app.client.post(f"/sessions/{session_id}/stop", {"reason": reason, "force": force, "delay": delay})
        final: dict[str, Any] = app.client.get(f"/sessions/{res['session_id']}", wait="final", timeout=int(delay) + 10)
        if final["state"] not in FINAL:
            hint = "" if force else "; try again with --force"
            raise CliError(f"session {final['session_id']} is still {final['state']}: the stop did not finish{hint}", 1)
        app.show(final, lambda: f"session {final['session_id']} is {render.state(final['state'])}")

    @session.command("restart")
    @click.argument("session_id")
    @common
    def restart_cmd(app: App, session_id: str) -> None:
        """Start a new session with the same entry point and inputs."""
        res = app.client.post(f"/sessions/{session_id}/restart")
        app.show(res, lambda: f"[green]✓[/] started {res['session_id']} (restart of {res['restart_of']})")

    @session.command("delete")
    @click.argument("session_id")
    @click.option("--yes", "-y", is_flag=True, help="Do not ask (required when not at a terminal).")
    @common
    def delete_cmd(app: App, session_id: str, yes: bool) -> None:
        """Delete an ended session and its logs.

        \b
        Example:
          akctl session delete ses_01... --yes
        """
        if not yes:
            s: dict[str, Any] = app.client.get(f"/sessions/{session_id}")
            lost = f"its log, prints and journal ({plural(int(s['steps']), 'step')})"
            confirm_loss(app, yes, f"delete session {s['session_id']}", lost)
        res = app.client.delete(f"/sessions/{session_id}")
        app.show(res, lambda: f"[green]✓[/] deleted {res['session_id']}")


def register_logs(session: click.Group) -> None:
    @session.command("log")
    @click.argument("session_id")
    @click.option("--order", type=click.Choice(["asc", "desc"]), default="asc", show_default=True)
    @common
    def log_cmd(app: App, session_id: str, order: str) -> None:
        """Show a session's log: state changes, prints, steps (with attempts and durations), stops.

        \b
        Example:
          akctl session log hello --order desc
        """
        _, records = fetch_log(app, session_id, order)
        if app.as_json:
            render.print_json(records)
            return
        for rec in records:
            render.out.print(f"[dim]{render.local_time(rec['t'])}[/] {escape(log_line(rec))}")

    @session.command("watch")
    @click.argument("session_id")
    @click.option(
        "--end-state",
        "end_states",
        multiple=True,
        type=click.Choice(["running", "completed", "error", "stopped"]),
        help="Stop watching (exit 0) when the session reaches this state; default: completed.",
    )
    @click.option("--timeout", type=DURATION, default=None, help="Give up (exit 1) after this long.")
    @common
    def watch_cmd(app: App, session_id: str, end_states: tuple[str, ...], timeout: float | None) -> int:
        """Follow a session's prints until it ends: exit 0 if it completed (or reached --end-state), else 1.

        \b
        Example:
          akctl session watch hello --timeout 1m
        """
        return watch(app, session_id, end_states, timeout)

    @session.command("download-logs")
    @click.argument("session_id")
    @click.option("-o", "--output", type=click.Path(path_type=Path), default=None, help="File (default: ID.log).")
    @common
    def download_cmd(app: App, session_id: str, output: Path | None) -> None:
        """Write a session's whole log to a readable text file."""
        sid, records = fetch_log(app, session_id, "asc")
        path = output or Path(f"{sid}.log")
        with path.open("w") as f:
            for rec in records:
                f.write(f"{rec['t']} {log_line(rec)}\n")
        app.show(
            {"session_id": sid, "path": str(path), "records": len(records)},
            lambda: f"[green]✓[/] wrote {len(records)} records to {path}",
        )


def _syntax(*args: Any, **kwargs: Any) -> Any:
    """rich's Syntax, imported only when a command shows highlighted code."""
    from rich.syntax import Syntax

    return Syntax(*args, **kwargs)

"""``akctl session ...``: list, get, prints."""

from __future__ import annotations

import time
from typing import Any

import click
from rich.markup import escape
from rich.syntax import Syntax

from akctl import render
from akctl.app import App, common

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
    for key, value in fields:
        render.out.print(f"[bold]{key:>11}[/]  {value}")
    if s["return_value"] is not None:
        render.out.print("[bold]     return[/]  " + escape(repr(s["return_value"])))
    err = s.get("error")
    if err:
        render.out.print(
            f"[bold]      error[/]  [red]{escape(err.get('type', ''))}: {escape(err.get('message', ''))}[/]"
        )
        if err.get("traceback"):
            render.out.print(Syntax(err["traceback"].rstrip(), "pytb", theme="ansi_dark", background_color="default"))


def fetch_prints(app: App, ident: str, after: int) -> dict[str, Any]:
    data: dict[str, Any] = app.client.get(f"/sessions/{ident}/prints", after=after, limit=10000)
    return data


def show_prints(app: App, prints: list[dict[str, Any]], timestamps: bool) -> None:
    for p in prints:
        if timestamps:
            render.out.print(f"[dim]{render.local_time(p['t'])}[/] {escape(p['text'])}")
        else:
            render.out.print(escape(p["text"]))


def prints(app: App, ident: str, timestamps: bool, follow: bool) -> None:
    data = fetch_prints(app, ident, 0)
    collected = data["prints"]
    while len(data["prints"]) == 10000:
        data = fetch_prints(app, ident, collected[-1]["id"])
        collected.extend(data["prints"])
    if app.as_json and not follow:
        render.print_json([{"t": p["t"], "text": p["text"]} for p in collected])
        return
    show_prints(app, collected, timestamps)
    if not follow:
        return
    session_id, last = data["session_id"], collected[-1]["id"] if collected else 0
    while data["state"] not in FINAL:
        time.sleep(0.2)
        data = fetch_prints(app, session_id, last)
        if data["prints"]:
            last = data["prints"][-1]["id"]
            show_prints(app, data["prints"], timestamps)


def register(cli: click.Group) -> None:
    @cli.group("session")
    def session() -> None:
        """Inspect and control sessions (one run of an entry function)."""

    @session.command("list")
    @click.option("--project", default="", help="Only this project's sessions.")
    @click.option("--deployment", default="", help="Only this deployment's sessions.")
    @click.option(
        "--state",
        type=click.Choice(["created", "running", "completed", "error", "stopped"]),
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
    @common
    def prints_cmd(app: App, session_id: str, no_timestamps: bool, follow: bool) -> None:
        """Show what a session printed.

        SESSION_ID may also be a project name, meaning its latest session.

        \b
        Example:
          akctl session prints hello --no-timestamps
        """
        prints(app, session_id, not no_timestamps, follow)

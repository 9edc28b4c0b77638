"""``akctl event ...``, ``akctl trigger ...`` and ``akctl store ...``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from akctl import manual, render
from akctl.app import App, common
from akctl.errors import CliError
from akctl.render import escape

BODY_SHOWN = 64 * 1024  # what akd returns of a delivery's body unless asked for all (akd.api.deliveries)


def parse_data(pairs: tuple[str, ...], file: Path | None) -> dict[str, Any]:
    """``--data k=v`` (v parsed as JSON when it is JSON, else a string) or ``--file data.json``."""
    data: dict[str, Any] = {}
    if file is not None:
        try:
            loaded = json.loads(file.read_text())
        except (OSError, ValueError) as exc:
            raise CliError(f"cannot read event data from {file}: {exc}", 40) from None
        if not isinstance(loaded, dict):
            raise CliError(f"{file} must hold a JSON object", 40)
        data.update(loaded)
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise CliError(f"--data expects key=value, got {pair!r}", 40)
        try:
            data[key] = json.loads(value)
        except ValueError:
            data[key] = value
    return data


def show_event(app: App, ev: dict[str, Any]) -> None:
    if app.as_json:
        render.print_json(ev)
        return
    for key in ("event_id", "event_type", "trigger", "source", "state", "created_at"):
        value = render.state(ev[key]) if key == "state" else escape(str(ev.get(key) or "-"))
        render.out.print(f"[bold]{key:>11}[/]  {value}")
    if ev.get("skip_reason"):
        render.out.print(f"[bold]{'skipped':>11}[/]  {escape(ev['skip_reason'])}", soft_wrap=True)
    render.out.print(f"[bold]{'sessions':>11}[/]  {', '.join(ev['session_ids']) or '-'}")
    if ev.get("delivered_to"):
        render.out.print(f"[bold]{'delivered':>11}[/]  to session {ev['delivered_to']['session_id']} (its next_event)")
    if "data" in ev:
        render.out.print(_syntax(json.dumps(ev["data"], indent=2), "json", theme="ansi_dark",
                                background_color="default"))  # fmt: skip
    if ev.get("delivery"):
        show_delivery(ev["delivery"])


def show_delivery(d: dict[str, Any]) -> None:
    """The raw delivery of a vendor event: how it was verified, its headers, its body."""
    render.out.print("[bold]delivery[/]")
    for key in ("connection", "delivery_id", "verified_by", "replay_of", "reason"):
        if d.get(key):
            render.out.print(f"[bold]{key:>11}[/]  {escape(str(d[key]))}")
    render.out.print(f"[bold]{'headers':>11}[/]")
    for name, value in d["headers"].items():
        render.out.print(f"  [cyan]{escape(name)}[/]: {escape(value)}", soft_wrap=True)
    body = d["body"]
    render.out.print(f"[bold]{'body':>11}[/]  [dim]{body['size']:,} bytes[/]")
    if "text" in body:
        text, is_json = pretty_body(body["text"])
        lexer = "json" if is_json else "text"
        render.out.print(_syntax(text, lexer, theme="ansi_dark", background_color="default"))
    else:
        render.out.print(f"[dim](not UTF-8; base64)[/]\n{body['base64']}", soft_wrap=True)
    if body["truncated"]:
        render.out.print(f"[dim](body: {body['size']:,} bytes, the first {BODY_SHOWN:,} shown; --full shows all)[/]")


def pretty_body(text: str) -> tuple[str, bool]:
    """A JSON body indented for reading (the stored bytes are unchanged); other text as is."""
    try:
        return json.dumps(json.loads(text), indent=2, ensure_ascii=False), True
    except ValueError:
        return text, False


def print_deliveries(rows: list[dict[str, Any]]) -> None:
    """One block per delivery: a line with the event id, type, state and age, then one
    line per id (delivery, sessions, original of a replay). Ids are never wrapped or cut,
    so each stays whole and copyable at 80 columns (a Slack trigger id is 54 characters)."""
    width = max((len(r["event_id"]) for r in rows), default=30)
    for i, r in enumerate(rows):
        if i:
            render.out.print()
        render.out.print(f"[bold]{r['event_id']:<{width}}[/]  {escape(r['event_type'])}  {render.state(r['state'])}  "
                         f"[dim]{render.relative(r['created_at'])}[/]", soft_wrap=True)  # fmt: skip
        details = [("delivery", r["delivery_id"] or "-"), *(("session", s) for s in r["session_ids"])]
        if r["replay_of"]:
            details.append(("replay of", r["replay_of"]))
        for label, value in details:
            render.out.print(f"  [dim]{label:<9}[/] {escape(value)}", soft_wrap=True)
        if r["reason"]:
            render.out.print(f"  [dim]{'skipped':<9}[/] {escape(r['reason'])}")


# The reason a skipped event started nothing is shown only where it fits beside the ids
# (``event get`` and ``--json`` always have it).
WHY_MIN_WIDTH = 120


def print_events(rows: list[dict[str, Any]]) -> None:
    why = render.out.width >= WHY_MIN_WIDTH and any(r.get("skip_reason") for r in rows)
    t = render.table("EVENT", "TRIGGER", "TYPE", "STATE", "CREATED", "SESSIONS", *(("WHY SKIPPED",) if why else ()))
    for r in rows:
        cells = [r["event_id"], escape(r["trigger"]), escape(r["event_type"]), render.state(r["state"]),
                 render.relative(r["created_at"]), "\n".join(r["session_ids"]) or "-"]  # fmt: skip
        t.add_row(*cells, *((escape(r.get("skip_reason") or ""),) if why else ()))
    render.out.print(t if rows else "no events")


def register_events(cli: click.Group) -> None:
    @cli.group("event")
    def event() -> None:
        """Inspect and send events (webhook requests, schedule ticks, manual dispatches)."""

    @event.command("list")
    @click.option("--project", "-p", default="", help="Only this project's events.")
    @click.option("--connection", default="", metavar="PROJECT/CONN",
                  help="Only this connection's vendor deliveries (delivery ids, why one was skipped).")  # fmt: skip
    @click.option("--limit", type=click.IntRange(1, 10000), default=50, show_default=True)
    @common
    def list_cmd(app: App, project: str, connection: str, limit: int) -> None:
        """List events, newest first, with the sessions each started.

        \b
        Examples:
          akctl event list --project hello
          akctl event list --connection hello/github_conn
        """
        if connection:
            deliveries: list[dict[str, Any]] = app.client.get("/events", connection=connection, limit=limit)
            if app.as_json:
                render.print_json(deliveries)
            elif deliveries:
                print_deliveries(deliveries)
            else:
                render.out.print(f"no deliveries to {escape(connection)}")
            return
        rows: list[dict[str, Any]] = app.client.get("/events", project=project, limit=limit)
        if app.as_json:
            render.print_json(rows)
            return
        print_events(rows)

    @event.command("get")
    @click.argument("event_id")
    @click.option("--full", is_flag=True, help=f"A delivery's whole body (else the first {BODY_SHOWN:,} bytes).")
    @common
    def get_cmd(app: App, event_id: str, full: bool) -> None:
        """Show an event with its data and the sessions it started; for a vendor delivery,
        also the raw delivery (headers, credentials masked; body) and how it was verified."""
        show_event(app, app.client.get(f"/events/{event_id}", full="1" if full else None))

    @event.command("dispatch")
    @click.option("--trigger", required=True, help="Trigger name (the event is dispatched as if it fired).")
    @click.option("--project", "-p", default="", help="Project of the trigger (needed if the name is ambiguous).")
    @click.option("--type", "event_type", default="", help="Event type, e.g. post or tick.")
    @click.option("--data", "pairs", multiple=True, help="key=value (JSON values allowed); repeatable.")
    @click.option("--file", type=click.Path(path_type=Path, exists=True), default=None, help="JSON object file.")
    @click.option("--as-request", is_flag=True, help="Send the data as the JSON body of a POST to the webhook trigger.")
    @click.option(
        "--saved",
        default="",
        metavar="NAME",
        help="Start from the trigger's saved payload NAME (--file and --data keys override).",
    )
    @click.option(
        "--session",
        "session_id",
        default="",
        metavar="SID",
        help="Deliver only to this session's next_event waiters on the trigger; start no session.",
    )
    @common
    def dispatch_cmd(app: App, trigger: str, project: str, event_type: str, pairs: tuple[str, ...],
                     file: Path | None, as_request: bool, saved: str, session_id: str) -> None:  # fmt: skip
        """Store an event for a trigger and dispatch it; the data is its event.data.

        A webhook's function reads the request instead (event.data.body.json,
        event.data.method, ...): --as-request sends the data as the JSON body of a POST
        to the webhook trigger's URL (event type post unless --type says otherwise).

        \b
        Example:
          akctl event dispatch --trigger on_webhook -p hello --as-request --data name=Ada
          akctl event dispatch --trigger on_webhook -p hello --as-request --saved ada --data n=4
          akctl event dispatch --trigger replies -p hello --session ses_... --data ok=true
        """
        data = manual.saved_data(app, project, trigger, saved) if saved else {}
        data.update(parse_data(pairs, file))
        if as_request:
            trg: dict[str, Any] = app.client.get(f"/triggers/{trigger}", project=project)
            data = manual.as_request(data, trg)
            event_type = event_type or "post"
        body = {"trigger": trigger, "project": project, "event_type": event_type, "data": data}
        if session_id:
            body["session_id"] = session_id
        show_event(app, app.client.post("/events", body))

    @event.command("redispatch")
    @click.argument("event_id")
    @common
    def redispatch_cmd(app: App, event_id: str) -> None:
        """Dispatch a copy of an earlier event (a new event id) to the current deployment."""
        show_event(app, app.client.post(f"/events/{event_id}/redispatch"))


def register_triggers(cli: click.Group) -> None:
    @cli.group("trigger")
    def trigger() -> None:
        """Inspect triggers: webhooks (with URLs), schedules (with next fire times)."""

    @trigger.command("list")
    @click.option("--project", "-p", default="", help="Only this project's triggers.")
    @common
    def list_cmd(app: App, project: str) -> None:
        """List triggers.

        \b
        Example:
          akctl trigger list --project hello
        """
        rows: list[dict[str, Any]] = app.client.get("/triggers", project=project)
        if app.as_json:
            render.print_json(rows)
            return
        t = render.table("PROJECT", "NAME", "TYPE", "CALL", "DETAILS")
        for r in rows:
            if r["type"] == "schedule":
                nxt = ", ".join(render.local_time(x) for x in r.get("next_fire_times") or [])
                details = f"{r['schedule']}" + (f" ({r['timezone']})" if r["timezone"] else "") + f"\nnext: {nxt}"
            else:
                details = r["webhook_url"] or r["connection"] or ""
            t.add_row(escape(r["project"]), escape(r["name"]), r["type"], escape(r["call"] or "-"), escape(details))
        render.out.print(t if rows else "no triggers")

    @trigger.command("get")
    @click.argument("trigger")
    @click.option("--project", "-p", default="", help="Project of the trigger (for names).")
    @common
    def get_cmd(app: App, trigger: str, project: str) -> None:
        """Show one trigger (by id or name)."""
        r: dict[str, Any] = app.client.get(f"/triggers/{trigger}", project=project)
        if app.as_json:
            render.print_json(r)
            return
        for key, value in r.items():
            if value not in (None, "", []):
                shown = value if isinstance(value, str) else json.dumps(value)
                render.out.print(f"[bold]{key:>15}[/]  {escape(shown)}")


def register_store(cli: click.Group) -> None:
    @cli.group("store")
    def store() -> None:
        """Read and write a project's key-value store."""

    @store.command("get")
    @click.argument("key")
    @click.option("--project", "-p", required=True)
    @common
    def get_cmd(app: App, key: str, project: str) -> None:
        """Print the value stored under KEY.

        \b
        Example:
          akctl store get counter --project hello
        """
        r: dict[str, Any] = app.client.get(f"/store/{key}", project=project)
        app.show(r, lambda: escape(json.dumps(r["value"])))

    @store.command("set")
    @click.argument("key")
    @click.argument("value")
    @click.option("--project", "-p", required=True)
    @common
    def set_cmd(app: App, key: str, value: str, project: str) -> None:
        """Store VALUE (JSON, or a plain string) under KEY; the value null deletes KEY.

        \b
        Example:
          akctl store set counter 0 --project hello
        """
        try:
            parsed: Any = json.loads(value)
        except ValueError:
            parsed = value
        r = app.client.request("PUT", f"/store/{key}", json={"project": project, "value": parsed})
        app.show(r, lambda: f"[green]✓[/] {escape(key)} = {escape(json.dumps(parsed))}")

    @store.command("list")
    @click.option("--project", "-p", required=True)
    @common
    def list_cmd(app: App, project: str) -> None:
        """List the keys and values of a project's store."""
        rows: list[dict[str, Any]] = app.client.get("/store", project=project)
        if app.as_json:
            render.print_json(rows)
            return
        t = render.table("KEY", "VALUE", "UPDATED")
        for r in rows:
            t.add_row(escape(r["key"]), escape(json.dumps(r["value"])[:80]), render.relative(r["updated_at"]))
        render.out.print(t if rows else "no values")


def register(cli: click.Group) -> None:
    register_events(cli)
    register_triggers(cli)
    register_store(cli)


def _syntax(*args: Any, **kwargs: Any) -> Any:
    """rich's Syntax, imported only when a command shows highlighted code."""
    from rich.syntax import Syntax

    return Syntax(*args, **kwargs)

"""``akctl trigger payload ...``: a trigger's saved test payloads, and its recent real ones."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from akctl import manual, render
from akctl.app import App, common
from akctl.commands.events import parse_data
from akctl.errors import CliError
from akctl.render import escape


@click.group("payload")
def payload() -> None:
    """Saved test payloads of a trigger (dispatch one with: akctl event dispatch --saved NAME)."""


@payload.command("list")
@click.option("--trigger", required=True, help="Trigger name.")
@click.option("--project", "-p", default="", help="Project of the trigger (needed if the name is ambiguous).")
@click.option("--recent", is_flag=True, help="Also the data of the trigger's last 10 events.")
@common
def list_cmd(app: App, trigger: str, project: str, recent: bool) -> None:
    """List the saved payloads of a trigger (and, with --recent, its recent real ones).

    \b
    Example:
      akctl trigger payload list --trigger on_webhook -p hello --recent
    """
    path = manual.payloads_path(manual.trigger_project(app, trigger, project), trigger)
    rows: list[dict[str, Any]] = app.client.get(path, recent=10 if recent else None)
    if app.as_json:
        render.print_json(rows)
        return
    t = render.table("KIND", "NAME", "DATA", "UPDATED")
    for r in rows:
        t.add_row(r["kind"], escape(r["name"]), escape(json.dumps(r["data"])[:80]), render.relative(r["updated_at"]))
    render.out.print(t if rows else f"no saved payloads for {escape(trigger)}")


@payload.command("save")
@click.argument("name")
@click.option("--trigger", required=True, help="Trigger name.")
@click.option("--project", "-p", default="", help="Project of the trigger (needed if the name is ambiguous).")
@click.option("--data", "pairs", multiple=True, help="key=value (JSON values allowed); repeatable.")
@click.option("--file", type=click.Path(path_type=Path, exists=True), default=None, help="JSON object file.")
@common
def save_cmd(app: App, name: str, trigger: str, project: str, pairs: tuple[str, ...], file: Path | None) -> None:
    """Save (or replace) the payload NAME of a trigger: --file, then --data pairs.

    \b
    Example:
      akctl trigger payload save ada --trigger on_webhook -p hello --data name=Ada --data n=3
    """
    if not pairs and file is None:
        raise CliError("give the payload's data with --data key=value or --file data.json", 40)
    path = manual.payloads_path(manual.trigger_project(app, trigger, project), trigger, name)
    r = app.client.request("PUT", path, json={"data": parse_data(pairs, file)})
    app.show(r, lambda: f"[green]✓[/] saved {escape(name)} for {escape(r['project'])}/{escape(trigger)}")


@payload.command("delete")
@click.argument("name")
@click.option("--trigger", required=True, help="Trigger name.")
@click.option("--project", "-p", default="", help="Project of the trigger (needed if the name is ambiguous).")
@common
def delete_cmd(app: App, name: str, trigger: str, project: str) -> None:
    """Delete the saved payload NAME of a trigger."""
    r = app.client.delete(manual.payloads_path(manual.trigger_project(app, trigger, project), trigger, name))
    app.show(r, lambda: f"[green]✓[/] deleted {escape(name)}")


def register(cli: click.Group) -> None:
    trigger = cli.commands.get("trigger")
    if not isinstance(trigger, click.Group):
        raise RuntimeError("akctl.commands.events must be registered before akctl.commands.payloads")
    trigger.add_command(payload)

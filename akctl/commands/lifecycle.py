"""``akctl project|build|deployment|var ...``: what deploy made, and the project's vars."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from akctl import render
from akctl.app import App, common
from akctl.commands.connections import connection_path
from akctl.confirm import confirm_loss, plural
from akctl.errors import CliError
from akctl.render import escape

F = TypeVar("F", bound=Callable[..., Any])
SESSION_STATES = ("queued", "created", "running", "completed", "error", "stopped")


def project_option(f: F) -> F:
    return click.option("--project", "-p", required=True, help="Project name (or id).")(f)


def show_fields(fields: list[tuple[str, str]]) -> None:
    for key, value in fields:
        render.out.print(f"[bold]{key:>12}[/]  {value}")


def session_counts(d: dict[str, Any]) -> str:
    counts = d["sessions"]
    shown = [f"{render.state(s)} {counts[s]}" for s in SESSION_STATES if counts.get(s)]
    return "  ".join(shown) or "[dim]none[/]"


# -- projects --------------------------------------------------------------------------


def list_projects(app: App) -> None:
    rows: list[dict[str, Any]] = app.client.get("/projects")
    if app.as_json:
        render.print_json(rows)
        return
    if not rows:
        render.out.print("no projects; deploy one with: akctl deploy --dir DIR")
        return
    t = render.table("PROJECT", "NAME", "ACTIVE DEPLOYMENT", "ROOT DIR", "UPDATED")
    for r in rows:
        active = r["active_deployment_id"] or "[dim]-[/]"
        t.add_row(r["project_id"], escape(r["name"]), active, escape(r["root_dir"]), render.relative(r["updated_at"]))
    render.out.print(t)


def get_project(app: App, name: str) -> None:
    p: dict[str, Any] = app.client.get(f"/projects/{name}")
    if app.as_json:
        render.print_json(p)
        return
    show_fields([
        ("project", p["project_id"]),
        ("name", escape(p["name"])),
        ("display name", escape(p["display_name"] or "-")),
        ("root dir", escape(p["root_dir"] or "-")),
        ("active", p["active_deployment_id"] or "-"),
        ("updated", f"{render.local_time(p['updated_at'])} ({render.relative(p['updated_at'])})"),
    ])  # fmt: skip
    triggers = p.get("triggers") or []
    if triggers:
        t = render.table("TRIGGER", "TYPE", "CALL", "DETAILS")
        for trg in triggers:
            t.add_row(escape(trg["name"]), trg["type"], escape(trg["call"] or "-"), escape(trigger_details(trg)))
        render.out.print(t)


def trigger_details(trg: dict[str, Any]) -> str:
    """What makes a trigger fire, labelled: its URL, schedule or connection."""
    if trg["type"] == "schedule":
        zone = f" ({trg['timezone']})" if trg.get("timezone") else ""
        return f"schedule: {trg['schedule']}{zone}"
    if trg["type"] == "connection":
        return f"connection: {trg['connection']}"
    return str(trg.get("webhook_url") or "-")


# -- builds and deployments ------------------------------------------------------------


def list_builds(app: App, project: str) -> None:
    rows: list[dict[str, Any]] = app.client.get("/builds", project=project)
    if app.as_json:
        render.print_json(rows)
        return
    if not rows:
        render.out.print("no builds")
        return
    t = render.table("BUILD", "PROJECT", "DIGEST", "SIZE", "REQUIREMENTS", "CREATED")
    for r in rows:
        req = (r["requirements"] or "")[:12] or "-"
        t.add_row(r["build_id"], escape(r["project"]), r["digest"][:12], f"{r['size']:,} B", req,
                  render.relative(r["created_at"]))  # fmt: skip
    render.out.print(t)


def get_build(app: App, build_id: str) -> None:
    b: dict[str, Any] = app.client.get(f"/builds/{build_id}")
    if app.as_json:
        render.print_json(b)
        return
    show_fields([
        ("build", b["build_id"]),
        ("project", escape(b["project"])),
        ("digest", b["digest"]),
        ("size", f"{b['size']:,} bytes"),
        ("requirements", b["requirements"] or "-"),
        ("deployments", ", ".join(b["deployment_ids"]) or "-"),
        ("created", f"{render.local_time(b['created_at'])} ({render.relative(b['created_at'])})"),
        ("files", escape(", ".join(b["files"]))),
    ])  # fmt: skip
    render.out.print(_syntax(b["manifest"].rstrip(), "yaml", theme="ansi_dark", background_color="default"))


def list_deployments(app: App, project: str, state: str) -> None:
    rows: list[dict[str, Any]] = app.client.get("/deployments", project=project, state=state)
    if app.as_json:
        render.print_json(rows)
        return
    if not rows:
        render.out.print("no deployments")
        return
    t = render.table("DEPLOYMENT", "PROJECT", "STATE", "BUILD", "SESSIONS BY STATE", "CREATED")
    for r in rows:
        t.add_row(r["deployment_id"], escape(r["project"]), render.state(r["state"]), r["build_id"],
                  session_counts(r), render.relative(r["created_at"]))  # fmt: skip
    render.out.print(t)


def show_deployment(app: App, d: dict[str, Any]) -> None:
    if app.as_json:
        render.print_json(d)
        return
    show_fields([
        ("deployment", d["deployment_id"]),
        ("project", escape(d["project"])),
        ("state", render.state(d["state"])),
        ("build", d["build_id"]),
        ("sessions", session_counts(d)),
        ("created", f"{render.local_time(d['created_at'])} ({render.relative(d['created_at'])})"),
        ("updated", f"{render.local_time(d['updated_at'])} ({render.relative(d['updated_at'])})"),
    ])  # fmt: skip


# -- vars ------------------------------------------------------------------------------


def var_path(project: str, name: str = "", connection: str = "") -> str:
    """A project's vars, or (``connection`` = PROJECT/CONN) a connection's."""
    if bool(project) == bool(connection):
        raise CliError("give either --project P or --connection PROJECT/CONN", exit_code=40)
    if connection:
        return connection_path(connection, "vars" + (f"/{name}" if name else ""))
    return f"/projects/{project}/vars" + (f"/{name}" if name else "")


def var_owner_option(f: Any) -> Any:
    f = click.option("--connection", "-c", default="", metavar="PROJECT/CONN", help="A connection's vars instead.")(f)
    return click.option("--project", "-p", default="", help="Project name (or id).")(f)


def show_vars(app: App, rows: list[dict[str, Any]]) -> None:
    if app.as_json:
        render.print_json(rows)
        return
    if not rows:
        render.out.print("no vars")
        return
    t = render.table("NAME", "VALUE", "SECRET", "ORIGIN", "DESCRIPTION")
    for v in rows:
        t.add_row(escape(v["name"]), escape(v["value"]), "yes" if v["secret"] else "",
                  v["origin"], escape(v.get("description", "")))  # fmt: skip
    render.out.print(t)


@click.group("project")
def project_group() -> None:
    """List, inspect and delete projects."""


@project_group.command("list")
@common
def project_list_cmd(app: App) -> None:
    """List projects and their active deployments.

    \b
    Example:
      akctl project list --json
    """
    list_projects(app)


@project_group.command("get")
@click.argument("name")
@common
def project_get_cmd(app: App, name: str) -> None:
    """Show a project (by name or id) and its triggers.

    \b
    Example:
      akctl project get hello
    """
    get_project(app, name)


@project_group.command("delete")
@click.argument("name")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@common
def project_delete_cmd(app: App, name: str, yes: bool) -> None:
    """Delete a project and ALL its history (exit 42 while a session is running).

    Deletes its deployments, builds, triggers (webhook URLs answer 404 from then
    on), vars, sessions with their prints and logs, events and key-value store.
    Build snapshots and requirement environments on disk are shared by content
    and kept.

    \b
    Example:
      akctl project delete hello --yes
    """
    if not yes:
        n = app.client.get(f"/projects/{name}")["counts"]
        lost = ", ".join(plural(n[k], noun) for k, noun in (("sessions", "session"), ("events", "event"),
                                                            ("store_keys", "store key")))  # fmt: skip
        confirm_loss(app, yes, f"delete project {name}", f"all its history: {lost}")
    data = app.client.delete(f"/projects/{name}")
    app.show(data, lambda: f"[green]✓[/] deleted project [bold]{escape(data['name'])}[/] ({data['project_id']})")


@click.group("build")
def build_group() -> None:
    """Inspect builds (immutable snapshots of a project's files)."""


@build_group.command("list")
@click.option("--project", "-p", default="", help="Only this project's builds.")
@common
def build_list_cmd(app: App, project: str) -> None:
    """List builds, newest first.

    \b
    Example:
      akctl build list --project hello
    """
    list_builds(app, project)


@build_group.command("get")
@click.argument("build_id")
@common
def build_get_cmd(app: App, build_id: str) -> None:
    """Show a build: digest, files, requirements and its manifest (secrets masked).

    \b
    Example:
      akctl build get bld_01jd3k...
    """
    get_build(app, build_id)


@click.group("deployment")
def deployment_group() -> None:
    """List, switch and delete deployments (builds made live)."""


@deployment_group.command("list")
@click.option("--project", "-p", default="", help="Only this project's deployments.")
@click.option("--state", type=click.Choice(["active", "draining", "inactive", "testing"]), default=None)
@common
def deployment_list_cmd(app: App, project: str, state: str | None) -> None:
    """List deployments, newest first, with their session counts per state.

    \b
    Example:
      akctl deployment list --project hello
    """
    list_deployments(app, project, state or "")


@deployment_group.command("get")
@click.argument("deployment_id")
@common
def deployment_get_cmd(app: App, deployment_id: str) -> None:
    """Show a deployment; DEPLOYMENT_ID may be a project name (its active one).

    \b
    Example:
      akctl deployment get hello
    """
    show_deployment(app, app.client.get(f"/deployments/{deployment_id}"))


@deployment_group.command("activate")
@click.argument("deployment_id")
@common
def deployment_activate_cmd(app: App, deployment_id: str) -> None:
    """Make a deployment active (e.g. roll back); the active one drains.

    Its build's triggers go live again; webhook URLs of kept triggers do not change.

    \b
    Example:
      akctl deployment activate dep_01jd3k...
    """
    show_deployment(app, app.client.post(f"/deployments/{deployment_id}/activate"))


@deployment_group.command("deactivate")
@click.argument("deployment_id")
@common
def deployment_deactivate_cmd(app: App, deployment_id: str) -> None:
    """Stop a deployment taking new sessions (draining until its sessions end).

    \b
    Example:
      akctl deployment deactivate dep_01jd3k...
    """
    show_deployment(app, app.client.post(f"/deployments/{deployment_id}/deactivate"))


@deployment_group.command("delete")
@click.argument("deployment_id")
@click.option("--yes", "-y", is_flag=True, help="Do not ask (required when not at a terminal).")
@common
def deployment_delete_cmd(app: App, deployment_id: str, yes: bool) -> None:
    """Delete an inactive deployment (exit 42 if it is active or draining).

    Its sessions stay in history.

    \b
    Example:
      akctl deployment delete dep_01jd3k... --yes
    """
    confirm_loss(app, yes, f"delete deployment {deployment_id}", "the deployment record (its sessions stay in history)")
    data = app.client.delete(f"/deployments/{deployment_id}")
    app.show(data, lambda: f"[green]✓[/] deleted deployment [bold]{data['deployment_id']}[/]")


@click.group("var")
def var_group() -> None:
    """Project variables, delivered to sessions as environment variables."""


@var_group.command("set")
@click.argument("name")
@click.argument("value")
@var_owner_option
@click.option("--secret", is_flag=True, help="Encrypt at rest and mask in output.")
@click.option("--description", default=None, help="What the var is for.")
@common
def var_set_cmd(
    app: App, name: str, value: str, project: str, connection: str, secret: bool, description: str | None
) -> None:
    """Set a var; VALUE "-" reads it from stdin (keeps secrets out of shell history).

    Vars set here win over the manifest: later deploys leave them alone. A secret
    var stays secret; delete it to make it plain.

    \b
    Example:
      akctl var set API_TOKEN - --secret --project hello < token.txt
      akctl var set pat - --connection hello/github_conn < pat.txt
    """
    if value == "-":
        value = sys.stdin.read().rstrip("\r\n")
    body: dict[str, Any] = {"value": value, "secret": secret}
    if not connection:
        body["description"] = description
    data = app.client.request("PUT", var_path(project, name, connection), json=body)
    if app.as_json:
        render.print_json(data)
    else:
        kind = "secret " if data["secret"] else ""
        render.out.print(f"[green]✓[/] set {kind}var [bold]{escape(name)}[/] of {escape(project or connection)}")


@var_group.command("get")
@click.argument("name")
@var_owner_option
@click.option("--reveal", is_flag=True, help="Show a secret's value.")
@common
def var_get_cmd(app: App, name: str, project: str, connection: str, reveal: bool) -> None:
    """Show a var; a secret's value reads ******** unless --reveal.

    \b
    Example:
      akctl var get GREETING --project hello
    """
    data: dict[str, Any] = app.client.get(var_path(project, name, connection), reveal="true" if reveal else None)
    app.show(data, lambda: escape(data["value"]))


@var_group.command("list")
@var_owner_option
@click.option("--reveal", is_flag=True, help="Show secret values.")
@common
def var_list_cmd(app: App, project: str, connection: str, reveal: bool) -> None:
    """List a project's vars; secret values read ******** unless --reveal.

    \b
    Example:
      akctl var list --project hello
    """
    show_vars(app, app.client.get(var_path(project, "", connection), reveal="true" if reveal else None))


@var_group.command("delete")
@click.argument("name")
@var_owner_option
@click.option("--yes", "-y", is_flag=True, help="Do not ask (required when not at a terminal).")
@common
def var_delete_cmd(app: App, name: str, project: str, connection: str, yes: bool) -> None:
    """Delete a var (a manifest var comes back with the next deploy).

    \b
    Example:
      akctl var delete GREETING --project hello --yes
    """
    owner = project or connection
    confirm_loss(app, yes, f"delete var {name} of {owner}", "its value (a manifest var returns on deploy)")
    data = app.client.delete(var_path(project, name, connection))
    app.show(data, lambda: f"[green]✓[/] deleted var [bold]{escape(name)}[/] of {escape(project or connection)}")


def register(cli: click.Group) -> None:
    for group in (project_group, build_group, deployment_group, var_group):
        cli.add_command(group)


def _syntax(*args: Any, **kwargs: Any) -> Any:
    """rich's Syntax, imported only when a command shows highlighted code."""
    from rich.syntax import Syntax

    return Syntax(*args, **kwargs)

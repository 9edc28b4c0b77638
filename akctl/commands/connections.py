"""``akctl connection ...`` and ``akctl integration ...``: how sessions reach vendors."""

from __future__ import annotations

import contextlib
import getpass
import json
import sys
import time
import webbrowser
from pathlib import Path
from typing import Any

import click

from akctl import render
from akctl.app import App, common
from akctl.confirm import confirm_loss
from akctl.errors import CliError
from akctl.render import escape

# How long `connection init --oauth` waits for the browser (akd's authorizations last 10 min).
OAUTH_WAIT = 660.0
_STATUS_STYLE = {"ok": "green", "warning": "yellow", "init_required": "yellow", "error": "red"}


def connection_path(ref: str, tail: str = "") -> str:
    """``PROJECT/CONN`` as an API path."""
    project, sep, name = ref.partition("/")
    if not sep or not project or not name or "/" in name:
        raise CliError(f"expected PROJECT/CONNECTION (e.g. myproj/slack_conn), got {ref!r}", exit_code=40)
    return f"/connections/{project}/{name}" + (f"/{tail}" if tail else "")


def status_text(c: dict[str, Any]) -> str:
    style = _STATUS_STYLE.get(c["status"], "white")
    return f"[{style}]{escape(c['status'])}[/]"


@click.group("connection")
def connection_group() -> None:
    """A project's connections: credentials for Slack, GitHub, OpenAI, ..."""


@connection_group.command("list")
@click.option("--project", "-p", default="", help="Only this project's connections.")
@common
def connection_list_cmd(app: App, project: str) -> None:
    """List connections with their status.

    \b
    Example:
      akctl connection list --project hello
    """
    rows: list[dict[str, Any]] = app.client.get("/connections", project=project or None)
    if app.as_json:
        render.print_json(rows)
        return
    if not rows:
        render.out.print("no connections")
        return
    t = render.table("CONNECTION", "INTEGRATION", "STATUS", "MESSAGE")
    for c in rows:
        t.add_row(f"{escape(c['project'])}/{escape(c['name'])}", escape(c["integration"]), status_text(c),
                  escape(c["status_message"]))  # fmt: skip
    render.out.print(t)


@connection_group.command("get")
@click.argument("ref", metavar="PROJECT/CONN")
@common
def connection_get_cmd(app: App, ref: str) -> None:
    """Show a connection: integration, status, vars (secrets masked).

    \b
    Example:
      akctl connection get hello/slack_conn
    """
    data: dict[str, Any] = app.client.get(connection_path(ref))
    if app.as_json:
        render.print_json(data)
        return
    for key, value in (
        ("connection", f"{data['project']}/{data['name']}"),
        ("id", data["connection_id"]),
        ("integration", data["integration"]),
        ("status", status_text(data) + (f"  {escape(data['status_message'])}" if data["status_message"] else "")),
    ):
        render.out.print(f"[bold]{key:>11}[/]  {value}")
    for label, url in webhook_urls(data):
        render.out.print(f"[bold]{label:>11}[/]  {escape(url)}", soft_wrap=True)
    if data.get("socket_mode"):
        sock = data["socket_mode"]
        style = "green" if sock.get("state") == "connected" else "yellow"
        message = f"  {escape(sock['message'])}" if sock.get("message") else ""
        render.out.print(f"[bold]{'socket mode':>11}[/]  [{style}]{escape(sock.get('state', '?'))}[/]{message}")
    for var in data.get("vars", []):
        render.out.print(f"[bold]{'var':>11}[/]  {escape(var['name'])} = {escape(var['value'])}")


def webhook_urls(data: dict[str, Any]) -> list[tuple[str, str]]:
    """The connection's inbound URLs: one, or for Slack the events, commands and
    interactions URLs (the same key; only the events one is in ``--json``)."""
    url = data.get("webhook_url") or ""
    if not url:
        return []
    if data["integration"] == "slack" and "/slack/event/" in url:
        return [("events url", url), ("commands", url.replace("/slack/event/", "/slack/command/", 1)),
                ("interactions", url.replace("/slack/event/", "/slack/interaction/", 1))]  # fmt: skip
    return [("webhook url", url)]


@connection_group.command("test")
@click.argument("ref", metavar="PROJECT/CONN")
@common
def connection_test_cmd(app: App, ref: str) -> None:
    """Ask the vendor whether the connection's credentials work; exits non-zero if not.

    \b
    Example:
      akctl connection test hello/slack_conn
    """
    with _waiting(app, f"testing {ref}"):
        data: dict[str, Any] = app.client.post(connection_path(ref, "test"), {})
    app.show(data, lambda: f"{'[green]✓[/]' if data['ok'] else '[red]✗[/]'} {escape(ref)}: {escape(data['message'])}")
    if not data["ok"]:
        raise SystemExit(1)


@connection_group.command("delete")
@click.argument("ref", metavar="PROJECT/CONN")
@click.option("--yes", "-y", is_flag=True, help="Do not ask (required when not at a terminal).")
@common
def connection_delete_cmd(app: App, ref: str, yes: bool) -> None:
    """Delete a connection and its vars (it comes back, uninitialized, with the next
    deploy if the manifest still declares it).

    \b
    Example:
      akctl connection delete hello/slack_conn --yes
    """
    confirm_loss(app, yes, f"delete connection {ref}", "its credentials (vars) and status")
    data = app.client.delete(connection_path(ref))
    app.show(data, lambda: f"[green]✓[/] deleted connection [bold]{escape(ref)}[/]")


@connection_group.command("init")
@click.argument("ref", metavar="PROJECT/CONN")
@click.option("--auth-type", default="", help="Which way to authenticate (see `akctl integration list`).")
@click.option(
    "--var",
    "pairs",
    multiple=True,
    metavar="NAME=VALUE",
    help="A credential given on the command line instead of prompted (VALUE @FILE reads a file).",
)
@click.option("--no-test", is_flag=True, help="Store the credentials without asking the vendor.")
@click.option("--oauth", "use_oauth", is_flag=True, help="Authorize in a browser with OAuth 2.0 (your OAuth app: "
              "`akctl integration configure`).")  # fmt: skip
@click.option("--no-browser", is_flag=True, help="OAuth: only print the URL to open (also when not at a terminal).")
@common
def connection_init_cmd(app: App, ref: str, auth_type: str, pairs: tuple[str, ...], no_test: bool,
                        use_oauth: bool, no_browser: bool) -> None:  # fmt: skip
    """Give a connection its credentials: pick the auth type, enter tokens (not echoed),
    test them with the vendor, store them (secrets encrypted). OAuth auth types print
    an authorization URL (on stderr), open it in a browser and wait for the vendor to
    send the browser back to akd.

    \b
    Examples:
      akctl connection init hello/slack_conn                      # asks for everything
      akctl connection init hello/gh --auth-type pat --var pat=@token.txt
      akctl connection init hello/sheets --oauth                  # after `akctl integration configure`
    """
    conn: dict[str, Any] = app.client.get(connection_path(ref))
    integration: dict[str, Any] = app.client.get(f"/integrations/{conn['integration']}")
    mode = _oauth_mode(integration) if use_oauth and not auth_type else _pick_mode(integration, auth_type)
    if mode["oauth"]:
        _oauth_init(app, ref, open_browser=not no_browser and sys.stdin.isatty())
        return
    given = dict(_pair(p) for p in pairs)
    values = {v["name"]: given.pop(v["name"]) if v["name"] in given else _ask(v) for v in mode["vars"]}
    values = {k: v for k, v in values.items() if v}
    values.update(given)
    body = {"auth_type": mode["auth_type"], "vars": values, "test": not no_test}
    with _waiting(app, f"storing and testing {ref}"):
        data: dict[str, Any] = app.client.post(connection_path(ref, "init"), body)
    app.show(data, lambda: f"{'[green]✓[/]' if data['ok'] else '[red]✗[/]'} {escape(ref)}: "
                           f"{status_text(data)} {escape(data['message'])}")  # fmt: skip
    if not data["ok"]:
        raise SystemExit(1)


def _oauth_mode(integration: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] | None = next((m for m in integration["auth_modes"] if m["oauth"]), None)
    if found is None:
        raise CliError(f"{integration['name']} has no OAuth auth type; see `akctl integration list`", exit_code=40)
    return found


def _oauth_init(app: App, ref: str, *, open_browser: bool) -> None:
    """Start an authorization, show its URL, wait for the browser to come back to akd."""
    started: dict[str, Any] = app.client.post(connection_path(ref, "oauth/start"), {})
    url = started["authorize_url"]
    render.err.print(f"Open this URL to authorize {escape(ref)}:", highlight=False)
    print(url, file=sys.stderr, flush=True)  # one plain line: easy to copy, or to read from a script
    if open_browser:
        with contextlib.suppress(Exception):
            webbrowser.open(url)
    with _waiting(app, f"waiting for the authorization of {ref} (in the browser)"):
        data = _wait_outcome(app, ref, started["state"])
    ok = data["outcome"] == "ok"
    app.show(data, lambda: f"{'[green]✓[/]' if ok else '[red]✗[/]'} {escape(ref)}: "
                           + (f"{status_text(data['connection'])} " if ok and "connection" in data else "")
                           + escape(data["message"]))  # fmt: skip
    if not ok:
        raise SystemExit(1)


def _wait_outcome(app: App, ref: str, state: str) -> dict[str, Any]:
    """Poll the authorization until it is done or past its deadline (plus a margin)."""
    deadline = time.monotonic() + OAUTH_WAIT
    path = connection_path(ref, f"oauth/{state}")
    while True:
        data: dict[str, Any] = app.client.get(path)
        if data["outcome"] != "pending" or time.monotonic() > deadline:
            return data
        time.sleep(0.25)


def _waiting(app: App, message: str) -> Any:
    """A spinner on stderr while the vendor is asked (none with --json)."""
    return contextlib.nullcontext() if app.as_json else render.err.status(message)


def _pick_mode(integration: dict[str, Any], auth_type: str) -> dict[str, Any]:
    modes: list[dict[str, Any]] = integration["auth_modes"]
    if auth_type:
        for mode in modes:
            if mode["auth_type"] == auth_type:
                return mode
        known = ", ".join(m["auth_type"] for m in modes)
        raise CliError(f"{integration['name']} has no auth type {auth_type!r} (known: {known})", exit_code=40)
    usable = [m for m in modes if not m["oauth"]] or modes
    if len(usable) == 1 or not sys.stdin.isatty():
        return usable[0]
    for i, mode in enumerate(usable, 1):
        render.err.print(f"  {i}. {escape(mode['label'])} [dim]({mode['auth_type']})[/]")
    choice = click.prompt("auth type", type=click.IntRange(1, len(usable)), default=1, err=True)
    return usable[choice - 1]


def _pair(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise CliError(f"--var takes NAME=VALUE, got {text!r}", exit_code=40)
    if value.startswith("@"):
        value = Path(value[1:]).expanduser().read_text()
    return name, value


def _ask(var: dict[str, Any]) -> str:
    label = var["prompt"] + (" (optional)" if var["optional"] else "")
    if not sys.stdin.isatty():
        line = sys.stdin.readline()
        return line.rstrip("\r\n")
    if var["file"]:
        path = click.prompt(f"{label}: path", default="" if var["optional"] else None, err=True)
        return Path(path).expanduser().read_text() if path else ""
    if var["secret"]:
        return getpass.getpass(f"{label}: ")
    return str(click.prompt(label, default="" if var["optional"] else None, err=True, show_default=False))


@connection_group.command("replay")
@click.argument("event_id")
@common
def connection_replay_cmd(app: App, event_id: str) -> None:
    """Dispatch a stored vendor delivery again: a new event (linked to the original) with
    the same type and data, to the connection's triggers now. Only deliveries can be
    replayed (`akctl event redispatch` copies trigger events).

    \b
    Example:
      akctl connection replay evt_01jf3k8v0c2e6t9q4w7x5y3z1a
    """
    data: dict[str, Any] = app.client.post(f"/events/{event_id}/replay", {})
    app.show(data, lambda: f"[green]✓[/] replayed {escape(event_id)} as event {data['event_id']}"
                           + _sessions_line(data["session_ids"]))  # fmt: skip


@connection_group.command("simulate")
@click.argument("ref", metavar="PROJECT/CONN")
@click.argument("event_type")
@click.option("--data", "data_file", type=click.Path(path_type=Path, exists=True, dir_okay=False), default=None,
              help="A JSON object merged (deeply) into the fixture's event data.")  # fmt: skip
@click.option("--secret", default="", help="Sign with this secret instead of the connection's (see a refusal).")
@click.option("--watch", "watch_", is_flag=True, help="Follow the first session's prints until it ends.")
@common
def connection_simulate_cmd(app: App, ref: str, event_type: str, data_file: Path | None, secret: str,
                            watch_: bool) -> int:  # fmt: skip
    """Send a vendor-shaped test delivery, signed with the connection's own secret as the
    vendor signs it, through akd's real verification path; print the event and sessions.
    Fixtures: GitHub push, issues, issue_comment, pull_request; Slack message,
    app_mention, slash_command, interaction.

    \b
    Examples:
      akctl connection simulate hello/github_conn issue_comment
      akctl connection simulate hello/slack_conn app_mention --data mention.json --watch
    """
    body = {"event_type": event_type, "data": _data_of(data_file), "secret": secret}
    with _waiting(app, f"delivering a simulated {event_type} to {ref}"):
        data: dict[str, Any] = app.client.post(connection_path(ref, "simulate"), body)
    if app.as_json and not watch_:
        render.print_json(data)
        return 0
    if not app.as_json:
        seen = " [yellow](a duplicate: nothing new started)[/]" if data["duplicate"] else ""
        render.out.print(f"[green]✓[/] {escape(event_type)} delivered to {escape(ref)} as event {data['event_id']}"
                         f"{seen}" + _sessions_line(data["session_ids"]))  # fmt: skip
    if watch_ and data["session_ids"]:
        from akctl.commands.sessions import watch

        return watch(app, data["session_ids"][0], (), None)
    return 0


def _sessions_line(ids: list[str]) -> str:
    return "".join(f"\n  session {s}" for s in ids) if ids else "\n  [dim]no session started[/]"


def _data_of(path: Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    try:
        loaded = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise CliError(f"cannot read --data {path}: {exc}", exit_code=40) from None
    if not isinstance(loaded, dict):
        raise CliError(f"--data {path} must hold a JSON object (merged into the fixture's event data)", exit_code=40)
    return loaded


@click.group("integration")
def integration_group() -> None:
    """The integrations akd knows (the `integration:` of a manifest connection)."""


@integration_group.command("list")
@common
def integration_list_cmd(app: App) -> None:
    """List integrations with their auth types and the vars each needs.

    \b
    Example:
      akctl integration list
    """
    rows: list[dict[str, Any]] = app.client.get("/integrations")
    if app.as_json:
        render.print_json(rows)
        return
    t = render.table("INTEGRATION", "NAME", "AUTH TYPES (VARS)", "TEST")
    for i in rows:
        modes = "; ".join(f"{m['auth_type']} ({', '.join(v['name'] for v in m['vars'])})" for m in i["auth_modes"])
        t.add_row(escape(i["name"]), escape(i["display_name"]), escape(modes), "yes" if i["has_test"] else "")
    render.out.print(t)


@integration_group.command("configure")
@click.argument("name")
@click.option("--client-id", required=True, help="Your OAuth app's client id.")
@click.option("--client-secret", default="", help="Its client secret (asked, not echoed, when left out; - reads "
              "one line from stdin).")  # fmt: skip
@click.option("--scopes", default="", help="Space-separated scopes to ask for (default: the integration's).")
@common
def integration_configure_cmd(app: App, name: str, client_id: str, client_secret: str, scopes: str) -> None:
    """Use your own OAuth app for an integration (the client secret is stored encrypted).
    Register akd's callback (printed here) as the app's redirect URI.

    \b
    Example:
      akctl integration configure github --client-id Iv1.abc --client-secret -
    """
    if client_secret == "-" or (not client_secret and not sys.stdin.isatty()):
        client_secret = sys.stdin.readline().rstrip("\r\n")
    elif not client_secret:
        client_secret = getpass.getpass("client secret: ")
    body = {"client_id": client_id, "client_secret": client_secret, "scopes": scopes}
    data: dict[str, Any] = app.client.request("PUT", f"/integrations/{name}/oauth-app", json=body)
    app.show(data, lambda: f"[green]✓[/] OAuth app for [bold]{escape(data['integration'])}[/] configured; "
                           f"redirect URI: {escape(data['redirect_uri'])}")  # fmt: skip


def register(cli: click.Group) -> None:
    cli.add_command(connection_group)
    cli.add_command(integration_group)

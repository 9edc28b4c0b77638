"""Recovery and debugging commands: ``session rerun``, ``session wake``, ``session signal``,
``trigger fire``.

They join the ``session`` and ``trigger`` groups, so they are registered after those.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from akctl.app import App, common
from akctl.commands.sessions import watch
from akctl.errors import CliError


def _result_of(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise CliError(f"--edit-result {path}: not a JSON file ({exc})", 40) from None


def register(cli: click.Group) -> None:
    session = cli.commands["session"]
    trigger = cli.commands["trigger"]
    assert isinstance(session, click.Group) and isinstance(trigger, click.Group)

    @session.command("rerun")
    @click.argument("session_id")
    @click.option(
        "--from-step",
        "from_step",
        type=click.IntRange(min=0),
        required=True,
        help="Replay the steps before this one (numbers as in `session log`), run live from it.",
    )
    @click.option(
        "--edit-result",
        "edit_result",
        type=click.Path(path_type=Path, exists=True, dir_okay=False),
        default=None,
        help="A JSON file: step N's result in the new session (live from N+1).",
    )
    @click.option("--latest", is_flag=True, help="Run on the project's active deployment instead of the original's.")
    @click.option("--watch", "watch_", is_flag=True, help="Follow the new session's prints until it ends.")
    @common
    def rerun_cmd(app: App, session_id: str, from_step: int, edit_result: Path | None, latest: bool,
                  watch_: bool) -> int:  # fmt: skip
        """Rerun a durable session from a step: a new session replays the original's
        steps before N (their side effects do not happen again) and runs live from N.

        \b
        Example:
          akctl session log ses_01...                       # find the step number
          akctl session rerun ses_01... --from-step 3 --watch
          akctl session rerun ses_01... --from-step 3 --edit-result fixed.json --latest
        """
        body: dict[str, Any] = {"from_step": from_step, "latest": latest}
        if edit_result is not None:
            body["result"] = _result_of(edit_result)
        res = app.client.post(f"/sessions/{session_id}/rerun", body)
        if watch_ and not app.as_json:
            click.echo(f"{res['session_id']} (rerun of {res['rerun_of']} from step {from_step})", err=True)
            return watch(app, res["session_id"], (), None)
        app.show(res, lambda: f"[green]✓[/] started {res['session_id']} (rerun of {res['rerun_of']} from step "
                              f"{from_step})")  # fmt: skip
        return 0

    @session.command("wake")
    @click.argument("session_id")
    @common
    def wake_cmd(app: App, session_id: str) -> None:
        """End a durable sleep now: time.sleep() returns as if the time had passed.

        \b
        Example:
          akctl session wake ses_01...
        """
        res = app.client.post(f"/sessions/{session_id}/wake")
        app.show(res, lambda: f"[green]✓[/] woke {res['session_id']} (it slept until {res['until']})")

    @session.command("signal")
    @click.argument("session_id")
    @click.argument("name")
    @click.option("--payload", default=None, help="The signal's payload, as JSON (default: none).")
    @common
    def signal_cmd(app: App, session_id: str, name: str, payload: str | None) -> None:
        """Send a session a signal: its next_signal(NAME) returns it (as autokitteh.signal would).

        \b
        Example:
          akctl session signal ses_01... approve --payload '{"by": "ada"}'
        """
        body: dict[str, Any] = {"name": name}
        if payload is not None:
            try:
                body["payload"] = json.loads(payload)
            except ValueError as exc:
                raise CliError(f"--payload is not JSON: {exc}", 40) from None
        res = app.client.post(f"/sessions/{session_id}/signal", body)
        app.show(res, lambda: f"[green]✓[/] sent {name!r} to {res['session_id']}")

    @trigger.command("fire")
    @click.argument("ref", metavar="PROJECT/TRIGGER")
    @common
    def fire_cmd(app: App, ref: str) -> None:
        """Run a schedule trigger now (a real tick event, as its schedule would make).

        \b
        Example:
          akctl trigger fire cron_report/hourly
        """
        project, _, name = ref.partition("/")
        if not project or not name:
            raise CliError(f"expected PROJECT/TRIGGER, got {ref!r}", 40)
        res = app.client.post(f"/projects/{project}/triggers/{name}/fire")
        hint = f"`akctl event list --project {project}` shows the tick"
        app.show(res, lambda: f"[green]✓[/] fired {project}/{name}; {hint}")

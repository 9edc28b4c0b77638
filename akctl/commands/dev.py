"""``akctl dev [DIR]``: deploy, redeploy on every save, stream the prints of new sessions.

Everything runs in the akctl process: watchfiles reports saves (debounced), each one
is checked locally and deployed like ``akctl deploy``; between saves the daemon is
polled (~200 ms) for new sessions of the project and their prints. A failed build
prints its error and leaves the previous deployment live. Ctrl-C stops watching;
the daemon and its sessions keep running, unless ``dev`` started the daemon itself
(none was running): then it stops it too, as ``temporal server start-dev`` does.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from akctl import render
from akctl.app import App, common
from akctl.commands import daemon
from akctl.commands.deploy import force_option, pick_project_dir, prepare, project_dir_arguments, upload
from akctl.errors import CliError
from akctl.render import escape

POLL_SECONDS = 0.2
_SKIPPED_PARTS = frozenset({"__pycache__", "node_modules", "venv", "env"})
if TYPE_CHECKING:
    import watchfiles

_FINAL = ("completed", "error", "stopped")


def watched(project_dir: Path) -> watchfiles.BaseFilter:
    """Skip what a build skips (dot files, caches, environments) and editor droppings."""
    import watchfiles  # here, not at the top: only `akctl dev` needs it

    class Filter(watchfiles.BaseFilter):
        def __call__(self, change: watchfiles.Change, path: str) -> bool:
            try:
                parts = Path(path).resolve().relative_to(project_dir.resolve()).parts
            except ValueError:
                return True  # a manifest outside DIR
            if any(p.startswith(".") or p in _SKIPPED_PARTS for p in parts):
                return False
            return not parts or not parts[-1].endswith(("~", ".pyc", ".swp", ".swx"))

    return Filter()


class DevLoop:
    def __init__(self, app: App, project_dir: Path, manifest_path: Path, force: bool = False) -> None:
        self.app = app
        self.force = force
        self.project_dir = project_dir
        self.manifest_path = manifest_path
        self.project = ""
        self.deployment_id = ""
        self.floor = ""  # sessions with ids up to this one existed before `dev` started
        self.follow: dict[str, int] = {}  # session id -> id of the last print shown
        self.done: set[str] = set()

    # -- output -------------------------------------------------------------------------

    def emit(self, kind: str, human: str, **data: Any) -> None:
        if self.app.as_json:
            sys.stdout.write(json.dumps({"event": kind, **data}) + "\n")
            sys.stdout.flush()
        else:
            render.out.print(human)

    # -- deploys ------------------------------------------------------------------------

    def redeploy(self) -> None:
        started = time.monotonic()
        try:
            prepared = prepare(self.project_dir, self.manifest_path)
            self.project = prepared.manifest.name
            prepared.body["force"] = self.force
            result = upload(self.app, prepared, str(self.project_dir))
        except CliError as exc:
            if exc.exit_code != 40:
                raise
            first, _, rest = exc.message.partition("\n")
            keep = f"  ({self.deployment_id} stays live)" if self.deployment_id else ""
            human = f"[red]✗[/] {escape(first)}[dim]{keep}[/]" + (f"\n{escape(rest)}" if rest else "")
            self.emit("error", human, message=exc.message, live_deployment_id=self.deployment_id or None)
            return
        ms = (time.monotonic() - started) * 1000
        self.deployment_id = result["deployment_id"]
        self.emit(
            "deployed",
            f"[green]✓[/] deployed [bold]{self.deployment_id}[/] in {ms:.0f} ms",
            deployment_id=self.deployment_id, elapsed_ms=round(ms), webhooks=result["webhooks"],
        )  # fmt: skip
        if not self.floor:
            for name, url in sorted(result["webhooks"].items()):
                self.emit("webhook", f"  webhook [bold]{name}[/]: {url}", name=name, url=url)

    # -- sessions -----------------------------------------------------------------------

    def sessions(self) -> list[dict[str, Any]]:
        if not self.project:
            return []
        try:
            rows: list[dict[str, Any]] = self.app.client.get("/sessions", project=self.project, limit=50)
        except CliError as exc:
            if exc.exit_code == 44:  # not deployed yet
                return []
            raise
        return rows

    def start(self) -> None:
        """Remember where history ends, so only sessions started from now on stream."""
        self.floor = max((s["session_id"] for s in self.sessions()), default="ses_")

    def poll(self) -> None:
        for s in self.sessions():
            sid = s["session_id"]
            if sid > self.floor and sid not in self.follow and sid not in self.done:
                self.follow[sid] = 0
        for sid in sorted(self.follow):
            self.show_prints(sid)

    def show_prints(self, sid: str) -> None:
        data = self.app.client.get(f"/sessions/{sid}/prints", after=self.follow[sid], limit=1000)
        for p in data["prints"]:
            self.emit("print", f"[cyan]{sid}[/] {escape(p['text'])}", session_id=sid, t=p["t"], text=p["text"])
            self.follow[sid] = p["id"]
        if data["state"] in _FINAL and len(data["prints"]) < 1000:
            del self.follow[sid]
            self.done.add(sid)
            if data["state"] != "completed":
                self.report_end(sid, data["state"])

    def report_end(self, sid: str, state: str) -> None:
        s: dict[str, Any] = self.app.client.get(f"/sessions/{sid}")
        err = s.get("error") or {}
        message = f"{err.get('type', '')}: {err.get('message', '')}".strip(": ")
        self.emit(
            "session_end", f"[cyan]{sid}[/] {render.state(state)} {escape(message)}",
            session_id=sid, state=state, error=message,
        )  # fmt: skip

    # -- the loop -----------------------------------------------------------------------

    def run(self) -> None:
        began = time.time()
        self.redeploy()
        self.start()
        paths = [self.project_dir]
        if not self.manifest_path.resolve().is_relative_to(self.project_dir.resolve()):
            paths.append(self.manifest_path)
        self.emit("watching", f"[dim]watching {escape(str(self.project_dir))} (Ctrl-C to stop)[/]")
        first = True
        import watchfiles

        for changes in watchfiles.watch(
            *paths, watch_filter=watched(self.project_dir), step=50, rust_timeout=int(POLL_SECONDS * 1000),
            yield_on_timeout=True,
        ):  # fmt: skip
            # A save between the first deploy and the watcher's start would be lost otherwise.
            if changes or (first and changed_since(paths, watched(self.project_dir), began)):
                self.redeploy()
            first = False
            self.poll()


def changed_since(paths: list[Path], keep: watchfiles.BaseFilter, t: float) -> bool:
    import watchfiles

    for root in paths:
        files = [root] if root.is_file() else (Path(d) / f for d, _, names in os.walk(root) for f in names)
        for path in files:
            try:
                if keep(watchfiles.Change.modified, str(path)) and path.stat().st_mtime >= t:
                    return True
            except OSError:
                continue
    return False


def ensure_daemon(loop: DevLoop) -> bool:
    """Start akd in the background when none runs (for this data dir, or anywhere when none
    was named); whether ``dev`` started it, and so stops it on exit."""
    from akctl.client import daemon_running

    app = loop.app
    if daemon_running(app.daemon_data_dir()):
        return False
    info = daemon.start_detached(app, None, None)
    human = f"[dim]started akd at {info['url']} (data dir {escape(str(app.data_dir))}); it stops when dev exits[/]"
    loop.emit("daemon_started", human, url=info["url"], pid=info["pid"], data_dir=str(app.data_dir))
    return True


@click.command("dev")
@project_dir_arguments
@click.option("--manifest", type=click.Path(path_type=Path), default=None, help="Default: DIR/autokitteh.yaml.")
@force_option
@common
def dev_cmd(app: App, dir_argument: Path | None, dir_option: Path | None, manifest: Path | None, force: bool) -> None:
    """Deploy DIR, then redeploy on every save and stream the prints of new sessions.

    One line per redeploy (the new deployment, or the build error with file:line
    while the previous deployment stays live); each print line starts with its
    session id. Sessions already running finish on the code they started with.
    When no akd is running, dev starts one in the background (in the data dir) and
    stops it on exit; Ctrl-C otherwise leaves the daemon running. A project last
    deployed from another directory needs --force, as with deploy. With --json, one
    JSON object per line: {"event": "deployed"|"error"|"print"|"session_end"|..., ...}.

    \b
    Example:
      akctl dev examples/hello           # or: akctl dev --dir examples/hello
    """
    project_dir = pick_project_dir(dir_argument, dir_option)
    if not project_dir.is_dir():
        raise CliError(f"project directory {project_dir} does not exist", 44)
    loop = DevLoop(app, project_dir, manifest or project_dir / "autokitteh.yaml", force)
    started = ensure_daemon(loop)
    try:
        loop.run()
    except KeyboardInterrupt:
        live = f"; {loop.deployment_id} stays active" if loop.deployment_id else ""
        kept = "akd stops" if started else f"akd keeps running{live}"
        loop.emit("stopped", f"[dim]stopped watching; {kept}[/]")
    finally:
        if started:
            stop_started(loop)


def stop_started(loop: DevLoop) -> None:
    """Stop the daemon dev started; a second Ctrl-C meanwhile does not leave it running."""
    import signal

    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        result = daemon.stop(loop.app, 60.0)
    finally:
        signal.signal(signal.SIGINT, previous)
    if result is not None:
        loop.emit("daemon_stopped", daemon.stopped_line(result), **result)


def register(cli: click.Group) -> None:
    cli.add_command(dev_cmd)

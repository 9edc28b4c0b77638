"""``akctl up`` and ``akctl down``."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import click

from akctl import render
from akctl.app import App, common
from akctl.client import Client, http_call, read_daemon_info
from akctl.errors import CliError
from akd.instances import pid_alive

READY_TIMEOUT = 90.0


def _akd_command(app: App, port: int | None, config: Path | None) -> list[str]:
    cmd = [sys.executable, "-m", "akd", "--data-dir", str(app.data_dir)]
    if port is not None:
        cmd += ["--port", str(port)]
    if config is not None:
        cmd += ["--config", str(config)]
    return cmd


def _healthy(url: str) -> bool:
    try:
        return http_call("GET", f"{url}/api/v1/health", {}, timeout=2)[0] == 200
    except (OSError, TimeoutError):
        return False


def _running(app: App) -> dict[str, object] | None:
    info = read_daemon_info(app.data_dir)
    if info and _healthy(str(info["url"])):
        return info
    return None


def _log_since(path: Path, offset: int, lines: int = 15) -> str:
    """The last lines this attempt wrote to ``akd.log`` (from ``offset``): never an earlier run's."""
    try:
        with path.open("rb") as f:
            f.seek(offset)
            text = f.read().decode(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def _wait_ready(app: App, proc: subprocess.Popen[bytes], log_path: Path, offset: int) -> dict[str, object]:
    deadline = time.monotonic() + READY_TIMEOUT
    with render.err.status("Starting akd (Temporal dev server, database, worker)..."):
        while time.monotonic() < deadline:
            code = proc.poll()
            if code is not None:
                raise CliError(
                    f"akd exited with code {code} while starting:\n{_log_since(log_path, offset)}",
                    code if code in (40, 42) else 1,
                )
            info = read_daemon_info(app.data_dir)
            if info and info.get("pid") == proc.pid and _healthy(str(info["url"])):
                return info
            time.sleep(0.05)
    proc.terminate()
    raise CliError(f"akd did not become ready in {READY_TIMEOUT:.0f} s; see {log_path}")


def _check_data_dir(path: Path) -> str:
    """What akd refuses at start is refused before akctl writes its log there; what akd
    tightens is returned as a warning for stderr (a detached akd only logs it)."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return ""
    except OSError as exc:
        raise CliError(f"cannot use the data dir {path}: {exc.strerror}; pick another with --data-dir") from None
    mode = stat.S_IMODE(st.st_mode)
    if mode & 0o022:
        raise CliError(
            f"the data dir {path} is writable by other users (mode {mode:04o}); akd keeps its token and "
            "databases there: pick a private directory with --data-dir (or chmod 700 it)",
            42,
        )
    if mode & 0o077:
        return f"the data dir {path} was readable by other users (mode {mode:04o}); akd makes it private (0700)"
    return ""


def up(app: App, detach: bool, port: int | None, config: Path | None) -> None:
    """Start the akd daemon (in the foreground, or in the background with --detach)."""
    if not app.explicit_data_dir:
        app.daemon_data_dir()  # a daemon already running in another data dir is the one
    info = _running(app)
    if info:
        url, pid = info["url"], info["pid"]
        line = f"akd is already running at {url} (pid {pid}, data dir {app.data_dir})"
        data = {"url": url, "pid": pid, "already_running": True, "data_dir": str(app.data_dir)}
        app.show({**data, "web_ui": f"{url}/"}, lambda: f"{line}\n  web UI: {url}/  (sign in: akctl ui)")
        return
    if not detach:
        os.execv(sys.executable, _akd_command(app, port, config))
    info = start_detached(app, port, config)
    log_path = app.data_dir / "logs" / "akd.log"
    app.show(
        {"url": info["url"], "pid": info["pid"], "temporal_address": info["temporal_address"],
         "data_dir": str(app.data_dir), "web_ui": f"{info['url']}/"},
        lambda: f"[green]✓[/] akd is running at {info['url']} (pid {info['pid']}, log {log_path})\n"
        f"  web UI: {info['url']}/  (sign in: akctl ui)",
    )  # fmt: skip


def start_detached(app: App, port: int | None, config: Path | None) -> dict[str, object]:
    """Start akd in the background (its output goes to ``logs/akd.log``); its daemon.json once ready."""
    warning = _check_data_dir(app.data_dir)
    log_path = app.data_dir / "logs" / "akd.log"
    try:
        app.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        log_path.parent.mkdir(mode=0o700, exist_ok=True)
        fd = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    except OSError as exc:
        raise CliError(
            f"cannot use the data dir {app.data_dir}: {exc.strerror}; fix its permissions or pick another "
            "with --data-dir"
        ) from None
    if warning:
        render.err.print(f"[yellow]warning:[/] {render.escape(warning)}")
    with os.fdopen(fd, "ab") as logf:
        offset = logf.seek(0, os.SEEK_END)
        proc = subprocess.Popen(
            _akd_command(app, port, config), stdin=subprocess.DEVNULL, stdout=logf, stderr=logf,
            start_new_session=True,
        )  # fmt: skip
    return _wait_ready(app, proc, log_path, offset)


def down(app: App, timeout: float) -> None:
    """Stop the akd daemon gracefully (running sessions resume at the next start)."""
    result = stop(app, timeout)
    if result is None:
        app.show({"stopped": False, "running": False}, lambda: "akd is not running")
    else:
        app.show(result, lambda: stopped_line(result))


def stop(app: App, timeout: float) -> dict[str, Any] | None:
    """Ask akd to stop and wait for it (at most ``timeout``); None when it was not running."""
    info = read_daemon_info(app.daemon_data_dir())
    if info is None or not _healthy(str(info["url"])):
        return None
    pid = int(str(info["pid"]))
    waits = _what_down_waits_for(app.client)
    app.client.post("/shutdown")
    started = time.monotonic()
    _wait_exit(pid, timeout, waits)
    took = time.monotonic() - started
    if pid_alive(pid):
        raise CliError(f"akd (pid {pid}) did not stop within {timeout:.0f} s", 1, f"kill it with: kill {pid}")
    return {"stopped": True, "pid": pid, "parked_sessions": waits, "seconds": round(took, 3)}


def stopped_line(result: dict[str, Any]) -> str:
    line = f"[green]✓[/] akd stopped (pid {result['pid']}) in {result['seconds']:.1f} s"
    return line + _parked_note(result["parked_sessions"])


def _what_down_waits_for(client: Client) -> list[str]:
    """The sessions akd parks on the way down (their runners end; they resume at the next start)."""
    rows = client.get("/sessions", state="running", limit=1000)
    return sorted(str(r["session_id"]) for r in rows)


def _parked_note(waits: list[str]) -> str:
    if not waits:
        return ""
    return f"; {len(waits)} running session{'s' if len(waits) != 1 else ''} parked (they resume at the next start)"


def _waiting_text(waits: list[str]) -> str:
    if not waits:
        return "stopping the Temporal worker and server"
    shown = ", ".join(waits[:3]) + (f" and {len(waits) - 3} more" if len(waits) > 3 else "")
    return f"parking {len(waits)} running session{'s' if len(waits) != 1 else ''} ({shown})"


def _wait_exit(pid: int, timeout: float, waits: list[str]) -> None:
    """Wait up to ``timeout`` for akd to exit: a live line on a terminal, plain lines elsewhere."""
    what = _waiting_text(waits)
    started = time.monotonic()
    deadline = started + timeout
    if not sys.stderr.isatty():
        sys.stderr.write(f"stopping akd (pid {pid}): {what}; at most {timeout:.0f} s\n")
        sys.stderr.flush()
        next_note = started + 5
        while time.monotonic() < deadline and pid_alive(pid):
            if time.monotonic() >= next_note:
                sys.stderr.write(f"still stopping akd ({time.monotonic() - started:.0f} s): {what}\n")
                next_note += 5
            time.sleep(0.05)
        return
    with render.err.status(f"Stopping akd: {what}...") as status:
        while time.monotonic() < deadline and pid_alive(pid):
            elapsed = time.monotonic() - started
            status.update(f"Stopping akd: {render.escape(what)}... {elapsed:.0f} s (at most {timeout:.0f} s)")
            time.sleep(0.1)


@click.command("up")
@click.option("--detach", "-d", is_flag=True, help="Run in the background; return once akd is ready.")
@click.option(
    "--port", type=int, default=None, help="HTTP port (default 9980, or the last --port on this data dir; 0 = free)."
)
@click.option("--config", type=click.Path(path_type=Path, exists=True), default=None, help="akd.toml to use.")
@common
def up_cmd(app: App, detach: bool, port: int | None, config: Path | None) -> None:
    """Start the akd daemon; prints its URL and web UI link.

    --port is remembered in the data dir: the next start without --port uses it again,
    so webhook URLs stay the same.

    \b
    Example:
      akctl up --detach --port 9990
    """
    up(app, detach, port, config)


@click.command("down")
@click.option("--timeout", type=float, default=30.0, show_default=True, help="Seconds to wait for akd to exit.")
@common
def down_cmd(app: App, timeout: float) -> None:
    """Stop the akd daemon gracefully; running sessions are parked and resume at the next start.

    \b
    Example:
      akctl down
    """
    down(app, timeout)


@click.command("status")
@common
def status_cmd(app: App) -> None:
    """Show the running daemon: pid, data dir, URL, web UI link, projects and sessions by state.

    Without --data-dir or AKD_DATA_DIR, the daemon is looked for among the running ones.

    \b
    Example:
      akctl status
    """
    status(app)


def status(app: App) -> None:
    client = app.client
    health = client.get("/health")
    by_state: dict[str, int] = client.get("/stats/counts")["by_state"]
    projects = len(client.get("/projects"))
    data = {
        "running": True, "pid": health["pid"], "version": health["version"], "uptime": health["uptime"],
        "data_dir": str(app.data_dir), "url": client.url, "web_ui": f"{client.url}/",
        "temporal": health["temporal"], "projects": projects, "sessions": by_state,
    }  # fmt: skip
    sessions = ", ".join(f"{n} {state}" for state, n in sorted(by_state.items())) or "none"
    app.show(
        data,
        lambda: (
            f"[green]●[/] akd {health['version']} is running (pid {health['pid']}, up "
            f"{render.human_duration(health['uptime'])}, Temporal {health['temporal']})\n"
            f"  data dir:  {render.escape(str(app.data_dir))}\n  URL:       {client.url}\n"
            f"  web UI:    {client.url}/  (sign in: akctl ui)\n  projects:  {projects}\n  sessions:  {sessions}"
        ),
    )


def register(cli: click.Group) -> None:
    register_ui(cli)
    for command in (up_cmd, down_cmd, status_cmd):
        cli.add_command(command)


def register_ui(cli: click.Group) -> None:
    @cli.command("ui")
    @common
    def ui_cmd(app: App) -> None:
        """Print a one-time link that signs a browser in to the web UI (valid 2 minutes).

        \b
        Example:
          xdg-open "$(akctl ui)"
        """
        client = app.client
        auth = {"Authorization": f"Bearer {client.token}"}
        try:
            status, raw = http_call("POST", f"{client.url}/login/link", auth, {}, 10)
        except (OSError, TimeoutError):
            raise CliError(f"akd is not running at {client.url}", 1, "start it with: akctl up --detach") from None
        if status != 200:
            message = raw[:200].decode(errors="replace")
            raise CliError(f"akd refused a login link ({status}): {message}", 41 if status == 401 else 1)
        data = json.loads(raw)
        app.show(data, lambda: data["url"], soft_wrap=True)

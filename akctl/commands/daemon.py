"""``akctl up`` and ``akctl down``."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import click

from akctl import render
from akctl.app import App, common
from akctl.client import Client, http_call, read_daemon_info
from akctl.errors import CliError

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


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _wait_ready(app: App, proc: subprocess.Popen[bytes], log_path: Path) -> dict[str, object]:
    deadline = time.monotonic() + READY_TIMEOUT
    with render.err.status("Starting akd (Temporal dev server, database, worker)..."):
        while time.monotonic() < deadline:
            code = proc.poll()
            if code is not None:
                raise CliError(
                    f"akd exited with code {code} while starting:\n{_tail(log_path)}", code if code in (40, 42) else 1
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
    info = _running(app)
    if info:
        url, pid = info["url"], info["pid"]
        line = f"akd is already running at {url} (pid {pid})"
        app.show({"url": url, "pid": pid, "already_running": True}, lambda: line)
        return
    cmd = _akd_command(app, port, config)
    if not detach:
        os.execv(sys.executable, cmd)
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
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=logf, stderr=logf, start_new_session=True)
    info = _wait_ready(app, proc, log_path)
    app.show(
        {"url": info["url"], "pid": info["pid"], "temporal_address": info["temporal_address"]},
        lambda: f"[green]✓[/] akd is running at {info['url']} (pid {info['pid']}, log {log_path})",
    )


def down(app: App, timeout: float) -> None:
    """Stop the akd daemon gracefully (running sessions resume at the next start)."""
    info = read_daemon_info(app.data_dir)
    if info is None or not _healthy(str(info["url"])):
        app.show({"stopped": False, "running": False}, lambda: "akd is not running")
        return
    pid = int(str(info["pid"]))
    Client.locate(app.data_dir).post("/shutdown")
    deadline = time.monotonic() + timeout
    with render.err.status("Stopping akd..."):
        while time.monotonic() < deadline and _pid_alive(pid):
            time.sleep(0.05)
    if _pid_alive(pid):
        raise CliError(f"akd (pid {pid}) did not stop within {timeout:.0f} s", 1, f"kill it with: kill {pid}")
    app.show({"stopped": True, "pid": pid}, lambda: f"[green]✓[/] akd stopped (pid {pid})")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child (of a test harness, say) has exited already.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def register(cli: click.Group) -> None:
    register_ui(cli)

    @cli.command("up")
    @click.option("--detach", "-d", is_flag=True, help="Run in the background; return once akd is ready.")
    @click.option("--port", type=int, default=None, help="HTTP port (default 9980; 0 = a free port).")
    @click.option("--config", type=click.Path(path_type=Path, exists=True), default=None, help="akd.toml to use.")
    @common
    def up_cmd(app: App, detach: bool, port: int | None, config: Path | None) -> None:
        """Start the akd daemon.

        \b
        Example:
          akctl up --detach --port 0
        """
        up(app, detach, port, config)

    @cli.command("down")
    @click.option("--timeout", type=float, default=30.0, show_default=True, help="Seconds to wait for akd to exit.")
    @common
    def down_cmd(app: App, timeout: float) -> None:
        """Stop the akd daemon gracefully.

        \b
        Example:
          akctl down
        """
        down(app, timeout)


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

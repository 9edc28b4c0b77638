"""Operate the daemon without surprises: find it, keep its port, stop it with sessions in
flight, let ``akctl dev`` start and stop it, and never take over a project by its name.

One daemon (``main``) serves the module; it starts and stops by nature of the tests. Every
daemon here registers in a temporary runtime dir (``AKD_RUNTIME_DIR``), never the user's.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.harness import AKCTL, ROOT, Akd, pid_alive, wait_for, write_project

pytestmark = pytest.mark.e2e

MANIFEST = """\
version: v1
project:
  name: {name}
  triggers:
    - name: nap
      type: webhook
      call: program.py:nap
    - name: spin
      type: webhook
      call: program.py:spin
    - name: forever
      type: webhook
      call: program.py:forever
"""

PROGRAM = """\
import time

def nap(event):
    print("napping")
    time.sleep(4)
    print("woke")

def spin(event):
    print("spinning")
    n = 0
    while n < 60_000_000:
        n += 1
    print("spun", n)

def forever(event):
    print("looping")
    while True:
        pass
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("opd")


@pytest.fixture(scope="module")
def main(tmp: Path) -> Iterator[Akd]:
    """The module's daemon, in the default data dir of ``XDG_DATA_HOME=<tmp>/xdg``, on a port
    chosen with ``akctl up --port`` (so a later ``akctl up`` without it must keep it)."""
    daemon = Akd(tmp / "xdg" / "akd")
    daemon.env["AKD_RUNTIME_DIR"] = str(tmp / "run")
    daemon.env["XDG_DATA_HOME"] = str(tmp / "xdg")
    port = free_port()
    res = daemon.akctl("up", "--detach", "--port", str(port), timeout=120)
    try:
        assert res.returncode == 0, res.stderr
        daemon.pids.append(daemon.pid)
        assert f"web UI: http://127.0.0.1:{port}/" in res.stdout, res.stdout
        yield daemon
    finally:
        daemon.down()


def shell_env(main: Akd, xdg: Path) -> dict[str, str]:
    """A new shell: no AKD_DATA_DIR, the module's runtime dir, its own XDG data home."""
    env = {k: v for k, v in main.env.items() if k != "AKD_DATA_DIR"}
    env["XDG_DATA_HOME"] = str(xdg)
    return env


def akctl(env: dict[str, str], *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*AKCTL, *args], env=env, capture_output=True, text=True, timeout=timeout, cwd=ROOT)


def start(akd: Akd, url: str) -> str:
    event_id = httpx.post(url, timeout=10).headers["AutoKitteh-Event-ID"]

    def found() -> str | None:
        ids = akd.api("GET", f"/events/{event_id}").json()["session_ids"]
        return ids[0] if ids else None

    return wait_for(found, 20)


def log_since(akd: Akd, offset: int) -> str:
    return (akd.data_dir / "logs" / "akd.log").read_bytes()[offset:].decode(errors="replace")


def log_size(akd: Akd) -> int:
    return (akd.data_dir / "logs" / "akd.log").stat().st_size


# -- 5 and 12: one project name, two directories; DIR and --dir ---------------------------


def test_deploying_a_project_from_another_directory_needs_force(main: Akd, tmp: Path) -> None:
    files = {"autokitteh.yaml": MANIFEST.format(name="moved"), "program.py": PROGRAM}
    first, other = write_project(tmp / "a" / "hello", files), write_project(tmp / "b" / "hello", files)
    assert main.akctl("deploy", str(first)).returncode == 0  # DIR
    assert main.akctl("deploy", "--dir", str(first)).returncode == 0  # --dir, same directory: no question
    both = main.akctl("deploy", str(first), "--dir", str(other))
    assert both.returncode == 40 and "different directories" in both.stderr, both.stderr

    refused = main.akctl("deploy", str(other))
    assert refused.returncode == 42, (refused.returncode, refused.stderr)
    assert str(first.resolve()) in refused.stderr and "--force" in refused.stderr
    assert main.api("GET", "/projects/moved").json()["root_dir"] == str(first.resolve())

    plan = main.akctl_json("manifest", "plan", str(other / "autokitteh.yaml"))
    assert plan["project"]["action"] == "update" and plan["project"]["changes"] == ["root_dir"]
    assert plan["project"]["moved_from"] == str(first.resolve()) and plan["has_changes"] is True
    shown = main.akctl("manifest", "plan", str(other / "autokitteh.yaml"))
    assert f"moves from {first.resolve()}" in shown.stdout, shown.stdout
    same = main.akctl_json("manifest", "plan", str(first / "autokitteh.yaml"))["project"]
    assert (same["action"], same["moved_from"]) == ("unchanged", None)

    dev = main.akctl("dev", "--dir", str(other), timeout=60)  # the same rule; nothing is watched
    assert dev.returncode == 42 and "--force" in dev.stderr, (dev.returncode, dev.stderr)

    assert main.akctl("deploy", "--dir", str(other), "--force").returncode == 0
    assert main.api("GET", "/projects/moved").json()["root_dir"] == str(other.resolve())
    assert main.akctl("deploy", str(other)).returncode == 0  # its new home from now on


# -- 9: finding the daemon from a new shell; status --------------------------------------


def test_a_new_shell_finds_the_running_daemon(main: Akd, tmp: Path) -> None:
    own = shell_env(main, tmp / "xdg")  # main's data dir is this shell's default: nothing to say
    res = akctl(own, "status")
    assert res.returncode == 0, res.stderr
    assert res.stderr == ""
    for shown in (str(main.data_dir), main.url, f"web UI:    {main.url}/", "projects:", "sessions:"):
        assert shown in res.stdout, (shown, res.stdout)

    elsewhere = shell_env(main, tmp / "elsewhere")  # a default data dir where nothing runs
    res = akctl(elsewhere, "status", "--json")
    assert res.returncode == 0, res.stderr
    assert f"using akd at {main.url}" in res.stderr and f"AKD_DATA_DIR={main.data_dir}" in res.stderr
    status = json.loads(res.stdout)
    assert (status["data_dir"], status["url"], status["web_ui"]) == (str(main.data_dir), main.url, f"{main.url}/")
    assert status["pid"] == main.pid and status["projects"] == len(main.api("GET", "/projects").json())
    assert status["sessions"] == main.api("GET", "/stats/counts").json()["by_state"]
    listed = akctl(elsewhere, "project", "list", "--json")
    assert listed.returncode == 0 and isinstance(json.loads(listed.stdout), list), listed.stderr
    up = akctl(elsewhere, "up", "--detach")  # reports that one instead of starting a second, empty akd
    assert up.returncode == 0 and f"akd is already running at {main.url}" in up.stdout, (up.stdout, up.stderr)
    assert not (tmp / "elsewhere" / "akd").exists()

    # A registry entry whose akd is gone (a kill -9) is ignored.
    stale = tmp / "run" / "0000000000000000.json"
    stale.write_text(json.dumps({"data_dir": str(tmp / "gone"), "url": "http://127.0.0.1:1", "pid": 2**22 + 7}))
    res = akctl(elsewhere, "status", "--json")
    assert res.returncode == 0 and json.loads(res.stdout)["url"] == main.url, res.stderr
    assert not stale.exists()


# -- 6 and 10: down with sessions in flight; the port is remembered -----------------------


def test_down_parks_running_sessions_and_up_resumes_them_on_the_same_port(main: Akd, tmp: Path) -> None:
    root = write_project(tmp / "parking", {"autokitteh.yaml": MANIFEST.format(name="parking"), "program.py": PROGRAM})
    hooks = main.deploy(root)["webhooks"]
    napping, spinning = start(main, hooks["nap"]), start(main, hooks["spin"])
    wait_for(lambda: main.prints(napping) == ["napping"] and main.prints(spinning) == ["spinning"], 30)
    url, offset = main.url, log_size(main)

    try:
        res = main.akctl("down", "--timeout", "25", timeout=60)
        assert res.returncode == 0, res.stderr
        log = log_since(main, offset)
        for bad in ("Traceback", "RunnerGone", "did not stop in time", "Completing activity as failed"):
            assert bad not in log, (bad, log)
        assert log.count(f"session {spinning} parked") == 1, log  # its runner was in the middle of the loop
        assert "parking 2 running sessions" in res.stderr and napping in res.stderr and spinning in res.stderr
        assert "akd stopped" in res.stdout and "2 running sessions parked" in res.stdout
    finally:
        res = main.akctl("up", "--detach", timeout=120)  # no --port: the one of the last `up --port`
        assert res.returncode == 0, res.stderr
        main.pids.append(main.pid)
    assert main.url == url
    assert main.wait_session(napping, timeout=60)["state"] == "completed"
    assert main.wait_session(spinning, timeout=120)["state"] == "completed"
    assert main.prints(napping) == ["napping", "woke"]
    assert main.prints(spinning) == ["spinning", "spun 60000000"]
    assert httpx.post(hooks["nap"], timeout=10).status_code == 202  # the webhook URL still works


def test_a_failed_start_shows_only_its_own_log_lines(tmp: Path) -> None:
    other = Akd(tmp / "busy")
    other.env["AKD_RUNTIME_DIR"] = str(tmp / "run")
    (other.data_dir / "logs").mkdir(parents=True, mode=0o700)
    other.data_dir.chmod(0o700)
    (other.data_dir / "logs" / "akd.log").write_text("an earlier run's line: OLD-ATTEMPT\n" * 3)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        res = other.akctl("up", "--detach", "--port", port, timeout=120)
    assert res.returncode != 0
    assert f"cannot listen on 127.0.0.1:{port}" in res.stderr, res.stderr
    assert "OLD-ATTEMPT" not in res.stderr, res.stderr


# -- 13 (and 9 with two daemons): `akctl dev` starts its own daemon, and stops it ---------


class Tmux:
    """A private tmux server (its own socket) running one command at 120x40."""

    def __init__(self, socket_path: Path) -> None:
        self.base = ["tmux", "-S", str(socket_path)]

    def start(self, command: str) -> None:
        subprocess.run([*self.base, "new-session", "-d", "-x", "120", "-y", "40", command], check=True)

    def screen(self) -> str:
        res = subprocess.run([*self.base, "capture-pane", "-p", "-J", "-S", "-200"], capture_output=True, text=True)
        return res.stdout

    def keys(self, *keys: str) -> None:
        subprocess.run([*self.base, "send-keys", *keys], check=True)

    def close(self) -> None:
        subprocess.run([*self.base, "kill-server"], capture_output=True)


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_dev_starts_a_daemon_when_none_runs_and_stops_it_on_ctrl_c(main: Akd, tmp: Path) -> None:
    data_dir = tmp / "dev-data"
    project = write_project(tmp / "devproj", {"autokitteh.yaml": MANIFEST.format(name="devd"), "program.py": PROGRAM})
    env = {"AKD_RUNTIME_DIR": str(tmp / "run"), "XDG_DATA_HOME": str(tmp / "xdg"), "PYTHONPATH": str(ROOT)}
    assign = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
    dev = [sys.executable, "-m", "akctl.main", "dev", str(project), "--data-dir", str(data_dir)]
    command = f"env -u AKD_DATA_DIR {assign} {shlex.join(dev)}; echo EXIT=$?; sleep 120"
    tmux = Tmux(tmp / "tmux.sock")
    tmux.start(command)
    try:
        wait_for(lambda: "watching" in tmux.screen() or "EXIT=" in tmux.screen(), 120, what="akctl dev to watch")
        screen = tmux.screen()
        assert "watching" in screen, screen
        assert "started akd at" in screen and "it stops when dev exits" in screen, screen
        pid = int(json.loads((data_dir / "daemon.json").read_text())["pid"])
        assert pid_alive(pid)

        # Two daemons run now, neither in this shell's default data dir: akctl lists them.
        res = akctl(shell_env(main, tmp / "nowhere"), "status")
        assert res.returncode == 1, res.stderr
        for d in (main.data_dir, data_dir):
            assert f"AKD_DATA_DIR={d}" in res.stderr and f"--data-dir {d}" in res.stderr, res.stderr

        # A session running code when dev exits is parked by the daemon's stop, on a terminal.
        devd = Akd(data_dir)
        hooks = {t["name"]: t["webhook_url"] for t in devd.akctl_json("trigger", "list", "--project", "devd")}
        looping = start(devd, hooks["forever"])
        wait_for(lambda: f"{looping} looping" in tmux.screen(), 30, what="dev to show the print")
        tmux.keys("C-c")
        wait_for(lambda: "EXIT=" in tmux.screen(), 60, what="akctl dev to exit")
        screen = tmux.screen()
        assert "EXIT=0" in screen and "akd stopped" in screen and "1 running session parked" in screen, screen
        assert f"session {looping} parked" in (data_dir / "logs" / "akd.log").read_text()
        assert not pid_alive(pid)
        assert not (data_dir / "daemon.json").exists()
        registered = [json.loads(p.read_text())["data_dir"] for p in (tmp / "run").glob("*.json")]
        assert registered == [str(main.data_dir)], registered
        assert main.akctl("status").returncode == 0  # the daemon dev did not start keeps running
    finally:
        tmux.close()
        if (data_dir / "daemon.json").exists():
            os.kill(int(json.loads((data_dir / "daemon.json").read_text())["pid"]), 9)


def test_dev_json_reports_the_daemon_it_starts_and_stops(tmp: Path) -> None:
    """Without a terminal: one JSON object per line, the daemon's start and stop among them."""
    import signal

    data_dir = tmp / "dev-json"
    project = write_project(tmp / "devjson", {"autokitteh.yaml": MANIFEST.format(name="devj"), "program.py": PROGRAM})
    env = {k: v for k, v in os.environ.items() if k not in ("AKD_DATA_DIR", "AKD_URL", "AKD_TOKEN")}
    env.update({"AKD_RUNTIME_DIR": str(tmp / "run-json"), "PYTHONPATH": str(ROOT)})
    cmd = [*AKCTL, "dev", "--dir", str(project), "--data-dir", str(data_dir), "--json"]
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        events = []
        for line in proc.stdout:
            events.append(json.loads(line))
            if events[-1]["event"] == "watching":
                break
        pid = int(json.loads((data_dir / "daemon.json").read_text())["pid"])
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
        if (data_dir / "daemon.json").exists() and proc.returncode != 0:  # a failed test leaves no daemon
            os.kill(int(json.loads((data_dir / "daemon.json").read_text())["pid"]), 9)
    events += [json.loads(line) for line in out.splitlines()]
    kinds = [e["event"] for e in events]
    assert proc.returncode == 0, err
    assert kinds[0] == "daemon_started" and events[0]["pid"] == pid, events
    assert kinds[-2:] == ["stopped", "daemon_stopped"] and events[-1]["pid"] == pid, events
    assert "deployed" in kinds
    assert f"stopping akd (pid {pid})" in err  # down's plain progress line, not a spinner
    assert not pid_alive(pid) and not (data_dir / "daemon.json").exists()
    assert list((tmp / "run-json").glob("*.json")) == []

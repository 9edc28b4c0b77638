"""``akctl dev``: redeploy on save, stream new sessions' prints, survive broken saves (issue 4)."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.harness import AKCTL, ROOT, Akd, wait_for, write_project

pytestmark = pytest.mark.e2e

MANIFEST = """\
version: v2
project:
  name: {name}
  triggers:
    - name: hook
      type: webhook
      call: program.py:on_hook
"""

PROGRAM = """\
import time

def on_hook(event):
    print("hello {version}")
    if (event.data.body.json or {{}}).get("slow"):
        time.sleep(3)
        print("bye {version}")
"""

DEPLOYED = re.compile(r"✓ deployed (dep_\w+) in \d+ ms")


class Dev:
    """``akctl dev DIR`` in the background, its stdout collected in a file."""

    def __init__(self, akd: Akd, project_dir: Path, out: Path) -> None:
        self.out = out
        self._stdout = out.open("w")
        self.proc = subprocess.Popen(
            [*AKCTL, "dev", str(project_dir)], env=akd.env, cwd=ROOT, stdout=self._stdout, stderr=subprocess.STDOUT
        )

    def text(self) -> str:
        return self.out.read_text(errors="replace")

    def wait(self, pattern: str, count: int = 1, timeout: float = 30) -> list[str]:
        """The lines matching ``pattern``, once there are at least ``count`` of them."""

        def found() -> list[str] | None:
            lines = [line for line in self.text().splitlines() if re.search(pattern, line)]
            return lines if len(lines) >= count else None

        try:
            return wait_for(found, timeout, what=f"{count} line(s) matching {pattern!r}")
        except AssertionError:
            raise AssertionError(f"no {pattern!r} in akctl dev output:\n{self.text()}") from None

    def interrupt(self) -> int:
        self.proc.send_signal(signal.SIGINT)
        code = self.proc.wait(20)
        self._stdout.close()
        return code

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self._stdout.close()


@pytest.fixture
def dev_project(tmp_path: Path) -> Path:
    return write_project(tmp_path / "proj", {"autokitteh.yaml": MANIFEST.format(name="devloop"),
                                             "program.py": PROGRAM.format(version="v1")})  # fmt: skip


@pytest.fixture
def dev(akd_module: Akd, dev_project: Path, tmp_path: Path) -> Iterator[Dev]:
    running = Dev(akd_module, dev_project, tmp_path / "dev.out")
    try:
        yield running
    finally:
        running.kill()


def hook(url: str, slow: bool = False) -> None:
    assert httpx.post(url, json={"slow": slow}, timeout=10).status_code == 202


def save(path: Path, text: str) -> None:
    """Write the way an editor does: to a temporary file, then rename over the old one."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def test_dev_redeploys_on_save_and_streams_prints(akd_module: Akd, dev: Dev, dev_project: Path) -> None:
    first = DEPLOYED.search(dev.wait(DEPLOYED.pattern)[0])
    assert first is not None
    url = dev.wait(r"webhook hook: ")[0].split("webhook hook: ")[1].strip()
    hook(url, slow=True)
    old = dev.wait(r"^ses_\w+ hello v1$")[0].split()[0]
    save(dev_project / "program.py", PROGRAM.format(version="v2"))
    second = DEPLOYED.search(dev.wait(DEPLOYED.pattern, 2)[1])
    assert second is not None and second.group(1) != first.group(1)
    hook(url)
    new = dev.wait(r"^ses_\w+ hello v2$")[0].split()[0]
    assert new != old
    assert dev.wait(r"bye v1$")[0] == f"{old} bye v1"  # the session started before the edit keeps its code
    # A broken save shows the error with file:line and leaves v2 live.
    save(dev_project / "program.py", "def on_hook(event):\n    print('oops'\n")
    error = dev.wait(r"✗ ")[0]
    assert re.search(r"program\.py:2:\d+", error), error
    assert second.group(1) in error
    hook(url)
    dev.wait(r"^ses_\w+ hello v2$", 2)
    assert akd_module.akctl_json("deployment", "get", "devloop")["deployment_id"] == second.group(1)
    # The next good save recovers.
    save(dev_project / "program.py", PROGRAM.format(version="v3"))
    dev.wait(DEPLOYED.pattern, 3)
    hook(url)
    dev.wait(r"^ses_\w+ hello v3$")
    assert dev.interrupt() == 0
    assert "akd keeps running" in dev.text()
    assert akd_module.akctl("deployment", "get", "devloop").returncode == 0  # the daemon is still up


def test_dev_does_not_replay_old_sessions(akd_module: Akd, tmp_path: Path) -> None:
    root = write_project(tmp_path / "p", {"autokitteh.yaml": MANIFEST.format(name="devold"),
                                          "program.py": PROGRAM.format(version="old")})  # fmt: skip
    url = akd_module.deploy(root)["webhooks"]["hook"]
    hook(url)
    wait_for(lambda: [s for s in akd_module.sessions(project="devold") if s["state"] == "completed"], 20)
    running = Dev(akd_module, root, tmp_path / "out")
    try:
        running.wait(DEPLOYED.pattern)
        hook(url)
        line = running.wait(r"^ses_\w+ hello old$")[0]
        assert running.text().count("hello old") == 1, running.text()
        assert line.split()[0] == akd_module.sessions(project="devold")[0]["session_id"]
        assert running.interrupt() == 0
    finally:
        running.kill()


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_dev_under_tmux_stops_on_ctrl_c(akd_module: Akd, tmp_path: Path) -> None:
    root = write_project(tmp_path / "p", {"autokitteh.yaml": MANIFEST.format(name="devtmux"),
                                          "program.py": PROGRAM.format(version="t1")})  # fmt: skip
    env = " ".join(f"{k}={shlex.quote(akd_module.env[k])}" for k in ("AKD_DATA_DIR", "PYTHONPATH"))
    command = f"cd {shlex.quote(str(ROOT))} && env {env} {shlex.join([*AKCTL, 'dev', str(root)])}; echo EXIT=$?"
    tmux = ["tmux", "-L", f"akd-test-{os.getpid()}"]
    subprocess.run([*tmux, "new-session", "-d", "-s", "dev", "-x", "200", "-y", "50", f"{command}; sleep 60"],
                   check=True)  # fmt: skip

    def screen() -> str:
        res = subprocess.run([*tmux, "capture-pane", "-p", "-J", "-t", "dev", "-S", "-500"], capture_output=True)
        return res.stdout.decode(errors="replace")

    try:
        wait_for(lambda: DEPLOYED.search(screen()), 30, what="the first deploy")
        wait_for(lambda: "watching" in screen(), 30, what="the watcher")
        save(root / "program.py", PROGRAM.format(version="t2"))
        wait_for(lambda: len(DEPLOYED.findall(screen())) >= 2, 30, what="the redeploy")
        url = akd_module.akctl_json("project", "get", "devtmux")["triggers"][0]["webhook_url"]
        hook(url)
        wait_for(lambda: re.search(r"ses_\w+ hello t2", screen()), 30, what="the new session's print")
        subprocess.run([*tmux, "send-keys", "-t", "dev", "C-c"], check=True)
        wait_for(lambda: "EXIT=0" in screen(), 20, what="akctl dev to exit 0")
    finally:
        subprocess.run([*tmux, "kill-server"], capture_output=True)
    assert akd_module.akctl("deployment", "get", "devtmux").returncode == 0

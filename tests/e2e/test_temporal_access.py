"""The embedded Temporal dev server and who else can reach it (hardening item 5).

The dev server has no TLS or authentication of its own (docs/security.md), so any local
user who finds its port can drive it with the plain ``temporal`` CLI. These tests pin
what akd does about that: loopback only, a workflow closed from outside settled within
seconds, and a stale pid file that never kills another data dir's server.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.harness import Akd, pid_alive, processes_matching, wait_for, write_project

pytestmark = pytest.mark.e2e

TEMPORAL = Path(sys.executable).parent / "temporal"

MANIFEST = """\
version: v1
project:
  name: outside
  triggers:
    - name: sleep
      type: webhook
      call: program.py:sleeper
    - name: busy
      type: webhook
      call: program.py:busy
"""

PROGRAM = """\
import os
import time
import autokitteh as ak

PIDS = {pids!r}

@ak.activity
def hang():
    with open(PIDS, "w") as f:
        f.write(str(os.getpid()))
    time.sleep(600)

def sleeper(event):
    print("sleeping")
    time.sleep(600)
    print("woke")

def busy(event):
    print("busy")
    hang()
"""


def listening(pid: int) -> set[tuple[str, int]]:
    """The TCP (v4 and v6) addresses the process listens on, from /proc."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    found = set()
    for table, family in (("tcp", socket.AF_INET), ("tcp6", socket.AF_INET6)):
        for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] != "0A" or fields[9] not in inodes:  # 0A: LISTEN
                continue
            raw, port = fields[1].split(":")
            packed = bytes.fromhex(raw)
            # /proc prints each 32-bit word in host (little-endian) order.
            packed = b"".join(packed[i : i + 4][::-1] for i in range(0, len(packed), 4))
            found.add((socket.inet_ntop(family, packed), int(port, 16)))
    return found


def temporal_pid(akd: Akd) -> int:
    return int((akd.data_dir / "temporal.pid").read_text())


def test_dev_server_listens_on_loopback_only(akd_module: Akd) -> None:
    address = akd_module.info()["temporal_address"]
    assert address.startswith("127.0.0.1:"), address
    addresses = listening(temporal_pid(akd_module))
    assert ("127.0.0.1", int(address.rsplit(":", 1)[1])) in addresses, addresses
    # Its frontend and every other port it opens (HTTP API, metrics, internal services).
    assert {host for host, _ in addresses} == {"127.0.0.1"}, addresses


def terminate(akd: Akd, session_id: str) -> None:
    """What any local user can do: the real CLI against the address in daemon.json."""
    address = akd.info()["temporal_address"]
    res = subprocess.run(
        [str(TEMPORAL), "workflow", "terminate", "--address", address, "--workflow-id", session_id,
         "--reason", "done from outside"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr


def started(akd: Akd, url: str) -> str:
    event_id = httpx.post(url, timeout=10).headers["AutoKitteh-Event-ID"]
    return wait_for(lambda: (akd.api("GET", f"/events/{event_id}").json()["session_ids"] or [None])[0], 20)


def test_workflow_terminated_outside_akd_ends_its_session(akd_module: Akd, tmp_path: Path) -> None:
    pids = tmp_path / "runner.pid"
    root = write_project(tmp_path / "p", {"autokitteh.yaml": MANIFEST, "program.py": PROGRAM.format(pids=str(pids))})
    hooks = akd_module.deploy(root)["webhooks"]
    sleeping, busy = started(akd_module, hooks["sleep"]), started(akd_module, hooks["busy"])
    wait_for(lambda: akd_module.prints(sleeping) == ["sleeping"], 30, what="the durable sleep")
    runner = wait_for(lambda: pids.exists() and pids.read_text() and int(pids.read_text()), 30, what="the step")
    assert akd_module.session(sleeping)["state"] == akd_module.session(busy)["state"] == "running"

    for sid in (sleeping, busy):
        terminate(akd_module, sid)
    for sid in (sleeping, busy):
        ended = akd_module.wait_session(sid, timeout=30)
        assert ended["state"] == "stopped", ended
        assert "terminated outside akd" in ended["error"]["message"], ended
        records = akd_module.api("GET", f"/sessions/{sid}/log").json()["records"]
        assert any(r["kind"] == "stop" and r.get("workflow") == "terminated" for r in records), records
    # The busy session's runner (and the step it was in) is gone too.
    wait_for(lambda: not pid_alive(runner), 15, what=f"the runner {runner} to die")
    assert akd_module.prints(sleeping) == ["sleeping"]
    assert akd_module.api("GET", "/health").json()["status"] == "ok"


def start_dev(data_dir: Path) -> subprocess.Popen[bytes]:
    """A dev server on ``data_dir``'s database, started the way akd starts its own."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return subprocess.Popen(
        [str(TEMPORAL), "server", "start-dev", "--ip", "127.0.0.1", "--port", str(port), "--headless",
         "--log-level", "error", "--db-filename", str(data_dir / "temporal.db")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=data_dir,
    )  # fmt: skip


@pytest.fixture
def foreign_server(tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A dev server of another data dir (another akd's, say), on a loopback port."""
    other = tmp_path / "other"
    other.mkdir()
    proc = start_dev(other)
    try:
        yield proc
    finally:
        proc.kill()
        proc.wait(10)


def test_stale_pid_file_never_kills_another_data_dirs_server(
    tmp_path: Path, foreign_server: subprocess.Popen[bytes]
) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    # The pid file of a killed akd, naming a pid now taken by another akd's dev server.
    (data / "temporal.pid").write_text(str(foreign_server.pid))
    akd = Akd(data)
    akd.up()
    try:
        assert foreign_server.poll() is None, "akd killed another data dir's dev server"
        assert temporal_pid(akd) != foreign_server.pid
    finally:
        akd.down()


def test_stale_dev_server_of_the_same_data_dir_is_reaped(tmp_path: Path) -> None:
    data = tmp_path / "data"
    akd = Akd(data)
    akd.up()
    try:
        old = temporal_pid(akd)
        # An akd that dies without its server (here: stopped, the server kept alive)
        # leaves the server's pid in temporal.pid; the next akd must stop it.
        akd.akctl("down", timeout=60)
    finally:
        akd.down()
    assert not pid_alive(old)
    leftover = start_dev(data)
    try:
        (data / "temporal.pid").write_text(str(leftover.pid))
        akd.up()
        wait_for(lambda: leftover.poll() is not None, 15, what="the leftover server to be killed")
        assert [p for p in processes_matching(str(data / "temporal.db")) if p == leftover.pid] == []
    finally:
        leftover.kill()
        leftover.wait(10)
        akd.down()

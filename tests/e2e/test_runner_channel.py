"""The runner channel: nothing on the machine can reach it, and its fork server comes back.

The attack these reproduce (hardening issue, item 1): akd's runner socket used to be an
abstract Unix socket that any local user could find in /proc/net/unix and connect to;
the first peer to say "I am the fork server" received every runner spawn with its
one-time key, and with the key the session's decrypted env and event.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.harness import ROOT, Akd, children_of, pid_alive, wait_for, write_project

pytestmark = pytest.mark.e2e

MANIFEST = """\
version: v2
project:
  name: chan
  vars:
    - name: TOKEN
      value: hunter2-very-secret
      secret: true
  triggers:
    - name: hook
      type: webhook
      call: program.py:on_hook
"""

PROGRAM = """\
import os, time

def on_hook(event):
    time.sleep(float((event.data.body.json or {}).get("sleep", 0)))
    print("token ends", os.environ["TOKEN"][-6:])
"""

# The attacker: a process of another user that polls /proc/net/unix for listening
# Unix sockets of the akd under test (named after its pid, or a path in its data dir)
# from the moment it is launched, connects to each one it can and speaks the old
# fork-server hello, then records every byte it is sent.
ATTACKER = r"""
import json, os, socket, struct, sys, time
deadline = time.monotonic() + float(sys.argv[1])
data_dir = sys.argv[2]
def akd_pids():
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    if data_dir.encode() in f.read():
                        pids.append(entry)
            except OSError:
                pass
    return pids
def ours(name):
    return name.startswith(data_dir) or any(f"akd-{pid}-" in name for pid in akd_pids())
conns, seen, got = [], set(), bytearray()
def listening():
    names = []
    with open("/proc/net/unix") as f:
        next(f)
        for line in f:
            parts = line.split()
            if len(parts) >= 8 and int(parts[3], 16) & 0x10000:
                names.append(parts[7])
    return names
while time.monotonic() < deadline:
    for name in listening():
        if name in seen or not ours(name):
            continue
        seen.add(name)
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect("\0" + name[1:] if name.startswith("@") else name)
        except OSError:
            continue
        body = json.dumps({"op": "hello", "role": "forkserver", "pid": os.getpid(), "key": ""}).encode()
        s.sendall(struct.pack(">II", len(body), 0) + body)
        s.setblocking(False)
        conns.append(s)
    for s in conns:
        try:
            got += s.recv(65536)
        except BlockingIOError:
            pass
    time.sleep(0.001)
print(json.dumps({"sockets": sorted(seen), "connected": len(conns), "received": got.decode("latin-1")}))
"""


def _as_other_user() -> dict[str, object]:
    """Popen arguments that run the attacker as nobody when the tests run as root."""
    if os.getuid() != 0:
        return {}

    def drop() -> None:
        os.setgid(65534)
        os.setuid(65534)

    return {"preexec_fn": drop}


def _listening_unix_inodes() -> set[str]:
    inodes = set()
    with open("/proc/net/unix") as f:
        next(f)
        for line in f:
            parts = line.split()
            if len(parts) >= 7 and int(parts[3], 16) & 0x10000:
                inodes.add(parts[6])
    return inodes


def _socket_inodes(pid: int) -> set[str]:
    found = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            found.add(target[len("socket:[") : -1])
    return found


def _forkserver_of(akd_pid: int) -> int:
    for pid in children_of(akd_pid):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"akd.runner.forkserver" in cmd and pid_alive(pid):
            return pid
    return 0


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return write_project(tmp_path / "chan", {"autokitteh.yaml": MANIFEST, "program.py": PROGRAM})


@pytest.fixture
def akd(tmp_path: Path) -> Iterator[Akd]:
    d = Akd(tmp_path / "data")
    yield d
    d.down()


def _fire(akd: Akd, url: str, sleep: float = 0) -> str:
    resp = httpx.post(url, json={"sleep": sleep}, timeout=30)
    assert resp.status_code == 202, resp.text
    return resp.headers["AutoKitteh-Event-ID"]


def _session_of(akd: Akd, event_id: str) -> str:
    def find() -> str | None:
        ids = akd.api("GET", f"/events/{event_id}").json().get("session_ids") or []
        return ids[0] if ids else None

    return wait_for(find, 30, what=f"a session for {event_id}")


def test_a_local_user_racing_akd_at_start_gets_nothing(akd: Akd, project: Path) -> None:
    attacker = subprocess.Popen(
        [sys.executable, "-c", ATTACKER, "25", str(akd.data_dir)],
        cwd="/",
        stdout=subprocess.PIPE,
        **_as_other_user(),  # type: ignore[call-overload]
    )
    try:
        akd.up()
        hook = akd.deploy(project)["webhooks"]["hook"]
        for _ in range(3):
            sid = _session_of(akd, _fire(akd, hook))
            assert akd.wait_session(sid)["state"] == "completed"
            assert akd.prints(sid) == ["token ends secret"]
    finally:
        stdout, _ = attacker.communicate(timeout=60)
    seen = json.loads(stdout)
    assert seen == {"sockets": [], "connected": 0, "received": ""}, seen


def test_akd_and_its_fork_server_listen_on_no_unix_socket(akd: Akd, project: Path) -> None:
    akd.up()
    hook = akd.deploy(project)["webhooks"]["hook"]
    sid = _session_of(akd, _fire(akd, hook, sleep=3))
    wait_for(lambda: akd.session(sid)["state"] == "running", 30, what="the session to run")
    forkserver = wait_for(lambda: _forkserver_of(akd.pid), 10, what="the fork server")
    runners = [p for p in children_of(forkserver) if pid_alive(p)]
    listening = _listening_unix_inodes()
    for pid in [akd.pid, forkserver, *runners]:
        assert not (_socket_inodes(pid) & listening), f"pid {pid} holds a listening Unix socket"
    # No secret on any command line: a runner's is its fork server's ("--fd N").
    for pid in [forkserver, *runners]:
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        assert b"--fd" in cmd and not any(len(arg) >= 16 and arg.isalnum() for arg in cmd), cmd
    assert akd.wait_session(sid)["state"] == "completed"


def test_the_fork_server_is_restarted_when_it_dies(akd: Akd, project: Path) -> None:
    akd.up()
    hook = akd.deploy(project)["webhooks"]["hook"]
    first = wait_for(lambda: _forkserver_of(akd.pid), 10, what="the fork server")
    os.kill(first, signal.SIGKILL)
    # Sessions keep running while it is down (fresh interpreters) ...
    sid = _session_of(akd, _fire(akd, hook))
    assert akd.wait_session(sid)["state"] == "completed"
    # ... and a new fork server takes over within seconds.
    second = wait_for(lambda: (p := _forkserver_of(akd.pid)) and p != first and p, 30, what="a new fork server")
    sid = _session_of(akd, _fire(akd, hook, sleep=2))
    wait_for(lambda: akd.session(sid)["state"] == "running", 30, what="the session to run")
    wait_for(lambda: children_of(second), 10, what="a runner forked by the new fork server")
    assert akd.wait_session(sid)["state"] == "completed"
    assert akd.prints(sid) == ["token ends secret"]
    # The old one is reaped, not left as a zombie.
    assert not pid_alive(first)


def test_a_runner_started_without_the_fork_server_has_no_secret_on_argv(tmp_path: Path, project: Path) -> None:
    akd = Akd(tmp_path / "plain")
    akd.env["AKD_RUNNER_FORK_SERVER"] = "false"
    try:
        akd.up()
        assert not _forkserver_of(akd.pid)
        hook = akd.deploy(project)["webhooks"]["hook"]
        sid = _session_of(akd, _fire(akd, hook, sleep=3))
        wait_for(lambda: akd.session(sid)["state"] == "running", 30, what="the session to run")
        runners = wait_for(lambda: children_of(akd.pid) and [
            p for p in children_of(akd.pid) if b"akd.runner\0" in Path(f"/proc/{p}/cmdline").read_bytes()
        ], 10, what="the session's runner")  # fmt: skip
        cmd = Path(f"/proc/{runners[0]}/cmdline").read_bytes().split(b"\0")
        assert cmd[cmd.index(b"-m") + 1 :] == [b"akd.runner", b"--fd", cmd[cmd.index(b"--fd") + 1], b"--batch", b""]
        assert akd.wait_session(sid)["state"] == "completed"
        assert akd.prints(sid) == ["token ends secret"]
    finally:
        akd.down()


def test_the_runner_takes_no_address_on_its_command_line() -> None:
    # The old command line (socket address, session id, one-time key) is refused.
    res = subprocess.run(
        [sys.executable, "-m", "akd.runner", "@akd-1-abc", "ses_x", "0123456789abcdef"],
        capture_output=True, text=True, timeout=30, cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert res.returncode == 2 and "usage" in res.stderr

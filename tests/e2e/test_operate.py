"""Operate and observe (issue 6): session control, logs, watch, stats, listings."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.harness import AKCTL, Akd, wait_for, write_project

pytestmark = pytest.mark.e2e

MANIFEST = """\
version: v1
project:
  name: ops
  triggers:
    - name: ok
      type: webhook
      call: program.py:ok
    - name: fail
      type: webhook
      call: program.py:fail
    - name: sleepy
      type: webhook
      call: program.py:sleepy
    - name: busy
      type: webhook
      call: program.py:busy
    - name: slow_prints
      type: webhook
      call: program.py:slow_prints
    - name: every
      schedule: "@every 1h"
      call: program.py:ok
"""

PROGRAM = """\
import time
from autokitteh import activity

def ok(event):
    print("fine", event.data.body.text)
    time.time()
    return "ok"

def fail(event):
    raise RuntimeError("bad input")

def sleepy(event):
    print("sleeping")
    time.sleep(3600)

@activity
def spin():
    while True:
        pass

def busy(event):
    print("spinning")
    spin()

def slow_prints(event):
    for i in range(4):
        print("tick", i)
        time.sleep(1)

def many_prints(event):
    for i in range(event.data["count"]):
        print("line", i)
"""


@pytest.fixture(scope="module")
def ops(akd_module: Akd, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    root = write_project(tmp_path_factory.mktemp("ops"), {"autokitteh.yaml": MANIFEST, "program.py": PROGRAM})
    hooks: dict[str, str] = akd_module.deploy(root)["webhooks"]
    return hooks


def start(akd: Akd, url: str, body: bytes = b"") -> str:
    event_id = httpx.post(url, content=body, timeout=10).headers["AutoKitteh-Event-ID"]

    def found() -> str | None:
        ids = akd.api("GET", f"/events/{event_id}").json()["session_ids"]
        return ids[0] if ids else None

    return wait_for(found, 20)


def test_graceful_stop_of_a_sleeping_session(akd_module: Akd, ops: dict[str, str]) -> None:
    sid = start(akd_module, ops["sleepy"])
    wait_for(lambda: akd_module.prints(sid) == ["sleeping"], 20)
    res = akd_module.akctl("session", "stop", sid, "--reason", "not needed")
    assert res.returncode == 0, res.stderr
    assert "stopped" in res.stdout
    s = akd_module.wait_session(sid, timeout=10)
    assert s["state"] == "stopped" and s["error"]["message"] == "not needed"
    log = akd_module.akctl_json("session", "log", sid)
    kinds = [r["kind"] for r in log]
    assert "stop_request" in kinds and "stop" in kinds
    assert any(r["kind"] == "stop" and r["reason"] == "not needed" for r in log)
    again = akd_module.akctl("session", "stop", sid)
    assert again.returncode == 42 and "already ended" in again.stderr


def test_forced_stop_of_a_busy_session(akd_module: Akd, ops: dict[str, str]) -> None:
    sid = start(akd_module, ops["busy"])
    wait_for(lambda: akd_module.prints(sid) == ["spinning"], 20)
    res = akd_module.akctl("session", "stop", sid, "--force", "--delay", "1s", "--json")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["state"] == "stopped"
    assert akd_module.api("GET", "/health").json()["runners"] == 0 or wait_for(
        lambda: akd_module.api("GET", "/health").json()["runners"] == 0, 10
    )


def test_restart_and_delete(akd_module: Akd, ops: dict[str, str]) -> None:
    sid = start(akd_module, ops["ok"], b"first")
    assert akd_module.wait_session(sid)["state"] == "completed"
    res = akd_module.akctl_json("session", "restart", sid)
    new = res["session_id"]
    assert new != sid and res["restart_of"] == sid
    assert akd_module.wait_session(new)["entrypoint"] == "program.py:ok"
    assert akd_module.prints(new) == ["fine first"]  # same inputs (the same event data)
    human = akd_module.akctl("session", "delete", new, "--yes")
    assert human.returncode == 0 and new in human.stdout
    assert akd_module.akctl("session", "get", new).returncode == 44
    running = start(akd_module, ops["sleepy"])
    akd_module.wait_session(running, states=("running",))
    refused = akd_module.akctl("session", "delete", running, "--yes")
    assert refused.returncode == 42 and "stop it" in refused.stderr
    akd_module.akctl("session", "stop", running)


def test_watch_streams_prints_and_exits_by_outcome(akd_module: Akd, ops: dict[str, str]) -> None:
    sid = start(akd_module, ops["slow_prints"])
    proc = subprocess.Popen([*AKCTL, "session", "watch", sid, "--timeout", "60s"], env=akd_module.env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    assert proc.stdout is not None
    first = proc.stdout.readline()
    # The first print shows up while the session is still running.
    assert "tick 0" in first
    assert akd_module.session(sid)["state"] == "running"
    rest, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0 and "tick 3" in rest
    failing = start(akd_module, ops["fail"])
    res = akd_module.akctl("session", "watch", failing, "--timeout", "60s")
    assert res.returncode == 1 and "error" in res.stderr
    sleeping = start(akd_module, ops["sleepy"])
    res = akd_module.akctl("session", "watch", sleeping, "--end-state", "running", "--timeout", "60s")
    assert res.returncode == 0
    res = akd_module.akctl("session", "watch", sleeping, "--timeout", "1s")
    assert res.returncode == 1 and "timed out" in res.stderr
    akd_module.akctl("session", "stop", sleeping)


def test_log_and_download(akd_module: Akd, ops: dict[str, str], tmp_path: Path) -> None:
    sid = start(akd_module, ops["ok"], b"logged")
    akd_module.wait_session(sid)
    records = akd_module.akctl_json("session", "log", sid)
    assert [r["kind"] for r in records] == ["state", "state", "print", "step", "state"]
    assert records[3]["name"] == "time.time" and records[3]["ok"] is True and "duration" in records[3]
    desc = akd_module.akctl_json("session", "log", sid, "--order", "desc")
    assert desc == list(reversed(records))
    human = akd_module.akctl("session", "log", sid)
    assert "print  fine logged" in human.stdout and "step   #0 time.time() -> ok" in human.stdout
    out = tmp_path / "s.log"
    res = akd_module.akctl("session", "download-logs", sid, "-o", str(out))
    assert res.returncode == 0 and "fine logged" in out.read_text() and "completed" in out.read_text()


def test_stats_match_a_known_scenario(akd: Akd, tmp_path: Path) -> None:
    root = write_project(tmp_path / "p", {"autokitteh.yaml": MANIFEST, "program.py": PROGRAM})
    hooks = akd.deploy(root)["webhooks"]
    ok = [start(akd, hooks["ok"], str(i).encode()) for i in range(10)]
    bad = [start(akd, hooks["fail"]) for _ in range(3)]
    sleepy = [start(akd, hooks["sleepy"]) for _ in range(2)]
    for sid in ok + bad:
        akd.wait_session(sid)
    for sid in sleepy:
        akd.wait_session(sid, states=("running",))
        assert akd.akctl("session", "stop", sid).returncode == 0
    report: dict[str, Any] = akd.akctl_json("stats", "--project", "ops")
    total = report["total"]
    assert total["sessions"] == 15
    assert total["by_state"] == {"created": 0, "running": 0, "completed": 10, "error": 3, "stopped": 2}
    assert total["success_rate"] == pytest.approx(10 / 15) and total["failure_rate"] == pytest.approx(3 / 15)
    assert total["steps_per_session"] is not None
    durations = sorted(akd.session(s)["duration"] for s in ok + bad + sleepy)
    assert total["duration"]["max"] == pytest.approx(durations[-1], abs=1e-6)
    busiest = {b["trigger"]: b["sessions"] for b in report["busiest_triggers"]}
    assert busiest == {"ops/ok": 10, "ops/fail": 3, "ops/sleepy": 2}
    human = akd.akctl("stats", "--project", "ops", "--since", "1h")
    assert human.returncode == 0 and "ops/ok" in human.stdout and "66.7%" in human.stdout


def test_listings(akd_module: Akd, ops: dict[str, str]) -> None:
    sid = start(akd_module, ops["ok"], b"listed")
    akd_module.wait_session(sid)
    rows = akd_module.akctl_json("session", "list", "--project", "ops", "--state", "completed", "--limit", "5")
    assert 1 <= len(rows) <= 5 and all(r["state"] == "completed" and r["project"] == "ops" for r in rows)
    human = akd_module.akctl("session", "list", "--project", "ops", "--limit", "3")
    assert "SESSION" in human.stdout and "ago" in human.stdout
    events = akd_module.akctl_json("event", "list", "--project", "ops")
    assert any(sid in e["session_ids"] for e in events)
    triggers = {t["name"]: t for t in akd_module.akctl_json("trigger", "list", "--project", "ops")}
    assert triggers["ok"]["webhook_url"].startswith("http://127.0.0.1:")
    assert len(triggers["every"]["next_fire_times"]) == 3
    one = akd_module.akctl_json("trigger", "get", "every", "--project", "ops")
    assert one["schedule"] == "@every 1h" and one["type"] == "schedule"
    human = akd_module.akctl("trigger", "list", "--project", "ops")
    assert "next:" in human.stdout and "@every 1h" in human.stdout


def test_help_has_examples() -> None:
    for args in (["--help"], ["session", "stop", "--help"], ["stats", "--help"], ["event", "dispatch", "--help"]):
        res = subprocess.run([*AKCTL, *args], capture_output=True, text=True, timeout=30)
        assert res.returncode == 0 and ("Example" in res.stdout or "Quick start" in res.stdout), args
    res = subprocess.run([*AKCTL, "completion", "bash"], capture_output=True, text=True, timeout=30)
    assert res.returncode == 0 and "_AKCTL_COMPLETE=bash_complete" in res.stdout


def test_temporal_ui_link(tmp_path: Path) -> None:
    from akd.procs import free_port

    port = free_port()
    daemon = Akd(tmp_path / "data")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "akd.toml").write_text(f"[temporal]\nui_port = {port}\n")
    daemon.up()
    try:
        root = write_project(tmp_path / "p", {"autokitteh.yaml": MANIFEST, "program.py": PROGRAM})
        sid = start(daemon, daemon.deploy(root)["webhooks"]["ok"])
        daemon.wait_session(sid)
        link = daemon.akctl_json("session", "get", sid)["temporal_ui_url"]
        assert link == f"http://127.0.0.1:{port}/namespaces/default/workflows/{sid}"
        assert link in daemon.akctl("session", "get", sid).stdout
        page = wait_for(lambda: _get_ok(f"http://127.0.0.1:{port}/"), 30, what="the Temporal UI")
        assert page.status_code == 200
    finally:
        daemon.down()


def _get_ok(url: str) -> httpx.Response | None:
    try:
        resp = httpx.get(url, timeout=5)
    except httpx.HTTPError:
        return None
    return resp if resp.status_code == 200 else None


def test_ui_login_link(akd_module: Akd) -> None:
    url = akd_module.akctl("ui").stdout.strip()
    assert url.startswith(akd_module.url + "/login?ticket=")
    with httpx.Client(timeout=10, follow_redirects=True) as client:
        assert client.get(url).status_code == 200
        assert "akd_ui" in client.cookies
        again = httpx.get(url, timeout=10)  # a ticket works once
        assert "akd_ui" not in again.cookies
    assert akd_module.akctl_json("ui")["url"].startswith(akd_module.url)


def test_prints_of_a_long_session_page_through_in_order_and_tail(akd_module: Akd, ops: dict[str, str]) -> None:
    """More lines than two of akctl's pages: every line once, in order; --tail gives the last N."""
    count = 12_345
    started = akd_module.akctl_json(
        "session", "start", "--project", "ops", "--entrypoint", "program.py:many_prints", "--input", f"count={count}"
    )
    sid = started["session_id"]
    assert akd_module.wait_session(sid, timeout=120)["state"] == "completed"
    res = akd_module.akctl("session", "prints", sid, "--no-timestamps")
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines() == [f"line {i}" for i in range(count)]
    as_json = akd_module.akctl_json("session", "prints", sid)
    assert [p["text"] for p in as_json] == [f"line {i}" for i in range(count)]
    tail = akd_module.akctl("session", "prints", sid, "--tail", "3")
    assert tail.returncode == 0, tail.stderr
    lines = tail.stdout.splitlines()
    assert [line.split(" ", 2)[2] for line in lines] == [f"line {i}" for i in range(count - 3, count)], lines
    tail_json = akd_module.akctl_json("session", "prints", sid, "-n", "2")
    assert [p["text"] for p in tail_json] == [f"line {count - 2}", f"line {count - 1}"]
    bad = akd_module.akctl("session", "prints", sid, "--tail", "0")
    assert bad.returncode != 0 and "--tail" in bad.stderr

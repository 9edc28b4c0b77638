"""Operate without surprises: stop, follow, deactivate, confirmations, down, outcomes."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.harness import AKCTL, Akd, wait_for, write_project

pytestmark = pytest.mark.e2e

MANIFEST = """\
version: v1
project:
  name: {name}
  triggers:
    - name: spin_durable
      type: webhook
      call: program.py:spin
    - name: spin_plain
      type: webhook
      call: program.py:spin
      is_durable: false
    - name: busy
      type: webhook
      call: program.py:busy
    - name: nap_plain
      type: webhook
      call: program.py:nap
      is_durable: false
    - name: fail
      type: webhook
      call: program.py:fail
    - name: ok
      type: webhook
      call: program.py:ok
"""

PROGRAM = """\
import time
from autokitteh import activity

def spin(event):
    print("spinning")
    while True:
        sum(range(1000))

@activity
def spin_step():
    while True:
        pass

def busy(event):
    print("spinning")
    spin_step()

def nap(event):
    print("spinning")
    time.sleep(3600)

def fail(event):
    raise ValueError("bad input")

def ok(event):
    return "fine"

def many_prints(event):
    for i in range(event.data["count"]):
        print("line", i)
"""


def deploy(akd: Akd, root: Path, name: str) -> dict[str, str]:
    files = {"autokitteh.yaml": MANIFEST.format(name=name), "program.py": PROGRAM}
    hooks: dict[str, str] = akd.deploy(write_project(root, files))["webhooks"]
    return hooks


@pytest.fixture(scope="module")
def ops(akd_module: Akd, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return deploy(akd_module, tmp_path_factory.mktemp("opc"), "opc")


def start(akd: Akd, url: str, body: bytes = b"") -> str:
    event_id = httpx.post(url, content=body, timeout=10).headers["AutoKitteh-Event-ID"]

    def found() -> str | None:
        ids = akd.api("GET", f"/events/{event_id}").json()["session_ids"]
        return ids[0] if ids else None

    return wait_for(found, 20)


@pytest.mark.parametrize("trigger", ["spin_durable", "spin_plain", "busy", "nap_plain"])
def test_graceful_stop_ends_a_session_running_code(akd_module: Akd, ops: dict[str, str], trigger: str) -> None:
    """Code in flight (a loop, a journaled step, a blocking sleep) is stopped by akd itself:
    state ``stopped`` with the reason, the duration up to the stop, no runner left."""
    sid = start(akd_module, ops[trigger])
    wait_for(lambda: akd_module.prints(sid) == ["spinning"], 20)
    requested = time.time()
    res = akd_module.akctl("session", "stop", sid, "--reason", "enough", "--json", timeout=60)
    assert res.returncode == 0, res.stderr
    final = json.loads(res.stdout)
    assert final["state"] == "stopped", final
    assert final["error"] == {"type": "Stopped", "message": "enough", "traceback": ""}
    log = akd_module.akctl_json("session", "log", sid)
    assert [r["reason"] for r in log if r["kind"] == "stop"] == ["enough"]
    assert not any(r["kind"] == "stop" and "workflow" in r for r in log)  # not settled by reconcile
    # The run lasted from its start to the stop request, plus the stop itself (generous).
    ran = requested - _epoch(final["started_at"])
    assert ran - 1 <= final["duration"] <= ran + 5, (ran, final["duration"])
    wait_for(lambda: akd_module.api("GET", "/health").json()["runners"] == 0, 15, what="the runner to go")


def _epoch(stamp: str) -> float:
    import datetime

    return datetime.datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def test_the_web_ui_stop_of_a_running_session(akd_module: Akd, ops: dict[str, str]) -> None:
    sid = start(akd_module, ops["spin_plain"])
    wait_for(lambda: akd_module.prints(sid) == ["spinning"], 20)
    headers = {"Authorization": f"Bearer {akd_module.token}"}
    res = httpx.post(f"{akd_module.url}/sessions/{sid}/stop", headers=headers, timeout=30)
    assert res.status_code == 303 and res.headers["location"].startswith(f"/sessions/{sid}")
    s = akd_module.wait_session(sid, timeout=20)
    assert s["state"] == "stopped"
    assert s["error"] == {"type": "Stopped", "message": "stopped from the web UI", "traceback": ""}
    log = akd_module.akctl_json("session", "log", sid)
    assert [r.get("forced", False) for r in log if r["kind"] == "stop"] == [False]  # graceful, not --force


def test_following_a_fast_printer_live_loses_no_line(akd_module: Akd, ops: dict[str, str]) -> None:
    """``session prints --follow`` and ``session watch``, started while 20,000 lines are being
    printed, show every line once and in order."""
    count = 20_000
    sid = akd_module.akctl_json(
        "session", "start", "--project", "opc", "--entrypoint", "program.py:many_prints", "--input", f"count={count}"
    )["session_id"]
    popen = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True, "env": akd_module.env}
    follow = subprocess.Popen([*AKCTL, "session", "prints", sid, "--follow", "--no-timestamps"], **popen)  # type: ignore[call-overload]
    watch = subprocess.Popen([*AKCTL, "session", "watch", sid, "--timeout", "120s"], **popen)  # type: ignore[call-overload]
    followed, ferr = follow.communicate(timeout=180)
    watched, werr = watch.communicate(timeout=180)
    assert akd_module.session(sid)["state"] == "completed"
    expected = [f"line {i}" for i in range(count)]
    assert (follow.returncode, watch.returncode) == (0, 0), (ferr, werr)
    lines, texts = followed.splitlines(), [line.split(" ", 2)[2] for line in watched.splitlines()]
    assert (len(lines), len(texts)) == (count, count)
    assert lines == expected and texts == expected


SCHEDULED = """\
version: v1
project:
  name: ticking
  triggers:
    - name: often
      schedule: "@every 2s"
      call: program.py:ok
    - name: hourly
      schedule: "0 * * * *"
      call: program.py:ok
"""


def test_deactivation_pauses_schedules_and_activation_resumes_them(akd_module: Akd, tmp_path: Path) -> None:
    root = write_project(tmp_path / "p", {"autokitteh.yaml": SCHEDULED, "program.py": PROGRAM})
    dep = akd_module.deploy(root)["deployment_id"]

    def ticks() -> int:
        return len(akd_module.akctl_json("event", "list", "--project", "ticking", "--limit", "1000"))

    def next_fires() -> list[str]:
        fires: list[str] = akd_module.akctl_json("trigger", "get", "often", "--project", "ticking")["next_fire_times"]
        return fires

    wait_for(lambda: ticks() >= 1, 30, what="a first tick")
    assert akd_module.akctl("deployment", "deactivate", dep).returncode == 0
    assert next_fires() == []
    hourly = akd_module.akctl_json("trigger", "get", "hourly", "--project", "ticking")  # cron: computed by akd
    assert hourly["next_fire_times"] == [] and hourly["paused"] is True
    before = ticks()
    time.sleep(6)  # three periods of the schedule: a live one would have stored three ticks
    assert ticks() == before
    assert akd_module.akctl("deployment", "activate", dep).returncode == 0
    assert len(next_fires()) == 3
    hourly = akd_module.akctl_json("trigger", "get", "hourly", "--project", "ticking")
    assert len(hourly["next_fire_times"]) == 3 and hourly["paused"] is False
    wait_for(lambda: ticks() > before, 30, what="ticks again after activation")


def test_destructive_commands_need_yes_when_nobody_can_answer(akd_module: Akd, tmp_path: Path) -> None:
    ak = akd_module
    sid = start(ak, deploy(ak, tmp_path / "p", "keep")["ok"])
    assert ak.wait_session(sid)["state"] == "completed"
    assert ak.akctl("store", "set", "k", "1", "--project", "keep").returncode == 0
    assert ak.akctl("var", "set", "V", "x", "--project", "keep").returncode == 0
    dep = ak.akctl_json("deployment", "list", "--project", "keep")[0]["deployment_id"]
    refusals = {
        "project": ak.akctl("project", "delete", "keep"),
        "project --json": ak.akctl("project", "delete", "keep", "--json"),
        "deployment": ak.akctl("deployment", "delete", dep),
        "session": ak.akctl("session", "delete", sid),
        "var": ak.akctl("var", "delete", "V", "--project", "keep"),
    }
    for what, res in refusals.items():
        assert res.returncode == 40 and "add --yes" in res.stderr, (what, res.returncode, res.stderr)
    assert "1 session, 1 event, 1 store key" in refusals["project"].stderr
    counts = ak.api("GET", "/projects/keep").json()["counts"]
    assert counts == {"sessions": 1, "events": 1, "store_keys": 1}
    assert ak.akctl("project", "get", "keep").returncode == 0
    assert ak.akctl("session", "get", sid).returncode == 0
    assert ak.akctl_json("var", "get", "V", "--project", "keep")["value"] == "x"
    assert ak.akctl("session", "delete", sid, "--yes").returncode == 0
    assert ak.akctl("project", "delete", "keep", "--yes").returncode == 0
    assert ak.akctl("project", "get", "keep").returncode == 44


def test_the_workflow_outcome_matches_the_session_state(akd_module: Akd, ops: dict[str, str]) -> None:
    """In Temporal: error -> Failed (ApplicationError with the session's error, non-retryable),
    stopped -> Canceled, completed -> Completed; akd's own states are unchanged."""
    import asyncio

    from temporalio.client import Client, WorkflowExecutionStatus, WorkflowFailureError
    from temporalio.exceptions import ApplicationError

    failed, done = start(akd_module, ops["fail"]), start(akd_module, ops["ok"])
    stopped = start(akd_module, ops["spin_plain"])
    wait_for(lambda: akd_module.prints(stopped) == ["spinning"], 20)
    assert akd_module.akctl("session", "stop", stopped).returncode == 0
    assert akd_module.wait_session(failed)["state"] == "error"
    assert akd_module.wait_session(done)["state"] == "completed"

    async def outcomes() -> dict[str, Any]:
        client = await Client.connect(akd_module.info()["temporal_address"])
        seen: dict[str, Any] = {}
        for sid in (failed, done, stopped):
            handle = client.get_workflow_handle(sid)
            for _ in range(100):
                desc = await handle.describe()
                if desc.status != WorkflowExecutionStatus.RUNNING:
                    break
                await asyncio.sleep(0.1)
            seen[sid] = desc.status
        try:
            await client.get_workflow_handle(failed).result()
        except WorkflowFailureError as exc:
            seen["cause"] = exc.cause
        return seen

    seen = asyncio.run(outcomes())
    assert seen[done] == WorkflowExecutionStatus.COMPLETED
    assert seen[stopped] == WorkflowExecutionStatus.CANCELED
    assert seen[failed] == WorkflowExecutionStatus.FAILED
    cause = seen["cause"]
    assert isinstance(cause, ApplicationError) and cause.non_retryable
    assert (cause.type, cause.message) == ("ValueError", "bad input")
    time.sleep(4)  # past a sweep of the reconciler, which lists failed workflows
    s = akd_module.session(failed)
    assert s["state"] == "error" and s["error"]["type"] == "ValueError" and "bad input" in s["error"]["message"]

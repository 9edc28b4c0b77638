"""Recovery and debugging on a real daemon: rerun a durable session from a step (the
replayed steps' side effects do not happen again), end a durable sleep early, fire a
schedule trigger now; and the errors for what cannot be done."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.harness import Akd, wait_for, write_project

PROGRAM = """\
import os
import time

import autokitteh


@autokitteh.activity
def record(i):
    with open(os.environ["SIDE_FILE"], "a") as f:  # the side effect a rerun must not repeat
        f.write(f"{i}\\n")
    return i * 10


def run(event):
    for i in range(5):
        n = record(i)
        print(f"step {i} -> {n}")
    return "done"


def nap(event):
    print("going to sleep")
    time.sleep(3600)
    print("awake")
    return "rested"


def tick(event):
    print(f"tick {event.event_type}")


def waiter(event):
    got = autokitteh.next_signal("approve", timeout=600)
    print(f"signal {got.name} {got.payload}")
    return got.payload
"""

MANIFEST = """\
version: v1
project:
  name: dbg
  vars:
    - name: SIDE_FILE
      value: {side}
  triggers:
    - name: go
      type: webhook
      call: program.py:run
    - name: sleepy
      type: webhook
      call: program.py:nap
    - name: hourly
      schedule: "@every 1h"
      call: program.py:tick
    - name: plain
      type: webhook
      is_durable: false
      call: program.py:run
    - name: waits
      type: webhook
      call: program.py:waiter
"""


@pytest.fixture(scope="module")
def project(akd_module: Akd, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, str], Path]:
    root = tmp_path_factory.mktemp("dbg")
    side = root / "side.txt"
    write_project(root / "proj", {"autokitteh.yaml": MANIFEST.format(side=side), "program.py": PROGRAM})
    hooks: dict[str, str] = akd_module.deploy(root / "proj")["webhooks"]
    return hooks, side


def _run(akd: Akd, url: str) -> str:
    event = httpx.post(url, timeout=10).headers["AutoKitteh-Event-ID"]
    sid: str = wait_for(lambda: akd.api("GET", f"/events/{event}").json().get("session_ids"), 30)[0]
    return sid


def _effects(side: Path) -> list[int]:
    return [int(line) for line in side.read_text().split()] if side.exists() else []


def test_rerun_from_a_step_replays_before_it_and_runs_live_after(
    akd_module: Akd, project: tuple[dict[str, str], Path], tmp_path: Path
) -> None:
    hooks, side = project
    sid = _run(akd_module, hooks["go"])
    assert akd_module.wait_session(sid)["state"] == "completed"
    assert _effects(side) == [0, 1, 2, 3, 4]

    res = akd_module.akctl_json("session", "rerun", sid, "--from-step", "3")
    assert res["rerun_of"] == sid and res["from_step"] == 3
    new = akd_module.wait_session(res["session_id"], timeout=60)
    assert new["state"] == "completed" and new["return_value"] == "done"
    assert new["restart_of"] == sid
    assert _effects(side) == [0, 1, 2, 3, 4, 3, 4]  # steps 0-2 replayed, 3 and 4 ran again
    assert akd_module.prints(new["session_id"]) == [f"step {i} -> {i * 10}" for i in range(5)]
    log = akd_module.api("GET", f"/sessions/{new['session_id']}/log").json()["records"]
    assert [r["seq"] for r in log if r["kind"] == "step"] == [0, 1, 2, 3, 4]
    assert any(r["kind"] == "rerun" and r["of"] == sid and r["from_step"] == 3 for r in log)

    # A replaced result: step 2 returns 999 in the new session, which is live from step 3.
    edited = tmp_path / "result.json"
    edited.write_text(json.dumps(999))
    res = akd_module.akctl_json("session", "rerun", sid, "--from-step", "2", "--edit-result", str(edited))
    again = akd_module.wait_session(res["session_id"], timeout=60)
    assert again["state"] == "completed"
    assert akd_module.prints(again["session_id"])[2] == "step 2 -> 999"
    assert _effects(side) == [0, 1, 2, 3, 4, 3, 4, 3, 4]


def test_rerun_refuses_what_it_cannot_do(akd_module: Akd, project: tuple[dict[str, str], Path]) -> None:
    hooks, _ = project
    sid = _run(akd_module, hooks["go"])
    akd_module.wait_session(sid)
    plain = _run(akd_module, hooks["plain"])
    akd_module.wait_session(plain)
    before = len(akd_module.sessions(project="dbg", limit=200))
    beyond = akd_module.akctl("session", "rerun", sid, "--from-step", "9")
    assert beyond.returncode == 40 and "between 0 and 5" in beyond.stderr, beyond.stderr
    refused = akd_module.akctl("session", "rerun", plain, "--from-step", "0")
    assert refused.returncode == 42 and "not durable" in refused.stderr and "session restart" in refused.stderr
    assert len(akd_module.sessions(project="dbg", limit=200)) == before  # the refusals started nothing


def test_wake_ends_a_durable_sleep_now(akd_module: Akd, project: tuple[dict[str, str], Path]) -> None:
    hooks, _ = project
    sid = _run(akd_module, hooks["sleepy"])
    wait_for(lambda: akd_module.prints(sid) == ["going to sleep"], 30, what="the session to sleep")
    wait_for(lambda: any(r["kind"] == "sleep" for r in akd_module.api("GET", f"/sessions/{sid}/log").json()["records"]),
             30, what="the sleep to be journaled")  # fmt: skip
    woke = akd_module.akctl("session", "wake", sid)
    assert woke.returncode == 0, woke.stderr
    session = akd_module.wait_session(sid, timeout=60)
    assert session["state"] == "completed" and session["return_value"] == "rested"
    assert akd_module.prints(sid) == ["going to sleep", "awake"]
    log = akd_module.api("GET", f"/sessions/{sid}/log").json()["records"]
    assert any(r["kind"] == "wake" for r in log)
    again = akd_module.akctl("session", "wake", sid)
    assert again.returncode == 42 and "completed" in again.stderr


def test_fire_runs_a_schedule_now(akd_module: Akd, project: tuple[dict[str, str], Path]) -> None:
    assert akd_module.akctl_json("trigger", "fire", "dbg/hourly")["fired"] is True
    wait_for(lambda: [s for s in akd_module.sessions(project="dbg", limit=200) if s["entrypoint"] == "program.py:tick"],
             30, what="the first tick's session")  # fmt: skip
    # Two more fires a few milliseconds apart (Temporal names a schedule's own runs by the
    # second) are two more ticks, two more sessions.
    for _ in range(2):
        assert akd_module.api("POST", "/projects/dbg/triggers/hourly/fire").status_code == 202

    def tick_sessions() -> list[dict[str, Any]]:
        found = [s for s in akd_module.sessions(project="dbg", limit=200) if s["entrypoint"] == "program.py:tick"]
        return found if len(found) >= 3 else []

    ticks = wait_for(tick_sessions, 30, what="the three ticks' sessions")
    assert len(ticks) == 3 and len({t["event_id"] for t in ticks}) == 3, ticks
    for tick in ticks:
        assert akd_module.wait_session(tick["session_id"])["state"] == "completed"
        assert akd_module.prints(tick["session_id"]) == ["tick tick"]
    wrong = akd_module.akctl("trigger", "fire", "dbg/go")
    assert wrong.returncode == 40 and "only schedule triggers" in wrong.stderr
    missing = akd_module.akctl("trigger", "fire", "dbg/nope")
    assert missing.returncode == 44


def test_signal_reaches_a_waiting_session(akd_module: Akd, project: tuple[dict[str, str], Path]) -> None:
    hooks, _ = project
    sid = _run(akd_module, hooks["waits"])
    wait_for(lambda: akd_module.session(sid)["state"] == "running", 30, what="the session to run")
    bad = akd_module.akctl("session", "signal", sid, "approve", "--payload", "{not json")
    assert bad.returncode == 40 and "not JSON" in bad.stderr
    sent = akd_module.akctl_json("session", "signal", sid, "approve", "--payload", '{"by": "ada"}')
    assert sent == {"session_id": sid, "name": "approve", "delivered": True}
    session = akd_module.wait_session(sid, timeout=60)
    assert session["state"] == "completed" and session["return_value"] == {"by": "ada"}
    assert akd_module.prints(sid) == ["signal approve {'by': 'ada'}"]
    late = akd_module.akctl("session", "signal", sid, "approve")
    assert late.returncode == 42 and "completed" in late.stderr

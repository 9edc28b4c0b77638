"""Honest restarts: a session akd runs again after a restart says so (runtime issue, item 7).

A non-durable session interrupted by `akctl down` runs from the top after `akctl up`:
it gets a new attempt, a log record with the reason, and the prints of both attempts.
A durable session resumed by replay gets a record of the replay and of akd's downtime.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.e2e.harness import Akd, wait_for, write_project

pytestmark = pytest.mark.e2e

MANIFEST = """\
version: {version}
project:
  name: {name}
  triggers:
    - name: go
      type: webhook
      call: program.py:run
"""

PLAIN = """\
import time

def run(event):
    print("start")
    time.sleep(3)
    print("end")
"""

DURABLE = """\
import time

def run(event):
    print("before", int(time.time()) > 0)
    time.sleep(5)
    print("after")
"""


def _start(akd: Akd, project: Path) -> str:
    url = akd.deploy(project)["webhooks"]["go"]
    event = httpx.post(url, json={}, timeout=10).headers["AutoKitteh-Event-ID"]
    return wait_for(lambda: akd.api("GET", f"/events/{event}").json().get("session_ids"), 30)[0]


def _restart(akd: Akd) -> None:
    res = akd.akctl("down", timeout=60)
    assert res.returncode == 0, res.stderr
    akd.up()


def _log(akd: Akd, sid: str) -> list[dict[str, object]]:
    data = akd.api("GET", f"/sessions/{sid}/log").json()
    records: list[dict[str, object]] = data["records"] if isinstance(data, dict) else data
    return records


def test_a_non_durable_session_run_again_after_a_restart_says_so(akd: Akd, tmp_path: Path) -> None:
    project = write_project(tmp_path / "p", {"autokitteh.yaml": MANIFEST.format(version="v2", name="plainre"),
                                             "program.py": PLAIN})  # fmt: skip
    sid = _start(akd, project)
    wait_for(lambda: akd.prints(sid) == ["start"], 30, what="the first print")
    _restart(akd)
    done = akd.wait_session(sid, timeout=60)
    assert done["state"] == "completed", done
    # Both attempts' prints are kept (the second run's "start" is not a duplicate).
    assert akd.prints(sid) == ["start", "start", "end"]
    assert done["attempt"] == 2
    restarts = [r for r in _log(akd, sid) if r["kind"] == "restart"]
    assert len(restarts) == 1 and restarts[0]["attempt"] == 2, restarts
    assert "akd restarted while it ran" in str(restarts[0]["why"]) and "from the top" in str(restarts[0]["why"])
    shown = akd.akctl("session", "get", sid)
    assert "attempt" in shown.stdout and "2" in shown.stdout, shown.stdout
    logged = akd.akctl("session", "log", sid)
    assert "restart  attempt 2: akd restarted while it ran" in logged.stdout, logged.stdout
    page = httpx.get(f"{akd.url}/sessions/{sid}", headers={"Authorization": f"Bearer {akd.token}"}, timeout=10)
    assert 'id="attempt"' in page.text and "attempt 2" in page.text


def test_a_durable_session_resumed_after_a_restart_logs_the_replay_and_the_downtime(akd: Akd, tmp_path: Path) -> None:
    project = write_project(tmp_path / "p", {"autokitteh.yaml": MANIFEST.format(version="v1", name="durre"),
                                             "program.py": DURABLE})  # fmt: skip
    sid = _start(akd, project)
    wait_for(lambda: akd.prints(sid) == ["before True"], 30, what="the first print")
    _restart(akd)
    done = akd.wait_session(sid, timeout=60)
    assert done["state"] == "completed", done
    assert akd.prints(sid) == ["before True", "after"]
    assert done["attempt"] == 1  # replayed, not run again
    resumes = [r for r in _log(akd, sid) if r["kind"] == "resume"]
    assert len(resumes) == 1, resumes
    assert int(str(resumes[0]["steps"])) >= 2  # the clock read and the sleep were replayed
    down_from, down_to = float(str(resumes[0]["down_from"])), float(str(resumes[0]["down_to"]))
    assert 0 < down_from <= down_to
    logged = akd.akctl("session", "log", sid)
    assert "resume  after a restart of akd: replayed" in logged.stdout and "akd was down" in logged.stdout

"""Trigger flow control (issue 18 item 6) and skip reasons (issue 17 item 12), end to end.

One real akd for the module: concurrency queues (in order, per key), debounce, dedupe and
rate limits, the reason each skipped event started nothing, and queued sessions that
survive ``kill -9`` (that test restarts the module's daemon).

Held sessions wait for a release file the test writes, so what runs and what queues is
observed, never timed.
"""

from __future__ import annotations

import itertools
import json
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.harness import AKCTL, ROOT, Akd, wait_for, write_project

pytestmark = pytest.mark.e2e

MANIFEST = """\
version: v2
project:
  name: flowq
  triggers:
    - name: serial
      type: webhook
      call: program.py:hold
      concurrency: {limit: 1}
    - name: per_user
      type: webhook
      call: program.py:hold
      concurrency: {limit: 1, key: data.body.json.user}
    - name: burst
      type: webhook
      call: program.py:note
      debounce: {period: 3s, key: data.body.json.user}
    - name: once
      type: webhook
      call: program.py:note
      dedupe: {key: data.body.json.id, for: 1h}
    - name: limited
      type: webhook
      call: program.py:note
      rate_limit: {limit: 2, period: 1h}
    - name: posts_only
      type: webhook
      event_type: post
      call: program.py:note
    - name: filtered
      type: webhook
      filter: data.body.json.ok == true
      call: program.py:note
"""

PROGRAM = """\
import time
from pathlib import Path


def hold(event):
    body = event.data.body.json
    where = Path(body["dir"])
    with open(where / "order.txt", "a") as f:
        f.write(f"{body['n']}\\n")
    print("start", body["n"])
    deadline = time.time() + 120
    while not (where / f"release-{body['n']}").exists() and time.time() < deadline:
        time.sleep(0.05)
    print("end", body["n"])


def note(event):
    print("got", event.data.body.json["n"])
"""

NODEP = """\
version: v2
project:
  name: flownodep
  triggers:
    - name: idle
      type: webhook
      call: program.py:note
"""


@pytest.fixture(scope="module")
def hooks(akd_module: Akd, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("flow")
    project = write_project(root / "flowq", {"autokitteh.yaml": MANIFEST, "program.py": PROGRAM})
    webhooks: dict[str, str] = akd_module.deploy(project)["webhooks"]
    return webhooks


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("held")


def _post(url: str, body: dict[str, Any]) -> str:
    res = httpx.post(url, json=body, timeout=30)
    assert res.status_code == 202, res.text
    return res.headers["AutoKitteh-Event-ID"]


def _event(akd: Akd, event_id: str) -> dict[str, Any]:
    """The event once dispatched (or skipped)."""

    def settled() -> dict[str, Any] | None:
        ev: dict[str, Any] = akd.api("GET", f"/events/{event_id}").json()
        return ev if ev["state"] != "pending" else None

    return wait_for(settled, 30, what=f"event {event_id} to be dispatched")


def _session_of(akd: Akd, event_id: str) -> str:
    ids = wait_for(lambda: akd.api("GET", f"/events/{event_id}").json()["session_ids"], 30, what="its session")
    assert len(ids) == 1, ids
    return str(ids[0])


def _state(akd: Akd, sid: str, state: str, timeout: float = 30) -> dict[str, Any]:
    return akd.wait_session(sid, (state,), timeout=timeout)


def _held(akd: Akd, url: str, work: Path, n: int, **extra: Any) -> str:
    return _session_of(akd, _post(url, {"n": n, "dir": str(work), **extra}))


def _release(work: Path, *numbers: int) -> None:
    for n in numbers:
        (work / f"release-{n}").write_text("go")


def _order(work: Path) -> list[int]:
    path = work / "order.txt"
    return [int(line) for line in path.read_text().split()] if path.exists() else []


def test_a_limit_of_one_runs_one_session_and_queues_the_rest_in_order(
    akd_module: Akd, hooks: dict[str, str], work: Path
) -> None:
    akd = akd_module
    first = _held(akd, hooks["serial"], work, 1)
    _state(akd, first, "running")
    second, third = _held(akd, hooks["serial"], work, 2), _held(akd, hooks["serial"], work, 3)
    assert akd.session(second)["state"] == "queued" and akd.session(third)["state"] == "queued"
    listed = {s["session_id"]: s["state"] for s in akd.akctl_json("session", "list", "-p", "flowq")}
    assert listed[second] == listed[third] == "queued", listed
    assert "queued" in akd.akctl("session", "list", "-p", "flowq").stdout
    assert akd.session(first)["state"] == "running"

    _release(work, 1)
    _state(akd, second, "running")
    assert akd.session(third)["state"] == "queued"  # still one at a time
    _release(work, 2, 3)
    for sid in (first, second, third):
        assert akd.wait_session(sid)["state"] == "completed"
    assert _order(work) == [1, 2, 3]
    assert akd.prints(third) == ["start 3", "end 3"]


def test_a_queued_session_can_be_stopped_and_never_runs(akd_module: Akd, hooks: dict[str, str], work: Path) -> None:
    akd = akd_module
    holder = _held(akd, hooks["serial"], work, 7)
    _state(akd, holder, "running")
    waiting = _held(akd, hooks["serial"], work, 8)
    assert akd.session(waiting)["state"] == "queued"
    res = akd.akctl("session", "stop", waiting, "--reason", "not needed")
    assert res.returncode == 0, res.stderr
    assert akd.wait_session(waiting)["state"] == "stopped"
    _release(work, 7, 8)
    assert akd.wait_session(holder)["state"] == "completed"
    after = _held(akd, hooks["serial"], work, 9)  # the slot is free again; 8 stays stopped
    _release(work, 9)
    assert akd.wait_session(after)["state"] == "completed"
    assert akd.session(waiting)["state"] == "stopped" and akd.prints(waiting) == []
    assert 8 not in _order(work)


def test_a_concurrency_key_runs_each_key_value_in_parallel(akd_module: Akd, hooks: dict[str, str], work: Path) -> None:
    akd = akd_module
    alice = _held(akd, hooks["per_user"], work, 11, user="alice")
    bob = _held(akd, hooks["per_user"], work, 12, user="bob")
    _state(akd, alice, "running")
    _state(akd, bob, "running")  # another key value: a slot of its own
    alice_again = _held(akd, hooks["per_user"], work, 13, user="alice")
    assert akd.session(alice_again)["state"] == "queued"
    _release(work, 11)
    _state(akd, alice_again, "running")
    _release(work, 12, 13)
    for sid in (alice, bob, alice_again):
        assert akd.wait_session(sid)["state"] == "completed"


def test_debounce_starts_one_session_with_the_last_event_of_a_burst(akd_module: Akd, hooks: dict[str, str]) -> None:
    akd = akd_module
    burst = [_post(hooks["burst"], {"n": n, "user": "u"}) for n in (21, 22, 23)]
    other = _post(hooks["burst"], {"n": 24, "user": "v"})  # another key: its own burst
    last = _session_of(akd, burst[-1])
    assert akd.wait_session(last)["state"] == "completed"
    assert akd.prints(last) == ["got 23"]
    other_sid = _session_of(akd, other)
    assert akd.wait_session(other_sid)["state"] == "completed" and akd.prints(other_sid) == ["got 24"]
    for earlier, newer in itertools.pairwise(burst):
        ev = wait_for(lambda e=earlier: _skipped(akd, e), 30, what=f"{earlier} to be debounced")
        assert ev["session_ids"] == []
        assert ev["skip_reason"] == f"debounced by {newer} (trigger burst)", ev


def _skipped(akd: Akd, event_id: str) -> dict[str, Any] | None:
    ev: dict[str, Any] = akd.api("GET", f"/events/{event_id}").json()
    return ev if ev["state"] == "skipped" else None


def test_dedupe_skips_an_event_whose_key_was_seen_within_the_window(akd_module: Akd, hooks: dict[str, str]) -> None:
    akd = akd_module
    original = _post(hooks["once"], {"n": 31, "id": "x"})
    _session_of(akd, original)
    repeat = _event(akd, _post(hooks["once"], {"n": 32, "id": "x"}))
    fresh = _post(hooks["once"], {"n": 33, "id": "y"})
    assert repeat["state"] == "skipped" and repeat["session_ids"] == []
    assert original in repeat["skip_reason"] and "deduplicated" in repeat["skip_reason"], repeat
    assert akd.wait_session(_session_of(akd, fresh))["state"] == "completed"


def test_a_rate_limit_throttles_the_events_beyond_it(akd_module: Akd, hooks: dict[str, str]) -> None:
    akd = akd_module
    events = [_event(akd, _post(hooks["limited"], {"n": n})) for n in range(41, 46)]
    started = [e for e in events if e["session_ids"]]
    throttled = [e for e in events if e["state"] == "skipped"]
    assert len(started) == 2 and len(throttled) == 3, events
    assert [e["event_id"] for e in started] == [events[0]["event_id"], events[1]["event_id"]]
    for e in throttled:
        assert e["session_ids"] == [] and e["skip_reason"].startswith("throttled: trigger limited allows 2 event(s)")
    listed = akd.akctl_json("event", "list", "-p", "flowq", "--limit", "200")
    ours = {e["event_id"] for e in throttled}
    assert sum(1 for e in listed if e["event_id"] in ours and e["skip_reason"].startswith("throttled")) == 3


def test_a_skipped_event_says_why(akd_module: Akd, hooks: dict[str, str], tmp_path: Path) -> None:
    akd = akd_module
    res = httpx.get(hooks["posts_only"], timeout=30)
    assert res.status_code == 202, res.text
    wrong_type = _event(akd, res.headers["AutoKitteh-Event-ID"])
    assert wrong_type["skip_reason"] == "trigger posts_only expects event_type 'post', not 'get'", wrong_type
    false_filter = _event(akd, _post(hooks["filtered"], {"n": 51, "ok": False}))
    assert false_filter["skip_reason"] == "the filter of trigger filtered was false: data.body.json.ok == true"
    passed = _event(akd, _post(hooks["filtered"], {"n": 52, "ok": True}))
    assert passed["state"] == "dispatched" and passed["skip_reason"] is None

    nodep = write_project(tmp_path / "nodep", {"autokitteh.yaml": NODEP, "program.py": PROGRAM})
    deployment = akd.deploy(nodep)["deployment_id"]
    res2 = akd.akctl("deployment", "deactivate", deployment)
    assert res2.returncode == 0, res2.stderr
    sent = akd.api("POST", "/events", json={"project": "flownodep", "trigger": "idle", "data": {"n": 53}})
    assert sent.status_code == 201, sent.text
    orphan = _event(akd, sent.json()["event_id"])
    assert orphan["state"] == "skipped" and orphan["skip_reason"] == "the project had no active deployment", orphan

    shown = akd.akctl("event", "get", false_filter["event_id"])
    assert shown.returncode == 0, shown.stderr
    assert "skipped  the filter of trigger filtered was false" in shown.stdout, shown.stdout
    table = akd.akctl("event", "list", "-p", "flowq", "--limit", "200")  # the harness's COLUMNS is 200
    assert "WHY SKIPPED" in table.stdout and "expects event_type 'post'" in table.stdout, table.stdout
    as_json = akd.akctl("event", "list", "-p", "flowq", "--limit", "5", "--json")
    assert all("skip_reason" in e for e in json.loads(as_json.stdout))
    narrow = subprocess.run([*AKCTL, "event", "list", "-p", "flowq", "--limit", "5"], env={**akd.env, "COLUMNS": "80"},
                            capture_output=True, text=True, timeout=60, cwd=ROOT)  # fmt: skip
    assert narrow.returncode == 0 and "WHY SKIPPED" not in narrow.stdout, narrow.stdout
    assert max(len(line) for line in narrow.stdout.splitlines()) <= 80 and passed["event_id"] in narrow.stdout
    web = httpx.get(f"{akd.url}/events/{wrong_type['event_id']}", headers={"Authorization": f"Bearer {akd.token}"})
    assert web.status_code == 200
    assert "Skipped because" in web.text and "expects event_type &#39;post&#39;, not &#39;get&#39;" in web.text


DRAIN = """\
version: v2
project:
  name: flowdrain
  triggers:
    - name: serial
      type: webhook
      call: program.py:hold
      concurrency: {limit: 1}
"""


def test_queued_sessions_keep_their_deployment_draining(akd_module: Akd, tmp_path: Path) -> None:
    akd = akd_module
    project = write_project(tmp_path / "drain", {"autokitteh.yaml": DRAIN, "program.py": PROGRAM})
    first = akd.deploy(project)
    holder = _held(akd, first["webhooks"]["serial"], tmp_path, 71)
    _state(akd, holder, "running")
    (project / "program.py").write_text(PROGRAM + "# a new build\n")
    second = akd.deploy(project)  # the trigger (and its concurrency group) stays; the first drains
    assert second["deployment_id"] != first["deployment_id"]
    queued = [_held(akd, second["webhooks"]["serial"], tmp_path, n) for n in (72, 73)]
    assert [akd.session(s)["state"] for s in queued] == ["queued", "queued"]  # behind the first's session

    def state(deployment: str) -> str:
        return str(akd.akctl_json("deployment", "get", deployment)["state"])

    assert akd.akctl("deployment", "deactivate", second["deployment_id"]).returncode == 0
    assert state(second["deployment_id"]) == "draining"  # its sessions are only queued, yet live
    _release(tmp_path, 71)
    _state(akd, queued[0], "running")
    wait_for(lambda: state(first["deployment_id"]) == "inactive", 30, what="the first deployment to end")
    _release(tmp_path, 72)
    assert akd.wait_session(queued[0])["state"] == "completed"
    assert state(second["deployment_id"]) == "draining"  # 73 still waits
    _release(tmp_path, 73)
    assert akd.wait_session(queued[1])["state"] == "completed" and akd.prints(queued[1]) == ["start 73", "end 73"]
    wait_for(lambda: state(second["deployment_id"]) == "inactive", 30, what="the second deployment to end")


def test_queued_sessions_survive_kill_9_and_run_once_after_restart(
    akd_module: Akd, hooks: dict[str, str], tmp_path: Path
) -> None:
    akd = akd_module
    work = tmp_path
    holder = _held(akd, hooks["serial"], work, 61)
    _state(akd, holder, "running")
    queued = [_held(akd, hooks["serial"], work, n) for n in (62, 63)]
    assert [akd.session(s)["state"] for s in queued] == ["queued", "queued"]
    _release(work, 62, 63)  # they would end at once, once they run
    debounced = _post(hooks["burst"], {"n": 64, "user": "k9"})  # waiting out its 3 s period
    assert _event(akd, debounced)["session_ids"] == []
    akd.kill9()
    akd.up()
    assert [akd.session(s)["state"] for s in queued] == ["queued", "queued"]  # the queue outlived the crash
    _release(work, 61)
    for sid in (holder, *queued):
        assert akd.wait_session(sid, timeout=90)["state"] == "completed"
    for sid, n in zip(queued, (62, 63), strict=True):
        assert akd.prints(sid) == [f"start {n}", f"end {n}"]
        assert akd.session(sid).get("attempt", 1) == 1
    assert [n for n in _order(work) if n != 61] == [62, 63]
    late = _session_of(akd, debounced)  # the debounce outlived the crash too
    assert akd.wait_session(late)["state"] == "completed" and akd.prints(late) == ["got 64"]


def test_a_flow_control_key_that_does_not_compile_fails_the_deploy(akd_module: Akd, tmp_path: Path) -> None:
    bad = MANIFEST.replace(
        "key: data.body.json.user}\n    - name: burst", "key: 'data.body.json.user +'}\n    - name: burst"
    )
    assert bad != MANIFEST
    project = write_project(tmp_path / "bad", {"autokitteh.yaml": bad.replace("flowq", "flowbad"), "program.py": ""})
    res = akd_module.akctl("deploy", "--dir", str(project))
    assert res.returncode != 0
    line = next(i for i, text in enumerate(bad.splitlines(), 1) if "user +" in text)
    assert f"autokitteh.yaml:{line}: project.triggers[1].concurrency.key: invalid CEL key:" in res.stderr, res.stderr
    assert "Syntax error" in res.stderr
    assert "flowbad" not in {p["name"] for p in akd_module.akctl_json("project", "list")}  # nothing was created

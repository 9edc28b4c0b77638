"""Durable sessions (issue 3): journaled steps, replay after kill -9, sleep, pinning, errors."""

from __future__ import annotations

import collections
import json
from pathlib import Path

import httpx
import pytest

from tests.e2e.harness import Akd, wait_for, write_project

pytestmark = pytest.mark.e2e

MANIFEST = """\
version: v1
project:
  name: {name}
  triggers:
    - name: go
      type: webhook
      call: program.py:run
"""

# 20 journaled side effects (a line appended to a file outside the project) with a
# durable sleep in the middle; each step also prints.
SIDE_EFFECTS = """\
import time
from autokitteh import activity

OUT = {out!r}

@activity
def append(i):
    with open(OUT, "a") as f:
        f.write(f"line {{i}}\\n")
    time.sleep({step_sleep})
    return i

def run(event):
    for i in range(10):
        append(i)
        print("step", i)
    print("sleeping")
    time.sleep({sleep})
    print("awake")
    for i in range(10, 20):
        append(i)
        print("step", i)
    return "done"
"""


def deploy_project(akd: Akd, root: Path, name: str, program: str) -> str:
    write_project(root, {"autokitteh.yaml": MANIFEST.format(name=name), "program.py": program})
    return str(akd.deploy(root)["webhooks"]["go"])


def trigger(url: str, body: str = "") -> str:
    resp = httpx.post(url, content=body, timeout=10)
    assert resp.status_code == 202
    event_id = resp.headers["AutoKitteh-Event-ID"]
    return event_id


def session_of_event(akd: Akd, event_id: str) -> str:
    def find() -> str | None:
        for s in akd.sessions(limit=200):
            if s["event_id"] == event_id:
                return str(s["session_id"])
        return None

    return wait_for(find, 20, what=f"a session for {event_id}")


def lines(path: Path) -> collections.Counter[str]:
    return collections.Counter(path.read_text().splitlines()) if path.exists() else collections.Counter()


def test_kill_during_sleep_runs_every_side_effect_once(akd: Akd, tmp_path: Path) -> None:
    out = tmp_path / "side.txt"
    url = deploy_project(akd, tmp_path / "p", "sleepy", SIDE_EFFECTS.format(out=str(out), step_sleep=0, sleep=5))
    sid = session_of_event(akd, trigger(url))
    wait_for(lambda: "sleeping" in akd.prints(sid), 20, what="the session to sleep")
    akd.kill9()
    akd.up()
    done = akd.wait_session(sid, timeout=60)
    assert done["state"] == "completed", done
    counts = lines(out)
    assert counts == collections.Counter(f"line {i}" for i in range(20))
    printed = akd.prints(sid)
    assert collections.Counter(printed) == collections.Counter([f"step {i}" for i in range(20)] + ["sleeping", "awake"])
    res = akd.akctl("session", "prints", sid, "--no-timestamps")
    assert res.returncode == 0 and res.stdout.count("step 19") == 1


def test_kill_during_steps_repeats_at_most_the_step_in_flight(akd: Akd, tmp_path: Path) -> None:
    out = tmp_path / "side.txt"
    url = deploy_project(akd, tmp_path / "p", "busy", SIDE_EFFECTS.format(out=str(out), step_sleep=0.25, sleep=0))
    sid = session_of_event(akd, trigger(url))
    wait_for(lambda: sum(lines(out).values()) >= 5, 20, what="five side effects")
    akd.kill9()
    akd.up()
    done = akd.wait_session(sid, timeout=60)
    assert done["state"] == "completed", done
    counts = lines(out)
    assert set(counts) == {f"line {i}" for i in range(20)}
    repeated = [line for line, n in counts.items() if n > 1]
    assert len(repeated) <= 1 and all(counts[line] == 2 for line in repeated), counts
    printed = akd.prints(sid)
    assert len(printed) == len(set(printed)) == 22, printed


PINNED = """\
import time

def run(event):
    print("version {version} before")
    time.sleep(4)
    print("version {version} after")
    return {version}
"""


def test_session_finishes_on_the_code_it_started_with(akd: Akd, tmp_path: Path) -> None:
    root = tmp_path / "p"
    url = deploy_project(akd, root, "pinned", PINNED.format(version=1))
    first = session_of_event(akd, trigger(url))
    wait_for(lambda: akd.prints(first), 20, what="the first print")
    url2 = deploy_project(akd, root, "pinned", PINNED.format(version=2))
    assert url2 == url  # redeploying keeps the webhook URL
    akd.kill9()  # and a restart in between does not change which code runs
    akd.up()
    # The port is picked afresh at each start (port 0); the webhook path stays.
    second = session_of_event(akd, trigger(akd.url + "/webhooks/" + url.rsplit("/webhooks/", 1)[1]))
    assert akd.wait_session(first, timeout=60)["return_value"] == 1
    assert akd.prints(first) == ["version 1 before", "version 1 after"]
    assert akd.wait_session(second, timeout=60)["return_value"] == 2
    assert akd.prints(second) == ["version 2 before", "version 2 after"]


LONG_SLEEP = """\
import time

def run(event):
    print("going to sleep")
    time.sleep(3600)
    print("woke up")
"""


def test_hour_long_sleep_holds_no_runner_and_survives_restart(akd: Akd, tmp_path: Path) -> None:
    url = deploy_project(akd, tmp_path / "p", "hour", LONG_SLEEP)
    sid = session_of_event(akd, trigger(url))
    wait_for(lambda: akd.prints(sid) == ["going to sleep"], 20, what="the session to sleep")
    wait_for(lambda: akd.api("GET", "/health").json()["runners"] == 0, 10, what="the runner to be released")
    akd.akctl("down", timeout=60)
    akd.up()
    res = akd.akctl_json("session", "get", sid)
    assert res["state"] == "running"
    assert akd.api("GET", "/health").json()["runners"] == 0
    assert akd.prints(sid) == ["going to sleep"]


NONDETERMINISTIC = """\
import datetime, random, time, uuid

def run(event):
    values = [str(datetime.datetime.now()), random.random(), str(uuid.uuid4()), time.time()]
    print("before", values)
    time.sleep(3)   # parks the session: the rest runs in a new runner, after a replay
    print("after", values)
    return values
"""


def test_clock_and_randomness_replay_identically(akd_module: Akd, tmp_path: Path) -> None:
    url = deploy_project(akd_module, tmp_path / "p", "nondet", NONDETERMINISTIC)
    sid = session_of_event(akd_module, trigger(url))
    done = akd_module.wait_session(sid, timeout=30)
    assert done["state"] == "completed", done
    before, after = akd_module.prints(sid)
    assert before.removeprefix("before ") == after.removeprefix("after ")
    log = akd_module.api("GET", f"/sessions/{sid}/log").json()["records"]
    names = [r["name"] for r in log if r["kind"] == "step"]
    assert names == ["datetime.now", "Random.random", "uuid4", "time.time"]


ERRORS = """\
import json, os, threading, time
from autokitteh import activity, RetryPolicy

class Boom(Exception):
    pass

def explode():
    raise Boom("kaboom")

@activity
def fails():
    raise KeyError("missing")

def make_lock():
    return threading.Lock()

def big():
    return os.urandom(2 * 1024 * 1024)

calls = []

@activity(retry=RetryPolicy(maximum_attempts=3, initial_interval=0.1))
def flaky(path):
    with open(path, "a") as f:
        f.write("attempt\\n")
    with open(path) as f:
        n = len(f.read().splitlines())
    if n < 3:
        raise ConnectionError(f"attempt {{n}} failed")
    return n

def run(event):
    results = {{}}
    try:
        fails()
    except KeyError as e:
        results["step_error"] = [type(e).__name__, str(e)]
    try:
        make_lock()
    except Exception as e:
        results["unpicklable"] = [type(e).__name__, str(e)]
    try:
        big()
    except Exception as e:
        results["too_big"] = [type(e).__name__, str(e)]
    results["flaky"] = flaky({flaky_path!r})
    print(json.dumps(results))
    explode()
"""


def test_error_cases(akd_module: Akd, tmp_path: Path) -> None:
    flaky_path = tmp_path / "flaky.txt"
    url = deploy_project(akd_module, tmp_path / "p", "errors", ERRORS.format(flaky_path=str(flaky_path)))
    sid = session_of_event(akd_module, trigger(url))
    done = akd_module.wait_session(sid, timeout=30)
    results = json.loads(akd_module.prints(sid)[0])
    assert results["step_error"] == ["KeyError", "'missing'"]
    kind, message = results["unpicklable"]
    assert kind == "UnpicklableResultError"
    assert "allocate_lock()" in message and "@autokitteh.activity" in message
    kind, message = results["too_big"]
    assert kind == "StepResultTooLargeError" and "1048576 byte limit" in message
    assert results["flaky"] == 3
    log = akd_module.api("GET", f"/sessions/{sid}/log").json()["records"]
    attempts = [r for r in log if r["kind"] == "step" and r["name"].endswith("flaky")]
    assert [(r["attempt"], r["ok"]) for r in attempts] == [(1, False), (2, False), (3, True)]
    # The uncaught exception ends the session in error, with a traceback of user frames.
    assert done["state"] == "error"
    assert done["error"]["type"] == "Boom" and done["error"]["message"] == "kaboom"
    assert 'File "program.py"' in done["error"]["traceback"] and "explode()" in done["error"]["traceback"]
    human = akd_module.akctl("session", "get", sid)
    assert human.returncode == 0 and "Boom: kaboom" in human.stdout and "explode" in human.stdout


NON_DURABLE = """\
import time

def run(event):
    t = time.time()
    time.sleep(0.2)
    print("plain", time.time() > t)
"""


def test_non_durable_session_runs_as_one_unit(akd_module: Akd, tmp_path: Path) -> None:
    root = write_project(
        tmp_path / "p",
        {
            "autokitteh.yaml": MANIFEST.format(name="plain").replace("version: v1", "version: v2"),
            "program.py": NON_DURABLE,
        },
    )
    url = akd_module.deploy(root)["webhooks"]["go"]
    sid = session_of_event(akd_module, trigger(url))
    done = akd_module.wait_session(sid)
    assert done["state"] == "completed" and done["durable"] is False
    assert done["steps"] == 0
    assert akd_module.prints(sid) == ["plain True"]


DEFAULT_RETRY = """\
version: v1
project:
  name: retries
  retry_policy:
    maximum_attempts: 3
    initial_interval: 0.1
  triggers:
    - name: go
      type: webhook
      call: program.py:run
"""

FLAKY = """\
from autokitteh import activity

@activity
def flaky(path):
    with open(path, "a") as f:
        f.write("attempt\\n")
    with open(path) as f:
        n = len(f.read().splitlines())
    if n < 3:
        raise ConnectionError(f"attempt {{n}} failed")
    return n

@activity
def always_fails():
    raise ValueError("never works")

def run(event):
    print("flaky gave", flaky({path!r}))
    try:
        always_fails()
    except ValueError as e:
        print("gave up:", e)
"""


def test_project_default_retry_policy(akd_module: Akd, tmp_path: Path) -> None:
    root = write_project(tmp_path / "p", {
        "autokitteh.yaml": DEFAULT_RETRY, "program.py": FLAKY.format(path=str(tmp_path / "flaky.txt")),
    })  # fmt: skip
    url = akd_module.deploy(root)["webhooks"]["go"]
    sid = session_of_event(akd_module, trigger(url))
    assert akd_module.wait_session(sid, timeout=30)["state"] == "completed"
    assert akd_module.prints(sid) == ["flaky gave 3", "gave up: never works"]
    log = akd_module.api("GET", f"/sessions/{sid}/log").json()["records"]
    attempts = [(r["name"].rsplit(".", 1)[-1], r["attempt"], r["ok"]) for r in log if r["kind"] == "step"]
    assert attempts == [("flaky", 1, False), ("flaky", 2, False), ("flaky", 3, True),
                        ("always_fails", 1, False), ("always_fails", 2, False), ("always_fails", 3, False)]  # fmt: skip

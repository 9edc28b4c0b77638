"""What a session waits on and what each step did, on a real daemon: ``waiting`` in
``session get`` (a durable sleep, a next_event with a filter, a next_signal), gone once
the wait ends; the same live state on the web session page (headless Chromium); each
step's args and result in ``session log``, a secret var's value masked."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By

from tests.e2e.harness import Akd, wait_for, write_project
from tests.e2e.test_web import browser, chromium, fire, session_of, sign_in

__all__ = ["browser", "chromium"]  # fixtures shared with test_web, one browser per module

PROGRAM = """\
import os
import time

import autokitteh


@autokitteh.activity
def lookup(key, value):
    return {"key": key, "echo": value, "big": "x" * 500}


def steps(event):
    return lookup("k", os.environ["MYSTERY"])["key"]


def nap(event):
    time.sleep(3600)
    return "rested"


def on_poke(event):
    sub = autokitteh.subscribe("poke", filter='data.body.text == "go"')
    got = autokitteh.next_event(sub, timeout=600, full=True)
    return got.data.body.text


def ping(event):
    got = autokitteh.next_signal("ping")
    return got.payload


def two(event):
    first = autokitteh.next_signal("ping")
    second = autokitteh.next_signal(["stop", "halt"], timeout=600)
    return [first.payload, second.name]
"""

MANIFEST = """\
version: v1
project:
  name: waits
  vars:
    - name: MYSTERY
      value: not-for-logs-4242
      secret: true
  triggers:
    - name: steps
      type: webhook
      call: program.py:steps
    - name: nap
      type: webhook
      call: program.py:nap
    - name: listen
      type: webhook
      call: program.py:on_poke
    - name: poke
      type: webhook
    - name: ping
      type: webhook
      call: program.py:ping
    - name: two
      type: webhook
      call: program.py:two
    - name: two_plain
      type: webhook
      is_durable: false
      call: program.py:two
"""


@pytest.fixture(scope="module")
def hooks(akd_module: Akd, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("waits")
    write_project(root / "p", {"autokitteh.yaml": MANIFEST, "program.py": PROGRAM})
    found: dict[str, str] = akd_module.deploy(root / "p")["webhooks"]
    return found


@pytest.fixture(scope="module")
def ui(browser: WebDriver, akd_module: Akd, hooks: dict[str, str]) -> WebDriver:
    sign_in(browser, akd_module, "/projects/waits")
    return browser


def _waiting(akd: Akd, sid: str) -> dict[str, Any] | None:
    got: dict[str, Any] | None = akd.akctl_json("session", "get", sid)["waiting"]
    return got


def _human(akd: Akd, sid: str) -> str:
    res = akd.akctl("session", "get", sid)
    assert res.returncode == 0, res.stderr
    return res.stdout


def test_a_durable_sleep_shows_until_when(akd_module: Akd, hooks: dict[str, str]) -> None:
    sid = session_of(akd_module, fire(hooks["nap"]))
    waiting = wait_for(lambda: _waiting(akd_module, sid), 30, what="the sleep to show")
    assert waiting["kind"] == "sleep" and waiting["until"].endswith("Z"), waiting
    assert "sleeping until" in _human(akd_module, sid)
    sleep = next(r for r in akd_module.api("GET", f"/sessions/{sid}/log").json()["records"] if r["kind"] == "sleep")
    assert sleep["args"] == "3600"
    human_log = akd_module.akctl("session", "log", sid).stdout
    assert "sleep  #0 sleep(3600) -> ok [for 1h00m]" in human_log, human_log
    assert akd_module.akctl("session", "wake", sid).returncode == 0
    done = akd_module.wait_session(sid, timeout=60)
    assert done["state"] == "completed" and done["waiting"] is None


def test_next_event_shows_the_trigger_and_filter(akd_module: Akd, hooks: dict[str, str]) -> None:
    sid = session_of(akd_module, fire(hooks["listen"]))
    waiting = wait_for(lambda: _waiting(akd_module, sid), 30, what="the event wait to show")
    assert waiting["kind"] == "event" and waiting["until"], waiting
    sub = {"source": "poke", "filter": 'data.body.text == "go"', "source_kind": "trigger"}
    assert waiting["subscriptions"] == [sub], waiting
    human = _human(akd_module, sid)
    assert 'waiting for an event on trigger poke with filter data.body.text == "go"' in human, human
    assert httpx.post(hooks["poke"], content=b"go", timeout=10).status_code == 202
    done = akd_module.wait_session(sid, timeout=60)
    assert done["state"] == "completed" and done["return_value"] == "go" and done["waiting"] is None
    log = akd_module.akctl_json("session", "log", sid)
    answered = next(r for r in log if r["kind"] == "call" and r["name"] == "next_event")
    assert answered["waited"] > 0, answered


def test_next_signal_shows_its_names(akd_module: Akd, hooks: dict[str, str]) -> None:
    sid = session_of(akd_module, fire(hooks["ping"]))
    waiting = wait_for(lambda: _waiting(akd_module, sid), 30, what="the signal wait to show")
    assert waiting == {"kind": "signal", "names": ["ping"], "until": None, "since": waiting["since"]}, waiting
    assert "waiting for signal ping" in _human(akd_module, sid)
    sent = akd_module.akctl("session", "signal", sid, "ping", "--payload", '{"n": 1}')
    assert sent.returncode == 0, sent.stderr
    done = akd_module.wait_session(sid, timeout=60)
    assert done["return_value"] == {"n": 1} and done["waiting"] is None
    assert "waiting" not in _human(akd_module, sid)


@pytest.mark.parametrize("trigger", ["two", "two_plain"])  # parked and replayed / waiting in its runner
def test_one_wait_after_another(akd_module: Akd, hooks: dict[str, str], trigger: str) -> None:
    sid = session_of(akd_module, fire(hooks[trigger]))
    first = wait_for(lambda: _waiting(akd_module, sid), 30, what="the first wait to show")
    assert first["names"] == ["ping"] and first["until"] is None, first
    assert akd_module.akctl("session", "signal", sid, "ping", "--payload", "2").returncode == 0

    def second() -> dict[str, Any] | None:
        w = _waiting(akd_module, sid)
        return w if w is not None and w["names"] != ["ping"] else None

    then = wait_for(second, 30, what="the second wait to replace the first")
    assert then["kind"] == "signal" and then["names"] == ["stop", "halt"] and then["until"], then
    assert "waiting for signals stop or halt, until " in _human(akd_module, sid)
    assert akd_module.akctl("session", "signal", sid, "halt").returncode == 0
    done = akd_module.wait_session(sid, timeout=60)
    assert done["return_value"] == [2, "halt"] and done["waiting"] is None


def test_the_session_page_shows_the_wait(ui: WebDriver, akd_module: Akd, hooks: dict[str, str]) -> None:
    browser = ui
    sid = session_of(akd_module, fire(hooks["two"]))
    wait_for(lambda: _waiting(akd_module, sid), 30, what="the signal wait")
    browser.get(f"{akd_module.url}/sessions/{sid}")
    wait_for(lambda: browser.find_elements(By.ID, "waiting"), 20, interval=0.3, what="the waiting fact")
    assert browser.find_element(By.ID, "waiting").text == "waiting for signal ping"
    assert "waiting for signal ping" in browser.find_element(By.ID, "timeline").text
    akd_module.akctl("session", "signal", sid, "ping")

    # The page polls its live parts: the next wait replaces the first without a reload.
    def next_wait() -> str | None:
        text = "".join(e.text for e in browser.find_elements(By.ID, "waiting"))
        return text if "stop or halt" in text else None

    assert wait_for(next_wait, 20, interval=0.3, what="the live fact to move on").startswith(
        "waiting for signals stop or halt, until "
    )
    timeline = browser.find_element(By.ID, "timeline").text
    assert "next_signal" not in timeline and "wait for a signal" in timeline, timeline
    akd_module.akctl("session", "signal", sid, "stop")
    akd_module.wait_session(sid, timeout=60)
    wait_for(lambda: not browser.find_elements(By.ID, "waiting"), 20, interval=0.3, what="the wait to clear")


def test_session_log_shows_step_args_and_results_with_secrets_masked(akd_module: Akd, hooks: dict[str, str]) -> None:
    sid = session_of(akd_module, fire(hooks["steps"]))
    assert akd_module.wait_session(sid, timeout=60)["return_value"] == "k"
    log = akd_module.akctl_json("session", "log", sid)
    step = next(r for r in log if r["kind"] == "step")
    assert step["name"] == "program.lookup" and step["args"] == "'k', '********'", step
    assert step["result"].startswith("{'key': 'k', 'echo': '********', 'big': 'xxx"), step
    assert step["result"].endswith("...") and len(step["result"]) == 200, step
    # The whole value on request: the full repr (bounded, masked) is kept beside the short one.
    assert step["result_full"].startswith(step["result"][:-3]) and step["result_full"].endswith("'}"), step
    assert len(step["result_full"]) > 200 and "********" in step["result_full"]
    assert step["duration"] >= 0
    human = akd_module.akctl("session", "log", sid)
    assert human.returncode == 0, human.stderr
    assert "program.lookup('k', '********') -> ok: {'key': 'k'" in human.stdout, human.stdout
    assert "not-for-logs-4242" not in human.stdout + json.dumps(log)


def test_the_timeline_shows_step_args_and_results(ui: WebDriver, akd_module: Akd, hooks: dict[str, str]) -> None:
    browser = ui
    sid = session_of(akd_module, fire(hooks["steps"]))
    akd_module.wait_session(sid, timeout=60)
    browser.get(f"{akd_module.url}/sessions/{sid}")
    step = browser.find_element(By.CSS_SELECTOR, "#timeline li.k-step")
    assert "program.lookup('k', '********')" in step.text, step.text
    result = step.find_element(By.CSS_SELECTOR, ".step-result .mono")
    assert result.text.startswith("{'key': 'k', 'echo': '********'") and result.text.endswith("…"), result.text
    full = result.get_attribute("title") or ""
    assert len(full) > 200 and full.startswith("{'key': 'k'") and full.endswith("'}"), full  # the whole value on hover
    assert "not-for-logs-4242" not in browser.page_source


def test_a_sleep_in_progress_is_not_drawn_as_finished(ui: WebDriver, akd_module: Akd, hooks: dict[str, str]) -> None:
    sid = session_of(akd_module, fire(hooks["nap"]))
    wait_for(lambda: _waiting(akd_module, sid), 30, what="the sleep")
    ui.get(f"{akd_module.url}/sessions/{sid}")
    assert ui.find_element(By.ID, "waiting").text.startswith("sleeping until ")
    sleep = ui.find_element(By.CSS_SELECTOR, "#timeline li.k-sleep")
    assert "running" in (sleep.get_attribute("class") or "") and "so far" in sleep.text, sleep.text
    assert "sleeping until" in sleep.text and "1 h" not in sleep.text, sleep.text  # not its full hour
    assert akd_module.akctl("session", "wake", sid).returncode == 0
    assert akd_module.wait_session(sid, timeout=60)["state"] == "completed"

"""What a session waits on and what each step did, on a real daemon: ``waiting`` in
``session get`` (a durable sleep, a next_event with a filter, a next_signal), gone once
the wait ends; the same live state on the web session page (headless Chromium)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By

from tests.e2e.harness import Akd, wait_for, write_project
from tests.e2e.test_web import browser, chromium, fire, session_of, sign_in

__all__ = ["browser", "chromium"]  # fixtures shared with test_web, one browser per module

PROGRAM = """\
import time

import autokitteh


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
"""

MANIFEST = """\
version: v1
project:
  name: waits
  triggers:
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
"""


@pytest.fixture(scope="module")
def hooks(akd_module: Akd, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("waits")
    write_project(root / "p", {"autokitteh.yaml": MANIFEST, "program.py": PROGRAM})
    found: dict[str, str] = akd_module.deploy(root / "p")["webhooks"]
    return found


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


def test_the_session_page_shows_the_wait(browser: WebDriver, akd_module: Akd, hooks: dict[str, str]) -> None:
    sid = session_of(akd_module, fire(hooks["ping"]))
    wait_for(lambda: _waiting(akd_module, sid), 30, what="the signal wait")
    sign_in(browser, akd_module, f"/sessions/{sid}")
    wait_for(lambda: browser.find_elements(By.ID, "waiting"), 20, interval=0.3, what="the waiting fact")
    assert browser.find_element(By.ID, "waiting").text == "waiting for signal ping"
    assert "waiting for signal ping" in browser.find_element(By.ID, "timeline").text
    akd_module.akctl("session", "signal", sid, "ping")
    akd_module.wait_session(sid, timeout=60)
    # The page polls its live parts: the wait disappears without a reload.
    wait_for(lambda: not browser.find_elements(By.ID, "waiting"), 20, interval=0.3, what="the wait to clear")
    timeline = browser.find_element(By.ID, "timeline").text
    assert "next_signal" not in timeline and "wait for a signal" in timeline, timeline

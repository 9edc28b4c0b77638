"""The web UI's recovery buttons, in headless Chromium against a real daemon: "Rerun from
here" on a durable session's timeline step, "Wake now" on a sleeping session, "Fire now"
on a schedule trigger."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By

from tests.e2e.harness import Akd, wait_for, write_project
from tests.e2e.test_web import browser, chromium, fire, session_of, sign_in

__all__ = ["browser", "chromium"]  # fixtures shared with test_web, one browser per module

MANIFEST = """\
version: v1
project:
  name: webdbg
  vars:
    - name: SIDE_FILE
      value: {side}
  triggers:
    - name: steps
      type: webhook
      call: program.py:steps
    - name: nap
      type: webhook
      call: program.py:nap
    - name: hourly
      schedule: "@every 1h"
      call: program.py:tick
    - name: waits
      type: webhook
      call: program.py:waiter
"""

PROGRAM = """\
import os
import time

import autokitteh


@autokitteh.activity
def record(i):
    with open(os.environ["SIDE_FILE"], "a") as f:
        f.write(f"{i}\\n")
    return i


def steps(event):
    for i in range(3):
        record(i)
    return "ok"


def nap(event):
    time.sleep(3600)
    return "rested"


def tick(event):
    print("tick")


def waiter(event):
    got = autokitteh.next_signal("go", timeout=600)
    return got.payload
"""


@pytest.fixture(scope="module")
def project(akd_module: Akd, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dict[str, str], Path]]:
    root = tmp_path_factory.mktemp("webdbg")
    side = root / "side.txt"
    hooks = akd_module.deploy(write_project(root / "p", {"autokitteh.yaml": MANIFEST.format(side=side),
                                                         "program.py": PROGRAM}))["webhooks"]  # fmt: skip
    yield hooks, side


@pytest.fixture(scope="module")
def ui(browser: WebDriver, akd_module: Akd, project: tuple[dict[str, str], Path]) -> WebDriver:
    sign_in(browser, akd_module, "/projects/webdbg")
    return browser


def _submit(ui: WebDriver, form_selector: str) -> None:
    """Press a form's button and accept its confirmation dialog."""
    ui.find_element(By.CSS_SELECTOR, f"{form_selector} button").click()
    ui.switch_to.alert.accept()


def test_rerun_from_a_timeline_step(ui: WebDriver, akd_module: Akd, project: tuple[dict[str, str], Path]) -> None:
    hooks, side = project
    sid = session_of(akd_module, fire(hooks["steps"]))
    akd_module.wait_session(sid)
    assert side.read_text().split() == ["0", "1", "2"]
    ui.get(f"{akd_module.url}/sessions/{sid}")
    forms = ui.find_elements(By.CSS_SELECTOR, "#timeline form.rerun")
    assert [f.find_element(By.NAME, "from_step").get_attribute("value") for f in forms] == ["0", "1", "2"]
    _submit(ui, "#timeline form.rerun")  # the first one: step 0
    wait_for(lambda: "/sessions/ses_" in ui.current_url and sid not in ui.current_url, 20,
             what="the new session's page")  # fmt: skip
    new_sid = ui.current_url.split("/sessions/")[1].split("?")[0]
    assert "Rerun:" in ui.page_source
    assert akd_module.wait_session(new_sid, timeout=60)["state"] == "completed"
    assert side.read_text().split() == ["0", "1", "2", "0", "1", "2"]  # from step 0: every step ran again


def test_wake_a_sleeping_session(ui: WebDriver, akd_module: Akd, project: tuple[dict[str, str], Path]) -> None:
    hooks, _ = project
    sid = session_of(akd_module, fire(hooks["nap"]))

    def sleeping() -> bool:
        ui.get(f"{akd_module.url}/sessions/{sid}")
        return bool(ui.find_elements(By.CSS_SELECTOR, f"form[action='/sessions/{sid}/wake']"))

    wait_for(sleeping, 30, interval=0.5, what="the Wake now button of a sleeping session")
    _submit(ui, f"form[action='/sessions/{sid}/wake']")
    wait_for(lambda: "Woken:" in ui.page_source, 20, what="the woken notice")
    assert akd_module.wait_session(sid, timeout=60)["return_value"] == "rested"


def test_fire_a_schedule_now(ui: WebDriver, akd_module: Akd, project: tuple[dict[str, str], Path]) -> None:
    ui.get(f"{akd_module.url}/projects/webdbg")
    form = "form[action='/projects/webdbg/triggers/hourly/fire']"
    assert len(ui.find_elements(By.CSS_SELECTOR, form)) == 1
    assert not ui.find_elements(By.CSS_SELECTOR, "form[action='/projects/webdbg/triggers/steps/fire']")
    _submit(ui, form)
    wait_for(lambda: "Fired:" in ui.page_source, 20, what="the fired notice")

    def ticked() -> str | None:
        found = [s for s in akd_module.sessions(project="webdbg", limit=100) if s["entrypoint"] == "program.py:tick"]
        return found[0]["session_id"] if found else None

    tick = wait_for(ticked, 30, what="the tick's session")
    assert akd_module.wait_session(tick)["state"] == "completed" and akd_module.prints(tick) == ["tick"]


def test_send_a_signal_from_the_session_page(
    ui: WebDriver, akd_module: Akd, project: tuple[dict[str, str], Path]
) -> None:
    hooks, _ = project
    sid = session_of(akd_module, fire(hooks["waits"]))
    wait_for(lambda: akd_module.session(sid)["state"] == "running", 30, what="the session to wait")
    ui.get(f"{akd_module.url}/sessions/{sid}")
    ui.find_element(By.CSS_SELECTOR, "#send-signal summary").click()
    form = ui.find_element(By.CSS_SELECTOR, f"form[action='/sessions/{sid}/signal']")
    form.find_element(By.NAME, "name").send_keys("go")
    form.find_element(By.NAME, "payload").send_keys('{"n": 7}')
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait_for(lambda: "Signal sent:" in ui.page_source, 20, what="the signal notice")
    session = akd_module.wait_session(sid, timeout=60)
    assert session["state"] == "completed" and session["return_value"] == {"n": 7}

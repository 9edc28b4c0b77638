"""Test payloads (issue 18 item 5) and dispatch to one waiting session (item 2), against a
real daemon: saved payloads per trigger through akctl and the API, ``event dispatch
--saved`` (with ``--data`` overrides), the recent real payloads of a trigger, and
``event dispatch --session`` delivering to a ``next_event`` waiter and starting nothing;
the project page's payloads and a sync webhook's response, in headless Chromium."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from tests.e2e.harness import Akd, wait_for, write_project
from tests.e2e.test_web import browser, chromium, sign_in

__all__ = ["browser", "chromium"]  # the browser fixtures of test_web, one browser per module

pytestmark = pytest.mark.e2e

MANIFEST = """\
version: v1
project:
  name: payloads
  triggers:
    - name: hook
      type: webhook
      call: program.py:on_hook
    - name: answer
      type: webhook
      is_sync: true
      call: program.py:on_answer
    - name: replies
      type: webhook
    - name: wait
      type: webhook
      call: program.py:waiter
    - name: hourly
      schedule: "@every 1h"
      call: program.py:on_tick
"""

PROGRAM = """\
import json

import autokitteh


def on_hook(event):
    print(json.dumps(dict(event.data), sort_keys=True))


def on_tick(event):
    print(json.dumps(dict(event.data), sort_keys=True))


def on_answer(event):
    got = event.data.body.json or {}
    autokitteh.http_outcome(201, json={"echo": got.get("name"), "seen": True}, headers={"X-Echo": "yes"})


def waiter(event):
    sub = autokitteh.subscribe("hook", filter="data.ok == true")
    print("waiting")
    got = autokitteh.next_event(sub, timeout=120)
    print("got " + json.dumps(dict(got), sort_keys=True) if got is not None else "timeout")
"""


@pytest.fixture(scope="module")
def project(akd_module: Akd, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = write_project(tmp_path_factory.mktemp("p"), {"autokitteh.yaml": MANIFEST, "program.py": PROGRAM})
    return akd_module.deploy(root)


def _payloads(akd: Akd, *args: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = akd.akctl_json("trigger", "payload", "list", "--trigger", "hook", "-p", "payloads",
                                                *args)  # fmt: skip
    return rows


def test_save_list_delete(akd_module: Akd, project: dict[str, Any], tmp_path: Path) -> None:
    saved = akd_module.akctl_json("trigger", "payload", "save", "ada", "--trigger", "hook", "-p", "payloads",
                                  "--data", "name=Ada", "--data", "n=3")  # fmt: skip
    assert saved["data"] == {"name": "Ada", "n": 3} and saved["kind"] == "saved"
    body = tmp_path / "bob.json"
    body.write_text(json.dumps({"name": "Bob", "tags": ["x"]}))
    akd_module.akctl_json("trigger", "payload", "save", "bob", "--trigger", "hook", "-p", "payloads",
                          "--file", str(body))  # fmt: skip
    rows = _payloads(akd_module)
    assert [(r["name"], r["data"]) for r in rows] == [("ada", {"name": "Ada", "n": 3}),
                                                      ("bob", {"name": "Bob", "tags": ["x"]})]  # fmt: skip
    # Saving again replaces the data (200, not 201), and the API reads the same thing.
    resp = akd_module.api("PUT", "/projects/payloads/triggers/hook/payloads/bob", json={"data": {"name": "Bo"}})
    assert resp.status_code == 200, resp.text
    got = akd_module.api("GET", "/projects/payloads/triggers/hook/payloads/bob").json()
    assert got["data"] == {"name": "Bo"}
    deleted = akd_module.akctl("trigger", "payload", "delete", "bob", "--trigger", "hook", "-p", "payloads")
    assert deleted.returncode == 0, deleted.stderr
    assert [r["name"] for r in _payloads(akd_module)] == ["ada"]
    # Bad input: a clear error, nothing changed.
    gone = akd_module.akctl("trigger", "payload", "delete", "bob", "--trigger", "hook", "-p", "payloads")
    assert gone.returncode == 44 and "no saved payload named 'bob'" in gone.stderr
    nope = akd_module.akctl("trigger", "payload", "save", "x", "--trigger", "nope", "-p", "payloads", "--data", "a=1")
    assert nope.returncode == 44 and "no trigger named 'nope'" in nope.stderr
    bad = akd_module.api("PUT", "/projects/payloads/triggers/hook/payloads/a%20b", json={"data": {}})
    assert bad.status_code == 400 and "payload name" in bad.json()["error"]["message"]
    not_obj = akd_module.api("PUT", "/projects/payloads/triggers/hook/payloads/list", json={"data": [1]})
    assert not_obj.status_code == 400 and "JSON object" in not_obj.json()["error"]["message"]
    assert [r["name"] for r in _payloads(akd_module)] == ["ada"]


def test_dispatch_saved_with_overrides(akd_module: Akd, project: dict[str, Any]) -> None:
    akd_module.akctl_json("trigger", "payload", "save", "carol", "--trigger", "hook", "-p", "payloads",
                          "--data", "name=Carol", "--data", "n=1")  # fmt: skip
    plain = akd_module.akctl_json("event", "dispatch", "--trigger", "hook", "-p", "payloads", "--saved", "carol")
    (sid,) = plain["session_ids"]
    akd_module.wait_session(sid, ("completed",))
    assert akd_module.prints(sid) == ['{"n": 1, "name": "Carol"}']
    over = akd_module.akctl_json("event", "dispatch", "--trigger", "hook", "-p", "payloads", "--saved", "carol",
                                 "--data", "n=7", "--data", "extra=yes")  # fmt: skip
    (sid2,) = over["session_ids"]
    akd_module.wait_session(sid2, ("completed",))
    assert akd_module.prints(sid2) == ['{"extra": "yes", "n": 7, "name": "Carol"}']
    missing = akd_module.akctl("event", "dispatch", "--trigger", "hook", "-p", "payloads", "--saved", "nobody")
    assert missing.returncode == 44 and "nobody" in missing.stderr


def test_recent_payloads_are_listed_next_to_saved(akd_module: Akd, project: dict[str, Any]) -> None:
    resp = httpx.post(project["webhooks"]["hook"], json={"real": "request"}, timeout=30)
    assert resp.status_code == 202
    event_id = resp.headers["AutoKitteh-Event-ID"]
    rows = _payloads(akd_module, "--recent")
    saved = [r for r in rows if r["kind"] == "saved"]
    recent = [r for r in rows if r["kind"] == "recent"]
    assert saved and all(r["name"] in ("ada", "carol") for r in saved)
    assert recent[0]["event_id"] == event_id  # newest first
    assert recent[0]["data"]["body"]["json"] == {"real": "request"} and recent[0]["data"]["method"] == "POST"
    assert len(recent) <= 10 and all(r["event_id"].startswith("evt_") for r in recent)
    # Without --recent only the saved ones.
    assert all(r["kind"] == "saved" for r in _payloads(akd_module))
    table = akd_module.akctl("trigger", "payload", "list", "--trigger", "hook", "-p", "payloads", "--recent")
    assert table.returncode == 0 and "recent" in table.stdout and event_id in table.stdout


def _event_count(akd: Akd) -> int:
    """The project's events, less the hourly schedule's ticks (one may fall in a test)."""
    found = akd.akctl_json("event", "list", "--project", "payloads", "--limit", "1000")
    return len([e for e in found if e["event_type"] != "tick"])


def test_dispatch_to_one_waiting_session(akd_module: Akd, project: dict[str, Any]) -> None:
    started = akd_module.akctl_json("event", "dispatch", "--trigger", "wait", "-p", "payloads")
    (waiter,) = started["session_ids"]
    wait_for(lambda: akd_module.prints(waiter) == ["waiting"] or None, 60, what="the waiter to subscribe")
    sessions_before = _sessions_but_ticks(akd_module)
    events_before = _event_count(akd_module)

    def dispatch(trigger: str, session_id: str, *pairs: str) -> Any:
        args = ["event", "dispatch", "--trigger", trigger, "-p", "payloads", "--session", session_id]
        flags = [p for p in pairs if p.startswith("--")]
        data = [a for p in pairs if not p.startswith("--") for a in ("--data", p)]
        return akd_module.akctl(*args, *data, *flags)

    # Refused, nothing stored: no subscription on that trigger; the subscription's filter is
    # false; a session that has ended; a session that does not exist.
    none = dispatch("replies", waiter, "ok=true")
    assert none.returncode == 42 and f"session {waiter} has no subscription on trigger replies" in none.stderr
    false = dispatch("hook", waiter, "ok=false")
    assert false.returncode == 42 and "data.ok == true" in false.stderr and "was false" in false.stderr
    ended = dispatch("hook", _a_finished_session(akd_module), "ok=true")
    assert ended.returncode == 42 and "has ended (completed)" in ended.stderr
    unknown = dispatch("hook", "ses_" + "a" * 26, "ok=true")
    assert unknown.returncode == 44
    assert _event_count(akd_module) == events_before
    assert akd_module.prints(waiter) == ["waiting"]

    res = dispatch("hook", waiter, "ok=true", "n=5", "--json")
    assert res.returncode == 0, res.stderr
    sent = json.loads(res.stdout)
    assert sent["delivered_to"]["session_id"] == waiter and len(sent["delivered_to"]["subscriptions"]) == 1
    assert sent["session_ids"] == []
    got = akd_module.akctl_json("event", "get", sent["event_id"])
    assert got["trigger"] == "hook" and got["session_ids"] == [] and got["state"] == "dispatched"
    assert got["data"] == {"ok": True, "n": 5}
    done = akd_module.wait_session(waiter, ("completed", "error"), timeout=60)
    assert done["state"] == "completed", done
    assert akd_module.prints(waiter) == ["waiting", 'got {"n": 5, "ok": true}']
    # The hook trigger's own function never ran: no session started for the delivered event.
    assert _sessions_but_ticks(akd_module) == sessions_before
    assert _event_count(akd_module) == events_before + 1


def _sessions_but_ticks(akd: Akd) -> set[str]:
    """The project's sessions, less the hourly schedule's (a tick may fall in a test)."""
    found = akd.sessions(project="payloads", limit=1000)
    return {s["session_id"] for s in found if s["entrypoint"] != "program.py:on_tick"}


def _a_finished_session(akd: Akd) -> str:
    found = [s for s in akd.sessions(project="payloads", limit=1000) if s["state"] == "completed"]
    assert found, "the earlier tests left completed sessions"
    return str(found[0]["session_id"])


@pytest.fixture(scope="module")
def ui(browser: WebDriver, akd_module: Akd, project: dict[str, Any]) -> WebDriver:
    sign_in(browser, akd_module, "/projects/payloads")
    return browser


def _trigger_card(ui: WebDriver, name: str) -> Any:
    return ui.find_element(By.ID, f"trigger-{name}")


def test_web_save_a_payload_send_it_and_see_the_sync_response(ui: WebDriver, akd_module: Akd) -> None:
    browser = ui
    card = _trigger_card(browser, "answer")
    card.find_element(By.CSS_SELECTOR, "details.test-request summary").click()
    body = card.find_element(By.CSS_SELECTOR, "textarea[name=body]")
    body.clear()
    body.send_keys('{"name": "Dora"}')
    card.find_element(By.CSS_SELECTOR, "input[name=save_as]").send_keys("dora")
    card.find_element(By.CSS_SELECTOR, "button[data-save-payload]").click()

    def saved() -> list[str] | None:
        rows = akd_module.api("GET", "/projects/payloads/triggers/answer/payloads").json()
        return [r["name"] for r in rows] or None

    assert wait_for(saved, 20, what="the payload saved from the page") == ["dora"]
    # After the reload the page lists it; choosing it fills the body, Send posts it to the
    # sync webhook and the page shows that webhook's answer: status, headers and body.
    wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, "#trigger-answer option[value='saved:dora']") or None,
             20, what="the saved payload on the reloaded page")  # fmt: skip
    card = _trigger_card(browser, "answer")
    card.find_element(By.CSS_SELECTOR, "details.test-request summary").click()
    body = card.find_element(By.CSS_SELECTOR, "textarea[name=body]")
    body.clear()
    Select(card.find_element(By.CSS_SELECTOR, "select[data-payload-pick]")).select_by_value("saved:dora")
    assert json.loads(body.get_attribute("value") or "") == {"name": "Dora"}
    card.find_element(By.CSS_SELECTOR, "details.test-request button[type=submit]").click()
    out = card.find_element(By.CSS_SELECTOR, "output.result")
    wait_for(lambda: out.find_elements(By.CSS_SELECTOR, "pre.response-body") or None, 60, what="the sync response")
    assert out.find_element(By.CSS_SELECTOR, ".response-status").text.startswith("201")
    assert json.loads(out.find_element(By.CSS_SELECTOR, "pre.response-body").text) == {"echo": "Dora", "seen": True}
    headers = [e.text.lower() for e in out.find_elements(By.CSS_SELECTOR, ".response-headers dt")]
    assert "x-echo" in headers
    # A bad payload is refused with akd's message, nothing saved.
    body.clear()
    body.send_keys("[1, 2]")
    save_as = card.find_element(By.CSS_SELECTOR, "input[name=save_as]")
    save_as.clear()
    save_as.send_keys("list")
    card.find_element(By.CSS_SELECTOR, "button[data-save-payload]").click()
    wait_for(lambda: "not saved" in out.text or None, 20, what="the refusal")
    assert "JSON object" in out.text
    assert saved() == ["dora"]


def test_web_recent_requests_and_a_test_event_from_a_saved_payload(ui: WebDriver, akd_module: Akd) -> None:
    ui.get(akd_module.url + "/projects/payloads")
    # A webhook's recent requests are offered in its test form, as their JSON bodies.
    card = _trigger_card(ui, "hook")
    recent = card.find_elements(By.CSS_SELECTOR, "optgroup[label=Recent] option")
    assert recent, "the hook trigger's recent requests are offered"
    card.find_element(By.CSS_SELECTOR, "details.test-request summary").click()
    pick = Select(card.find_element(By.CSS_SELECTOR, "select[data-payload-pick]"))
    pick.select_by_value(str(recent[0].get_attribute("value")))
    assert json.loads(card.find_element(By.CSS_SELECTOR, "textarea[name=body]").get_attribute("value") or "") == {
        "real": "request"
    }
    # A trigger without a webhook: a saved payload sent as a manual event, edited first.
    akd_module.akctl_json("trigger", "payload", "save", "tick1", "--trigger", "hourly", "-p", "payloads",
                          "--data", "n=1")  # fmt: skip
    ui.get(akd_module.url + "/projects/payloads")
    card = _trigger_card(ui, "hourly")
    card.find_element(By.CSS_SELECTOR, "details.test-event summary").click()
    Select(card.find_element(By.CSS_SELECTOR, "select[data-payload-pick]")).select_by_value("saved:tick1")
    area = card.find_element(By.CSS_SELECTOR, "textarea[name=data]")
    assert json.loads(area.get_attribute("value") or "") == {"n": 1}
    area.clear()
    area.send_keys('{"n": 2, "edited": true}')
    card.find_element(By.CSS_SELECTOR, "details.test-event button.primary").click()
    wait_for(lambda: "/events/evt_" in ui.current_url or None, 20, what="the event page")
    event_id = ui.current_url.rsplit("/", 1)[1]
    ev = akd_module.akctl_json("event", "get", event_id)
    assert ev["data"] == {"n": 2, "edited": True} and ev["trigger"] == "hourly" and len(ev["session_ids"]) == 1
    done = akd_module.wait_session(ev["session_ids"][0], ("completed", "error"))
    assert done["state"] == "completed"
    assert akd_module.prints(ev["session_ids"][0]) == ['{"edited": true, "n": 2}']
    # Deleting a saved payload from the page (after its confirmation).
    ui.get(akd_module.url + "/projects/payloads")
    card = _trigger_card(ui, "hourly")
    card.find_element(By.CSS_SELECTOR, "ul.saved-payloads button").click()
    ui.switch_to.alert.accept()
    wait_for(lambda: "done=deleted" in ui.current_url or None, 20, what="the page after deleting")
    assert not _trigger_card(ui, "hourly").find_elements(By.CSS_SELECTOR, "ul.saved-payloads")
    left = akd_module.akctl_json("trigger", "payload", "list", "--trigger", "hourly", "-p", "payloads")
    assert left == []

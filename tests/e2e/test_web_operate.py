"""Operating from the web UI (issue 17, items 14-16), in a real headless Chromium against a real akd.

- 14: a running session's page updates its print count, steps, duration and timeline in
  place; the session, event and project lists refresh themselves without re-creating rows
  or moving the reader, and pause; a final session's page polls nothing.
- 15: vars (secrets masked), the key-value store, build files, deployment diffs, deletes
  behind a confirmation page that names what goes and a CSRF token, schedules' next and
  last fire times.
- 16: the duration chart's log scale, the session list's trigger and error columns and
  its trigger, state and time-range filters.

Screenshots go to ``$AKD_SCREENSHOT_DIR`` when set (``docs/screenshots/`` holds the
committed ones), else to a temporary directory.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

from akd.web import charts
from akd.web.render import duration
from tests.e2e.harness import Akd, wait_for, write_project
from tests.e2e.test_web import browser, chromium, fire, form_login, full_page_png, screenshot_dir, session_of, sign_in

__all__ = ["browser", "chromium"]  # fixtures shared with test_web, one browser per module

pytestmark = pytest.mark.e2e

MANIFEST = """\
version: v1
project:
  name: ops
  vars:
    - name: GREETING
      value: hello
  triggers:
    - name: ticker
      type: webhook
      call: program.py:ticker
    - name: quick
      type: webhook
      call: program.py:quick
    - name: fail
      type: webhook
      call: program.py:fail
    - name: work
      type: webhook
      call: program.py:work
"""

PROGRAM = """\
import time


def ticker(event):
    n = int((event.data.body.json or {}).get("n", 3))
    for i in range(n):
        print(f"tick {i} at {time.time():.0f}")
        time.sleep(0.3)
    return {"ticks": n}


def quick(event):
    print("quick", (event.data.body.json or {}).get("i"))
    return {"ok": True}


def fail(event):
    order = (event.data.body.json or {}).get("order", 7)
    raise ValueError(f"order {order} could not be shipped")


def work(event):
    time.sleep(float((event.data.body.json or {}).get("seconds", 0.1)))
    return "done"
"""


# -- fixtures and helpers --------------------------------------------------------------


@pytest.fixture(scope="module")
def ops_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_project(tmp_path_factory.mktemp("ops"), {"autokitteh.yaml": MANIFEST, "program.py": PROGRAM})


@pytest.fixture(scope="module")
def hooks(akd_module: Akd, ops_dir: Path) -> dict[str, str]:
    webhooks: dict[str, str] = akd_module.deploy(ops_dir)["webhooks"]
    return webhooks


@pytest.fixture(scope="module")
def ui(browser: WebDriver, akd_module: Akd, hooks: dict[str, str]) -> WebDriver:
    sign_in(browser, akd_module, "/sessions")
    return browser


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return screenshot_dir(tmp_path_factory.mktemp("shots"))


def js(driver: WebDriver, script: str, *args: Any) -> Any:
    return driver.execute_script(script, *args)


def text(driver: WebDriver, selector: str) -> str:
    """The text of the first match, "" while there is none (no stale element references)."""
    return str(js(driver, "const e = document.querySelector(arguments[0]); return e ? e.innerText : ''", selector))


def mark_page(driver: WebDriver) -> None:
    """A flag that a reload or a navigation would drop."""
    js(driver, "window.__samePage = true")


def same_page(driver: WebDriver) -> bool:
    return bool(js(driver, "return window.__samePage === true"))


def goto(driver: WebDriver, akd: Akd, path: str) -> None:
    driver.get(akd.url + path)
    wait_for(lambda: js(driver, "return document.readyState") == "complete", 20, what=f"{path} to load")


def click_and_wait(driver: WebDriver, element: Any, what: str) -> None:
    """Click something that loads a new page, and wait for the new page (not the old one)."""
    mark_page(driver)
    element.click()
    wait_for(lambda: not same_page(driver) and js(driver, "return document.readyState") == "complete", 20, what=what)


def ended(akd: Akd, hooks: dict[str, str], name: str, body: dict[str, Any] | None = None) -> str:
    sid = session_of(akd, fire(hooks[name], body))
    akd.wait_session(sid)
    return sid


def number(value: str) -> int:
    digits = re.sub(r"[^0-9]", "", value)
    return int(digits) if digits else -1


# -- 14: live pages --------------------------------------------------------------------


def test_a_running_sessions_page_updates_in_place_and_pauses(
    ui: WebDriver, akd_module: Akd, hooks: dict[str, str], shots: Path
) -> None:
    sid = session_of(akd_module, fire(hooks["ticker"], {"n": 45}))
    wait_for(lambda: akd_module.prints(sid), 30, what="the first print")
    goto(ui, akd_module, f"/sessions/{sid}")
    mark_page(ui)
    js(ui, "window.__facts = document.getElementById('facts')")
    first = (number(text(ui, "#prints-total")), number(text(ui, "#steps")), text(ui, "#duration"),
             len(ui.find_elements(By.CSS_SELECTOR, "#timeline li")))  # fmt: skip

    def moved() -> bool:
        assert same_page(ui), "the page reloaded while the session was running"
        now = (number(text(ui, "#prints-total")), number(text(ui, "#steps")), text(ui, "#duration"),
               len(ui.find_elements(By.CSS_SELECTOR, "#timeline li")))  # fmt: skip
        return now[0] >= first[0] + 3 and now[1] >= first[1] + 3 and now[2] != first[2] and now[3] > first[3]

    wait_for(moved, 30, interval=0.2, what="the print count, steps, duration and timeline to move live")
    assert "so far" in text(ui, "#duration")
    assert js(ui, "return document.getElementById('facts') === window.__facts"), "the facts were re-created"
    assert number(text(ui, "#prints-total")) <= len(akd_module.prints(sid))
    full_page_png(ui, shots / "session-live.png")

    ui.find_element(By.CSS_SELECTOR, "[data-live-toggle]").click()
    assert ui.find_element(By.CSS_SELECTOR, "[data-live-toggle]").get_attribute("aria-pressed") == "true"
    paused_at = (number(text(ui, "#prints-total")), text(ui, "#duration"))
    wait_for(lambda: len(akd_module.prints(sid)) >= paused_at[0] + 4, 30, what="more prints while paused")
    assert (number(text(ui, "#prints-total")), text(ui, "#duration")) == paused_at and same_page(ui)

    ui.find_element(By.CSS_SELECTOR, "[data-live-toggle]").click()
    wait_for(lambda: number(text(ui, "#prints-total")) > paused_at[0], 30, what="updates after resuming")
    akd_module.wait_session(sid, timeout=60)
    # Once final the page reloads itself once to show the outcome, then polls nothing.
    wait_for(lambda: '"ticks": 45' in text(ui, "#outcome"), 30, what="the return value")
    assert number(text(ui, "#prints-total")) == 45 and not ui.find_elements(By.CSS_SELECTOR, "[data-live-toggle]")
    time.sleep(2.0)  # nearly three poll intervals: a live page would have fetched by now
    polls = js(ui, "return performance.getEntriesByType('resource').map(e => e.name)"
                   ".filter(n => n.includes('/prints') || n.includes('/summary')).length")  # fmt: skip
    assert polls == 0, f"a final session's page polled {polls} times"


def test_session_list_refreshes_in_place_keeps_the_scroll_and_pauses(
    ui: WebDriver, akd_module: Akd, hooks: dict[str, str], shots: Path
) -> None:
    for i in range(34):  # enough rows to scroll
        fire(hooks["quick"], {"i": i})
    wait_for(lambda: len(akd_module.sessions(project="ops", state="completed", limit=100)) >= 34, 60,
             what="34 quick sessions")  # fmt: skip
    goto(ui, akd_module, "/sessions?project=ops")
    mark_page(ui)
    rows = ui.find_elements(By.CSS_SELECTOR, "tbody tr[data-key]")
    assert len(rows) >= 34
    js(ui, "window.scrollTo(0, 500)")
    wait_for(lambda: js(ui, "return window.scrollY") >= 400, 5, what="the page to scroll")
    probe = (
        "const r = document.elementFromPoint(400, 450); return r && r.closest('tr') ? r.closest('tr').dataset.key : ''"
    )
    under = js(ui, probe)
    assert under, "no row under the probe point"
    js(ui, "window.__row = document.querySelector(`tr[data-key='${arguments[0]}']`)", under)

    slow = session_of(akd_module, fire(hooks["work"], {"seconds": 3}))
    row = f"tr[data-key='{slow}']"
    wait_for(lambda: "running" in text(ui, row) or "completed" in text(ui, row), 30, what="the new session's row")
    wait_for(lambda: "completed" in text(ui, row), 30, what="its state to change in place")
    assert same_page(ui), "the list reloaded instead of refreshing in place"
    assert js(ui, "return document.querySelector(`tr[data-key='${arguments[0]}']`) === window.__row", under), (
        "an unchanged row was re-created"
    )
    assert js(ui, "return window.scrollY") >= 400 and js(ui, probe) == under, "the reader was moved"

    ui.find_element(By.CSS_SELECTOR, "[data-live-toggle]").click()
    count = js(ui, "return document.body.dataset.liveRefreshes")
    hidden = ended(akd_module, hooks, "quick", {"i": "paused"})
    time.sleep(4.5)  # two refresh intervals and more
    assert not ui.find_elements(By.CSS_SELECTOR, f"tr[data-key='{hidden}']")
    assert js(ui, "return document.body.dataset.liveRefreshes") == count and same_page(ui)
    ui.find_element(By.CSS_SELECTOR, "[data-live-toggle]").click()
    wait_for(lambda: ui.find_elements(By.CSS_SELECTOR, f"tr[data-key='{hidden}']"), 20, what="the row after resuming")


def test_event_and_project_lists_refresh(ui: WebDriver, akd_module: Akd, hooks: dict[str, str], tmp_path: Path) -> None:
    goto(ui, akd_module, "/events")
    mark_page(ui)
    event_id = fire(hooks["quick"], {"i": "event"})
    wait_for(lambda: ui.find_elements(By.CSS_SELECTOR, f"tr[data-key='{event_id}']"), 20, what="the new event")
    assert same_page(ui)
    goto(ui, akd_module, "/projects")
    mark_page(ui)
    manifest = "version: v2\nproject:\n  name: opsnew\n  triggers:\n    - name: hook\n      type: webhook\n"
    akd_module.deploy(write_project(tmp_path / "p", {"autokitteh.yaml": manifest, "program.py": "def f(e):\n  pass\n"}))
    wait_for(lambda: "opsnew" in text(ui, "[data-live='list']"), 20, what="the new project in the list")
    assert same_page(ui)


# -- 15: contents, builds, diffs, deletes, schedules -----------------------------------


def test_vars_page_masks_secrets(ui: WebDriver, akd_module: Akd, hooks: dict[str, str], shots: Path) -> None:
    secret = "s3cr3t-" + "x9" * 8
    res = akd_module.akctl("var", "set", "API_TOKEN", "-", "--secret", "--project", "ops", input=secret)
    assert res.returncode == 0, res.stderr
    assert akd_module.akctl("var", "set", "REGION", "eu-west-1", "--project", "ops").returncode == 0
    goto(ui, akd_module, "/projects/ops")
    click_and_wait(ui, ui.find_element(By.LINK_TEXT, "Vars"), "the vars page")
    table = text(ui, "#vars")
    assert "API_TOKEN" in table and "********" in table and "REGION" in table and "eu-west-1" in table
    assert "GREETING" in table and "hello" in table
    assert secret not in ui.page_source
    with httpx.Client(base_url=akd_module.url, timeout=30) as client:  # what any browser could be sent
        form_login(akd_module, client)
        assert secret not in client.get("/projects/ops/vars").text
    full_page_png(ui, shots / "vars.png")


def test_store_build_files_and_deployment_diff(
    ui: WebDriver, akd_module: Akd, hooks: dict[str, str], ops_dir: Path, shots: Path
) -> None:
    for key, value in (("orders/last", {"id": 1042, "items": ["tea", "cups"]}), ("counter", 41)):
        res = akd_module.api("PUT", f"/store/{key}", json={"project": "ops", "value": value})
        assert res.status_code == 200, res.text
    goto(ui, akd_module, "/projects/ops/store")
    store = text(ui, "#store")
    assert "orders/last" in store and '"tea"' in store and "counter" in store and "41" in store
    full_page_png(ui, shots / "store.png")

    goto(ui, akd_module, "/projects/ops")
    click_and_wait(ui, ui.find_element(By.LINK_TEXT, "Build files"), "the build page")
    assert "autokitteh.yaml" in text(ui, "#files") and "program.py" in text(ui, "#files")
    click_and_wait(ui, ui.find_element(By.LINK_TEXT, "program.py"), "the file page")
    assert "def ticker(event):" in text(ui, "#file")
    full_page_png(ui, shots / "build-file.png")

    (ops_dir / "program.py").write_text(PROGRAM.replace('return "done"', 'return "shipped"') + "\n\ndef extra(e):\n"
                                        "    return 2\n")  # fmt: skip
    (ops_dir / "notes.txt").write_text("a new file\n")
    (ops_dir / "autokitteh.yaml").write_text(MANIFEST + "    - name: extra\n      type: webhook\n"
                                             "      call: program.py:extra\n")  # fmt: skip
    try:
        akd_module.deploy(ops_dir)
        goto(ui, akd_module, "/projects/ops")
        click_and_wait(ui, ui.find_element(By.LINK_TEXT, "Diff deployments"), "the diff page")
        summary = text(ui, "#diff-summary")
        assert "3 file(s) changed" in summary and "manifest changed" in summary, summary
        changes = {e.get_attribute("data-path"): e.text for e in ui.find_elements(By.CSS_SELECTOR, ".file-change")}
        assert set(changes) == {"program.py", "notes.txt", "autokitteh.yaml"}, changes
        assert '+    return "shipped"' in changes["program.py"] and '-    return "done"' in changes["program.py"]
        assert "added" in changes["notes.txt"] and "+a new file" in changes["notes.txt"]
        manifest = text(ui, "#manifest-diff")
        assert "+    - name: extra" in manifest and "call: program.py:extra" in manifest
        assert ui.find_elements(By.CSS_SELECTOR, "#file-diffs .d-add") and ui.find_elements(By.CSS_SELECTOR, ".d-del")
        full_page_png(ui, shots / "diff.png")
    finally:
        (ops_dir / "notes.txt").unlink()
        (ops_dir / "program.py").write_text(PROGRAM)
        (ops_dir / "autokitteh.yaml").write_text(MANIFEST)
        akd_module.deploy(ops_dir)


def confirm_page(ui: WebDriver, akd: Akd, path: str) -> str:
    goto(ui, akd, path)
    return text(ui, "#confirm")


def test_deletes_confirm_what_is_lost_and_need_the_csrf_token(
    ui: WebDriver, akd_module: Akd, hooks: dict[str, str], tmp_path: Path, shots: Path
) -> None:
    # A project with a session, an event and a store key: the confirmation counts them.
    manifest = "version: v2\nproject:\n  name: opsgone\n  triggers:\n    - name: hook\n      type: webhook\n" \
               "      call: program.py:f\n"  # fmt: skip
    gone = akd_module.deploy(write_project(tmp_path / "g", {"autokitteh.yaml": manifest,
                                                            "program.py": "def f(e):\n    print('x')\n"}))  # fmt: skip
    ended(akd_module, gone["webhooks"], "hook")
    assert akd_module.api("PUT", "/store/k1", json={"project": "opsgone", "value": 1}).status_code == 200
    goto(ui, akd_module, "/projects/opsgone")
    click_and_wait(ui, ui.find_element(By.PARTIAL_LINK_TEXT, "Delete project"), "the confirmation page")
    lost = text(ui, "#lost")
    for line in ("1 session with", "1 event", "1 store key", "1 trigger", "1 deployment", "1 build"):
        assert line in lost, f"{line!r} not in {lost!r}"
    full_page_png(ui, shots / "confirm-delete.png")
    with httpx.Client(base_url=akd_module.url, timeout=30) as client:  # another form without the token
        form_login(akd_module, client)
        assert client.post("/projects/opsgone/delete").status_code == 403
        assert client.post("/projects/opsgone/delete", data={"csrf": "0" * 64}).status_code == 403
    assert akd_module.api("GET", "/projects/opsgone").status_code == 200
    click_and_wait(ui, ui.find_element(By.ID, "confirm-delete"), "the project list")
    assert ui.current_url.startswith(akd_module.url + "/projects") and "Deleted." in text(ui, "main")
    assert akd_module.api("GET", "/projects/opsgone").status_code == 404

    # A store key, a var, a session, an inactive deployment.
    assert akd_module.api("PUT", "/store/doomed", json={"project": "ops", "value": "bye"}).status_code == 200
    goto(ui, akd_module, "/projects/ops/store")
    click_and_wait(ui, ui.find_element(By.CSS_SELECTOR, "tr[data-key='doomed'] a.danger-link"), "the key's page")
    assert "key doomed and its value (5 bytes of JSON)" in text(ui, "#lost")
    click_and_wait(ui, ui.find_element(By.ID, "confirm-delete"), "the store page")
    assert akd_module.api("GET", "/store/doomed", params={"project": "ops"}).status_code == 404

    assert akd_module.akctl("var", "set", "DOOMED", "v", "--project", "ops").returncode == 0
    assert "var DOOMED and its value" in confirm_page(ui, akd_module, "/projects/ops/vars/DOOMED/delete")
    click_and_wait(ui, ui.find_element(By.ID, "confirm-delete"), "the vars page")
    assert "DOOMED" not in text(ui, "#vars")

    sid = ended(akd_module, hooks, "quick", {"i": "doomed"})
    goto(ui, akd_module, f"/sessions/{sid}")
    click_and_wait(ui, ui.find_element(By.PARTIAL_LINK_TEXT, "Delete"), "the session's confirmation")
    assert "1 print" in text(ui, "#lost") and "(completed)" in text(ui, "#lost")
    click_and_wait(ui, ui.find_element(By.ID, "confirm-delete"), "the session list")
    assert akd_module.api("GET", f"/sessions/{sid}").status_code == 404

    running = session_of(akd_module, fire(hooks["work"], {"seconds": 20}))
    wait_for(lambda: akd_module.session(running)["state"] == "running", 30, what="a running session")
    assert "stop it first" in confirm_page(ui, akd_module, f"/sessions/{running}/delete")
    assert not ui.find_elements(By.ID, "confirm-delete")
    akd_module.akctl("session", "stop", running, "--force", "--delay", "1s", timeout=60)

    inactive = [d for d in akd_module.api("GET", "/deployments", params={"project": "ops"}).json()
                if d["state"] == "inactive"]  # fmt: skip
    assert inactive, "test_store_build_files_and_deployment_diff left no inactive deployment"
    dep = inactive[0]["deployment_id"]
    assert f"deployment {dep} of project ops" in confirm_page(ui, akd_module, f"/deployments/{dep}/delete")
    click_and_wait(ui, ui.find_element(By.ID, "confirm-delete"), "the deployment list")
    assert akd_module.api("GET", f"/deployments/{dep}").status_code == 404


def test_schedules_show_next_and_last_fire_times(ui: WebDriver, akd_module: Akd, tmp_path: Path, shots: Path) -> None:
    manifest = "version: v2\nproject:\n  name: opsched\n  triggers:\n    - name: tick\n      type: schedule\n" \
               "      schedule: \"@every 2s\"\n      call: program.py:f\n"  # fmt: skip
    akd_module.deploy(write_project(tmp_path / "s", {"autokitteh.yaml": manifest, "program.py": "def f(e):\n  pass\n"}))

    def fired() -> bool:
        events = akd_module.api("GET", "/events", params={"project": "opsched"}).json()
        return any(e.get("event_type") == "tick" for e in events)

    wait_for(fired, 30, what="the schedule to fire")
    goto(ui, akd_module, "/projects/opsched")
    last = text(ui, ".trigger .last-fire")
    nxt = text(ui, ".trigger .next-fire")
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", last), last
    stamps = re.findall(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", nxt)
    assert stamps, nxt
    assert all(datetime.strptime(s, "%Y-%m-%d %H:%M:%S").timestamp() >= time.time() - 3 for s in stamps)
    full_page_png(ui, shots / "project.png")
    assert akd_module.akctl("deployment", "deactivate", "opsched").returncode == 0
    goto(ui, akd_module, "/projects/opsched")
    assert "paused" in text(ui, ".trigger .next-fire")


# -- 16: sessions list columns and filters, log-scale durations ------------------------


def local_input(t: float) -> str:
    return datetime.fromtimestamp(t).strftime("%Y-%m-%dT%H:%M:%S")


def test_session_list_trigger_and_error_columns_and_filters(
    ui: WebDriver, akd_module: Akd, hooks: dict[str, str], shots: Path
) -> None:
    early = ended(akd_module, hooks, "fail", {"order": 1})
    time.sleep(1.1)  # the time filter has one-second steps
    cut = time.time()
    time.sleep(0.1)
    late = ended(akd_module, hooks, "fail", {"order": 2})
    quick = ended(akd_module, hooks, "quick", {"i": "filters"})
    goto(ui, akd_module, "/sessions?project=ops")
    Select(ui.find_element(By.NAME, "trigger")).select_by_visible_text("fail")
    wait_for(lambda: "trigger=fail" in ui.current_url, 20, what="the trigger filter to apply")
    wait_for(lambda: ui.find_elements(By.CSS_SELECTOR, f"tr[data-key='{late}']"), 20, what="the filtered list")
    rows = ui.find_elements(By.CSS_SELECTOR, "tbody tr[data-key]")
    keys = {r.get_attribute("data-key") for r in rows}
    assert {early, late} <= keys and quick not in keys
    headers = [h.text.lower() for h in ui.find_elements(By.CSS_SELECTOR, "table.sessions th")]
    assert "trigger" in headers and "error" in headers
    row = text(ui, f"tr[data-key='{late}']")
    assert "fail" in row and "ValueError: order 2 could not be shipped" in row
    full_page_png(ui, shots / "sessions-filtered.png")

    since = local_input(cut)
    goto(ui, akd_module, f"/sessions?project=ops&trigger=fail&state=error&since={since}")
    keys = {r.get_attribute("data-key") for r in ui.find_elements(By.CSS_SELECTOR, "tbody tr[data-key]")}
    assert late in keys and early not in keys
    shown_since = str(ui.find_element(By.NAME, "since").get_attribute("value"))  # Chromium drops ":00" seconds
    assert datetime.fromisoformat(shown_since) == datetime.fromisoformat(since)
    chips = [a.get_attribute("href") for a in ui.find_elements(By.CSS_SELECTOR, ".chips a")]
    assert chips and all("trigger=fail" in h and "since=" in h and "project=ops" in h for h in chips)
    goto(ui, akd_module, f"/sessions?project=ops&trigger=fail&until={since}")
    keys = {r.get_attribute("data-key") for r in ui.find_elements(By.CSS_SELECTOR, "tbody tr[data-key]")}
    assert early in keys and late not in keys
    goto(ui, akd_module, "/sessions?project=ops&state=completed&trigger=quick")
    shown = [r.get_attribute("data-key") for r in ui.find_elements(By.CSS_SELECTOR, "tbody tr[data-key]")]
    assert shown and {text(ui, f"tr[data-key='{k}'] .badge") for k in shown} == {"completed"}
    goto(ui, akd_module, "/sessions?since=yesterday")
    assert "must be a date and time" in text(ui, "main")


def points(svg: str) -> list[tuple[float, float]]:
    """(value, cy) of every point of a line chart."""
    found = re.findall(r'<circle class="pt [^"]*" cx="[\d.]+" cy="([\d.]+)" r="3" data-value="([^"]+)"', svg)
    return [(float(v), float(cy)) for cy, v in found]


def assert_log_scale(pts: list[tuple[float, float]]) -> None:
    """Every point sits where log10 of its value puts it, between the lowest and the highest."""
    lo, hi = min(pts), max(pts)
    assert hi[0] >= 10 * lo[0], f"the data has no outlier: {pts}"
    for value, cy in pts:
        share = math.log10(value / lo[0]) / math.log10(hi[0] / lo[0])
        expected = lo[1] - share * (lo[1] - hi[1])
        assert abs(cy - expected) < 1.5, f"{value} at y={cy}, a log scale puts it at {expected:.1f}"


def test_log_scale_keeps_fast_points_apart_from_an_outlier() -> None:
    svg = str(charts.log_lines(["a", "b", "c", "d"], {"p50": [0.02, 0.05, 0.2, 120.0]}, "durations", duration))
    pts = points(svg)
    assert len(pts) == 4
    assert_log_scale(pts)
    by_value = dict(pts)
    # 0.4 of a decade of 5 over 204 px is 16 px; on a linear axis up to 200 s it was 0.03 px.
    assert by_value[0.02] - by_value[0.05] > 12, "an outlier pressed the fast points together"
    assert charts.log_range([0.02, 120.0]) == (0.01, 1000.0)


def test_stats_duration_chart_uses_a_log_scale(ui: WebDriver, akd_module: Akd, tmp_path: Path, shots: Path) -> None:
    manifest = "version: v2\nproject:\n  name: opstats\n  triggers:\n    - name: work\n      type: webhook\n" \
               "      call: program.py:work\n"  # fmt: skip
    hooks = akd_module.deploy(write_project(tmp_path / "st", {"autokitteh.yaml": manifest,
                                                             "program.py": PROGRAM}))["webhooks"]  # fmt: skip
    started = [fire(hooks["work"], {"seconds": s}) for s in (0.02, 0.02, 0.05, 0.1, 0.1, 0.2)]
    started.append(fire(hooks["work"], {"seconds": 3}))  # the outlier
    for event_id in started:
        akd_module.wait_session(session_of(akd_module, event_id), timeout=60)
    goto(ui, akd_module, "/stats?project=opstats&range=1h")
    svgs = ui.find_elements(By.CSS_SELECTOR, "svg.chart")
    assert len(svgs) == 2
    pts = points(str(svgs[1].get_attribute("outerHTML")))
    assert len({v for v, _ in pts}) >= 2, pts
    assert_log_scale(pts)
    plot_top, plot_bottom = 10.0, 240.0 - 26.0
    assert all(plot_top - 0.5 <= cy <= plot_bottom + 0.5 for _, cy in pts)
    full_page_png(ui, shots / "stats-outlier.png")


@pytest.fixture(autouse=True, scope="module")
def _stop_leftovers(akd_module: Akd) -> Iterator[None]:
    """Sessions a failed test left running would hold up the module daemon's shutdown."""
    yield
    for s in akd_module.sessions(state="running", limit=100):
        akd_module.akctl("session", "stop", s["session_id"], "--force", "--delay", "1s", timeout=60)

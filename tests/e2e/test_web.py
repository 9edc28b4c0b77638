"""The web UI (issue 7), end to end: a real akd, real sessions, a real headless Chromium.

Browser tests need Debian's ``chromium`` and ``chromium-driver`` (``/usr/bin/chromium``,
``/usr/bin/chromedriver``); without them they are skipped and say how to install them.
Screenshots go to ``$AKD_SCREENSHOT_DIR`` when set (``docs/screenshots/`` holds the committed ones),
else to a temporary directory.
"""

from __future__ import annotations

import os
import re
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from selenium import webdriver
from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By

from akd.ids import new_id
from akd.web import auth
from tests.e2e.harness import Akd, wait_for, write_project

pytestmark = pytest.mark.e2e

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage", "--window-size=1280,900",
)  # fmt: skip

MANIFEST = """\
version: v1
project:
  name: web
  triggers:
    - name: ticker
      type: webhook
      call: program.py:ticker
    - name: evil
      type: webhook
      call: program.py:evil
    - name: sleeper
      type: webhook
      call: program.py:sleeper
    - name: echo
      type: webhook
      call: program.py:echo
    - name: work
      type: webhook
      call: program.py:work
    - name: showcase
      type: webhook
      call: program.py:showcase
"""

PROGRAM = """\
import random
import time


def ticker(event):
    n = int((event.data.body.json or {}).get("n", 3))
    for i in range(n):
        print(f"tick {i}")
        time.sleep(0.5)
    return {"ticks": n}


def evil(event):
    print("<script>alert(1)</script>")
    print("a & b < c")


def sleeper(event):
    print("going to sleep")
    time.sleep(3600)


def echo(event):
    print("echo", event.data.body.text)


def work(event):
    cfg = event.data.body.json or {}
    time.sleep(cfg.get("seconds", 0.1))
    if cfg.get("fail"):
        raise ValueError(f"order {cfg.get('order')} could not be shipped")
    return {"order": cfg.get("order")}


def showcase(event):
    order = (event.data.body.json or {}).get("order", 1042)
    print(f"processing order {order}")
    for batch in range(3):
        checked_at = time.time()
        time.sleep(0.4)
        print(f"batch {batch}: inventory checked at {checked_at:.0f}")
    total = round(random.uniform(10, 99), 2)
    print(f"charging {total} EUR")
    time.sleep(0.3)
    print("<b>not bold</b>: prints are text")
    return {"order": order, "total": total, "status": "shipped"}
"""


# -- fixtures --------------------------------------------------------------------------


@pytest.fixture(scope="session")
def chromium() -> None:
    if not CHROMIUM.exists() or not CHROMEDRIVER.exists():
        pytest.skip(
            "browser tests need Debian's chromium and chromium-driver (/usr/bin/chromium, /usr/bin/chromedriver):"
            " apt-get install -y chromium chromium-driver"
        )


@pytest.fixture(scope="module")
def browser(chromium: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebDriver]:
    options = Options()
    options.binary_location = str(CHROMIUM)
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={tmp_path_factory.mktemp('chromium')}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def hooks(akd_module: Akd, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    root = write_project(tmp_path_factory.mktemp("web"), {"autokitteh.yaml": MANIFEST, "program.py": PROGRAM})
    webhooks: dict[str, str] = akd_module.deploy(root)["webhooks"]
    return webhooks


@pytest.fixture(scope="module")
def ui(browser: WebDriver, akd_module: Akd, hooks: dict[str, str]) -> WebDriver:
    """The browser, signed in through the login form."""
    sign_in(browser, akd_module, "/sessions")
    return browser


# -- helpers ---------------------------------------------------------------------------


def sign_in(driver: WebDriver, akd: Akd, path: str) -> None:
    driver.get(akd.url + path)
    wait_for(lambda: "/login" in driver.current_url, 10, what="the login form")
    driver.find_element(By.ID, "token").send_keys(akd.token)
    driver.find_element(By.CSS_SELECTOR, "section.login button[type=submit]").click()
    wait_for(lambda: driver.current_url == akd.url + path, 10, what=f"{path} after signing in")


def fire(url: str, body: dict[str, Any] | None = None) -> str:
    """POST to a webhook; returns the id of the one session the event started."""
    res = httpx.post(url, json=body or {}, timeout=10)
    assert res.status_code == 202, res.text
    return res.headers["AutoKitteh-Event-ID"]


def session_of(akd: Akd, event_id: str) -> str:
    def started() -> str | None:
        ids = akd.api("GET", f"/events/{event_id}").json()["session_ids"]
        return str(ids[0]) if ids else None

    return wait_for(started, 20, what=f"a session of {event_id}")


def text_of(driver: WebDriver, element_id: str) -> str:
    """The element's text, "" while the page reloads (no stale element references)."""
    script = "const e = document.getElementById(arguments[0]); return e ? e.innerText : ''"
    return str(driver.execute_script(script, element_id) or "")


def bearer(akd: Akd) -> dict[str, str]:
    return {"Authorization": f"Bearer {akd.token}"}


def page(akd: Akd, path: str, **kw: Any) -> httpx.Response:
    return httpx.get(akd.url + path, headers=bearer(akd), timeout=30, **kw)


def hidden_csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', html)
    assert found, "no CSRF field in the page"
    return found.group(1)


def screenshot_dir(tmp_path: Path) -> Path:
    target = Path(os.environ.get("AKD_SCREENSHOT_DIR") or tmp_path)
    target.mkdir(parents=True, exist_ok=True)
    return target


def full_page_png(driver: WebDriver, path: Path, width: int = 1280) -> None:
    """The whole page, not just the window: the viewport is stretched to the page's height."""
    height = int(driver.execute_script("return document.documentElement.scrollHeight"))
    metrics = {"width": width, "height": min(height, 4000), "deviceScaleFactor": 1, "mobile": False}
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
    try:
        assert driver.save_screenshot(str(path))
    finally:
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# -- browser tests ---------------------------------------------------------------------


def test_login_form_redirects_back_and_rejects_a_wrong_token(ui: WebDriver, akd_module: Akd) -> None:
    ui.delete_all_cookies()
    ui.get(akd_module.url + "/events")
    assert "/login?next=%2Fevents" in ui.current_url
    ui.find_element(By.ID, "token").send_keys("not-the-token")
    ui.find_element(By.CSS_SELECTOR, "section.login button[type=submit]").click()
    # The answer is a new page: wait for it rather than read the old one (a race under load).
    boxes = wait_for(lambda: ui.find_elements(By.CSS_SELECTOR, ".error-box"), 10, what="the wrong-token message")
    assert "Wrong token" in boxes[0].text
    ui.find_element(By.ID, "token").send_keys(akd_module.token)
    ui.find_element(By.CSS_SELECTOR, "section.login button[type=submit]").click()
    wait_for(lambda: ui.current_url == akd_module.url + "/events", 10, what="the events page")
    cookie = ui.get_cookie("akd_ui")
    assert cookie is not None and cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert akd_module.token not in cookie["value"] and akd_module.token not in ui.page_source


def test_prints_arrive_live_on_the_session_page(ui: WebDriver, akd_module: Akd, hooks: dict[str, str]) -> None:
    sid = session_of(akd_module, fire(hooks["ticker"], {"n": 12}))
    ui.get(f"{akd_module.url}/sessions/{sid}")
    ui.execute_script("window.__samePage = true")
    assert "tick 11" not in text_of(ui, "prints")

    def live_line() -> bool:
        same_page, prints = ui.execute_script(
            "return [window.__samePage === true, document.getElementById('prints').innerText]"
        )
        assert same_page or "tick 5" in prints, "the page reloaded before the prints arrived"
        return same_page and "tick 5" in prints

    wait_for(live_line, 30, interval=0.1, what="tick 5 to appear without a reload")
    # Once final, the page reloads itself to show the outcome and the whole timeline.
    wait_for(lambda: '"ticks": 12' in text_of(ui, "outcome"), 30, what="the return value on the page")
    assert text_of(ui, "state") == "completed" and "tick 11" in text_of(ui, "prints")
    timeline = text_of(ui, "timeline")
    assert "sleep(0.5)" in timeline and "completed" in timeline


def test_stop_a_sleeping_durable_session_from_the_ui(ui: WebDriver, akd_module: Akd, hooks: dict[str, str]) -> None:
    sid = session_of(akd_module, fire(hooks["sleeper"]))
    wait_for(lambda: "going to sleep" in akd_module.prints(sid), 30, what="the session to fall asleep")
    ui.get(f"{akd_module.url}/sessions/{sid}")
    assert text_of(ui, "state") == "running"
    ui.find_element(By.XPATH, "//button[text()='Stop']").click()
    ui.switch_to.alert.accept()
    wait_for(lambda: text_of(ui, "state") == "stopped", 30, what="the page to show the session stopped")
    assert akd_module.session(sid)["state"] == "stopped"
    assert "stopped from the web UI" in ui.page_source


def test_a_print_holding_a_script_tag_renders_as_text(ui: WebDriver, akd_module: Akd, hooks: dict[str, str]) -> None:
    sid = session_of(akd_module, fire(hooks["evil"]))
    akd_module.wait_session(sid)
    ui.get(f"{akd_module.url}/sessions/{sid}")
    with pytest.raises(NoAlertPresentException):
        ui.switch_to.alert.text  # noqa: B018 - reading it is the check
    assert "<script>alert(1)</script>" in text_of(ui, "prints")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in ui.page_source
    assert not ui.find_elements(By.CSS_SELECTOR, "#prints script")
    for path in (f"/sessions/{sid}", f"/sessions/{sid}/prints?after=0"):  # the full page and the live fragment
        html = page(akd_module, path).text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>alert(1)" not in html
        assert "a &amp; b &lt; c" in html


def test_send_test_request_form_posts_to_the_webhook(ui: WebDriver, akd_module: Akd, hooks: dict[str, str]) -> None:
    ui.get(f"{akd_module.url}/projects/web")
    card = ui.find_element(By.XPATH, "//section[contains(@class,'trigger')][h3[starts-with(normalize-space(),'echo')]]")
    assert hooks["echo"] in card.text
    card.find_element(By.TAG_NAME, "summary").click()
    body = card.find_element(By.NAME, "body")
    body.clear()
    body.send_keys('{"hello": "from the UI"}')
    card.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    result = card.find_element(By.CSS_SELECTOR, "output.result")
    wait_for(lambda: "202" in result.text and "evt_" in result.text, 15, what="the webhook's answer")
    result.find_element(By.TAG_NAME, "a").click()
    wait_for(lambda: "/events/evt_" in ui.current_url, 10, what="the event page")
    assert "from the UI" in ui.find_element(By.CSS_SELECTOR, "pre.code").text
    sid = ui.find_element(By.CSS_SELECTOR, "a[href^='/sessions/ses_']").text
    assert akd_module.wait_session(sid)["state"] == "completed"


# -- auth, CSRF, bearer (plain HTTP) ---------------------------------------------------


def form_login(akd: Akd, client: httpx.Client) -> None:
    """Sign a plain HTTP client in through the login form, the way a browser does it."""
    form = client.get("/login?next=/events")
    res = client.post("/login", data={"token": akd.token, "csrf": hidden_csrf(form.text), "next": "/events"})
    assert res.status_code == 303 and res.headers["location"] == "/events"
    assert "akd_ui" in client.cookies and akd.token not in client.cookies["akd_ui"]


def test_posts_without_the_csrf_token_are_rejected(akd_module: Akd, hooks: dict[str, str]) -> None:
    sid = session_of(akd_module, fire(hooks["echo"]))
    akd_module.wait_session(sid)
    with httpx.Client(base_url=akd_module.url, timeout=30) as client:
        form_login(akd_module, client)
        csrf = hidden_csrf(client.get(f"/sessions/{sid}").text)
        assert client.post(f"/sessions/{sid}/restart").status_code == 403
        assert client.post(f"/sessions/{sid}/restart", data={"csrf": "0" * 64}).status_code == 403
        assert client.post("/logout", data={}).status_code == 403
        res = client.post(f"/sessions/{sid}/restart", data={"csrf": csrf})
        assert res.status_code == 303
        new_sid = res.headers["location"].split("?")[0].rsplit("/", 1)[-1]
        assert new_sid != sid and akd_module.wait_session(new_sid)["state"] == "completed"
        assert client.post("/logout", data={"csrf": csrf}).status_code == 303
        assert client.get("/sessions").status_code == 303  # signed out
    with httpx.Client(base_url=akd_module.url, timeout=10) as client:  # a login form needs its own nonce cookie
        form = client.get("/login")
        client.cookies.clear()
        res = client.post("/login", data={"token": akd_module.token, "csrf": hidden_csrf(form.text)})
        assert res.status_code == 403 and "akd_ui" not in res.headers.get("set-cookie", "")


def test_unauthenticated_requests_go_to_the_login_form_or_get_401(akd_module: Akd, hooks: dict[str, str]) -> None:
    with httpx.Client(base_url=akd_module.url, timeout=10) as client:
        for path in ("/", "/sessions?state=error", "/stats"):
            res = client.get(path)
            assert res.status_code == 303 and res.headers["location"].startswith("/login?next=")
        assert client.post("/sessions/ses_01jd3k0000000000000000000a/stop").status_code == 303
        assert client.get("/sessions/ses_01jd3k0000000000000000000a/prints").status_code == 401
        assert client.get("/sessions", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert client.get("/sessions", headers={"Cookie": "akd_ui=1700000000.forged"}).status_code == 303
        assert client.get("/login/link").status_code == 405
        assert client.post("/login/link").status_code == 401
        assert client.get("/static/app.css").status_code == 200
        assert client.get("/login?next=//evil.example").status_code == 200


def test_pages_accept_the_api_token_as_bearer(akd_module: Akd, hooks: dict[str, str]) -> None:
    event_id = fire(hooks["echo"], {"who": "bearer"})
    sid = session_of(akd_module, event_id)
    akd_module.wait_session(sid)
    expected = {
        "/": "web",
        "/projects/web": hooks["echo"],
        "/deployments": "active",
        "/sessions?project=web&state=completed": sid,
        f"/sessions/{sid}": "program.py:echo",
        "/events": event_id,
        f"/events/{event_id}": "bearer",
        "/stats?range=1h": "Duration percentiles",
    }
    for path, text in expected.items():
        res = page(akd_module, path)
        assert res.status_code == 200, f"{path}: {res.status_code}"
        assert text in res.text, f"{path} lacks {text!r}"
        assert (
            res.headers["X-Frame-Options"] == "DENY" and "script-src 'self'" in res.headers["Content-Security-Policy"]
        )
    res = httpx.post(f"{akd_module.url}/events/{event_id}/redispatch", headers=bearer(akd_module), timeout=30)
    assert res.status_code == 303  # bearer requests need no CSRF token
    new_event = res.headers["location"].split("?")[0].rsplit("/", 1)[-1]
    assert new_event != event_id and session_of(akd_module, new_event)
    assert page(akd_module, "/sessions/ses_01jd3k0000000000000000000a").status_code == 404
    assert page(akd_module, "/sessions?state=bogus").status_code == 400


def test_one_time_login_link(akd_module: Akd) -> None:
    res = httpx.post(f"{akd_module.url}/login/link", headers=bearer(akd_module), timeout=10)
    assert res.status_code == 200
    url = res.json()["url"]
    assert url.startswith(akd_module.url + "/login?ticket=") and akd_module.token not in url
    with httpx.Client(timeout=10) as client:
        first = client.get(url)
        assert first.status_code == 200 and "akd_ui" in client.cookies
        assert client.get(akd_module.url + "/sessions").status_code == 200
    assert httpx.get(url, timeout=10).status_code == 401  # used up


def test_deployments_activate_and_deactivate(akd_module: Akd, tmp_path: Path) -> None:
    manifest = "version: v2\nproject:\n  name: webdeps\n  triggers:\n    - name: hook\n      type: webhook\n"
    root = write_project(tmp_path / "p", {"autokitteh.yaml": manifest, "program.py": "def f(event):\n    pass\n"})
    first = akd_module.deploy(root)["deployment_id"]
    (root / "program.py").write_text("def f(event):\n    return 2\n")
    second = akd_module.deploy(root)["deployment_id"]
    assert first != second
    post = {"headers": bearer(akd_module), "timeout": 30}
    assert httpx.post(f"{akd_module.url}/deployments/{first}/activate", **post).status_code == 303
    assert akd_module.api("GET", f"/deployments/{first}").json()["state"] == "active"
    assert akd_module.api("GET", f"/deployments/{second}").json()["state"] == "inactive"
    html = page(akd_module, "/deployments?project=webdeps&done=activated").text
    assert "Deployment activated" in html and html.count("Activate</button>") == 1
    assert httpx.post(f"{akd_module.url}/deployments/{first}/deactivate", **post).status_code == 303
    assert akd_module.api("GET", f"/deployments/{first}").json()["state"] == "inactive"


# -- screenshots -----------------------------------------------------------------------


def test_screenshots_of_a_session_and_of_stats(
    ui: WebDriver, akd_module: Akd, hooks: dict[str, str], tmp_path: Path
) -> None:
    """Real sessions of several kinds over a few seconds, then the two pages the README shows."""
    started = []
    for i in range(24):
        started.append(fire(hooks["work"], {"order": 1000 + i, "seconds": 0.1 + (i % 7) * 0.25, "fail": i % 6 == 5}))
        time.sleep(0.3)  # spread over a few seconds, for the chart
    showcase = session_of(akd_module, fire(hooks["showcase"], {"order": 1042}))
    for event_id in started:
        akd_module.wait_session(session_of(akd_module, event_id))
    akd_module.wait_session(showcase)
    target = screenshot_dir(tmp_path)
    ui.get(f"{akd_module.url}/sessions/{showcase}")
    assert "shipped" in ui.page_source
    full_page_png(ui, target / "session.png")
    ui.get(f"{akd_module.url}/stats?project=web")
    assert ui.find_elements(By.CSS_SELECTOR, "svg.chart rect.bar.st-error")
    full_page_png(ui, target / "stats.png")


# -- 10,000 sessions -------------------------------------------------------------------

# Only ended ones: akd resumes created and running sessions at start-up.
STATES = ("completed", "completed", "completed", "error", "stopped", "completed", "completed")


def insert_sessions(db_path: Path, count: int) -> None:
    """``count`` ended and live sessions of the deployed project, spread over a week, in one transaction."""
    conn = sqlite3.connect(db_path)
    try:
        dep = conn.execute(
            "SELECT deployment_id, project_id, build_id FROM deployments WHERE state='active'"
        ).fetchone()
        now = time.time()
        rows = []
        for i in range(count):
            created = now - 7 * 86400 + i * (7 * 86400 / count)
            state = STATES[i % len(STATES)]
            ended = created + 0.05 + (i % 97) * 0.03
            error = '{"type": "ValueError", "message": "synthetic", "traceback": ""}' if state == "error" else None
            rows.append((new_id("ses"), dep[1], dep[0], dep[2], "program.py:f", 1, state, error, "null", 1,
                         created, ended, created, ended))  # fmt: skip
        with conn:
            conn.executemany(
                "INSERT INTO sessions (session_id, project_id, deployment_id, build_id, entrypoint, durable, state,"
                " error, return_value, steps, created_at, updated_at, started_at, ended_at)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                rows,
            )
    finally:
        conn.close()


def timed_page(akd: Akd, path: str) -> tuple[httpx.Response, float]:
    started = time.perf_counter()
    res = page(akd, path)
    return res, time.perf_counter() - started


def session_rows(html: str) -> list[str]:
    return re.findall(r'<td class="mono"><a href="/sessions/(ses_[0-9a-z]{26})">', html)


@pytest.mark.sqlite_file
def test_session_pages_stay_responsive_with_10000_sessions(akd: Akd, tmp_path: Path) -> None:
    manifest = "version: v2\nproject:\n  name: many\n  triggers:\n    - name: hook\n      type: webhook\n"
    akd.deploy(write_project(tmp_path / "p", {"autokitteh.yaml": manifest, "program.py": "def f(event):\n  pass\n"}))
    akd.akctl("down", timeout=60)
    wait_for(lambda: not (akd.data_dir / "daemon.json").exists(), 30, what="akd to stop")
    insert_sessions(akd.data_dir / "akd.db", 10_000)
    akd.up()
    first, t0 = timed_page(akd, "/sessions")  # the first request also compiles the templates
    first, t1 = timed_page(akd, "/sessions")
    assert first.status_code == 200 and len(session_rows(first.text)) == 50
    older = re.search(r'href="(/sessions\?[^"]*before=ses_[^"]+)" rel="next"', first.text)
    assert older, "page 1 has no link to older sessions"
    second, t2 = timed_page(akd, older.group(1).replace("&amp;", "&"))
    page2 = session_rows(second.text)
    assert second.status_code == 200 and len(page2) == 50 and not set(page2) & set(session_rows(first.text))
    assert page2 == sorted(page2, reverse=True) and page2[0] < session_rows(first.text)[-1]
    newer = re.search(r'href="(/sessions\?[^"]*after=ses_[^"]+)" rel="prev"', second.text)
    assert newer, "page 2 has no link to newer sessions"
    assert session_rows(page(akd, newer.group(1).replace("&amp;", "&")).text) == session_rows(first.text)
    assert 'href="/sessions">« Newest' in second.text
    filtered, t3 = timed_page(akd, "/sessions?project=many&state=error")
    assert filtered.status_code == 200 and len(session_rows(filtered.text)) == 50
    assert "10,000" in first.text  # the "all" chip counts every session
    stats, t4 = timed_page(akd, "/stats?range=7d")
    _, t5 = timed_page(akd, "/api/v1/sessions?limit=50")  # the JSON API on the same daemon, for comparison
    assert stats.status_code == 200 and "st-error" in stats.text
    ms = [f"{t * 1000:.0f} ms" for t in (t0, t1, t2, t3, t4, t5)]
    print(f"\n10,000 sessions: /sessions {ms[0]} (first), {ms[1]}, page 2 {ms[2]}, state filter {ms[3]},"
          f" /stats 7d {ms[4]}; JSON API list {ms[5]}")  # fmt: skip


# -- signed values (no daemon needed) --------------------------------------------------


def test_session_cookie_values_expire_and_cannot_be_forged() -> None:
    now = 1_800_000_000.0
    value = auth.session_value("secret", now)
    assert "secret" not in value
    assert auth.session_ok("secret", value, now + 3600)
    assert not auth.session_ok("secret", value, now + auth.SESSION_TTL + 1)
    assert not auth.session_ok("another token", value, now)
    issued, mac = value.split(".")
    assert not auth.session_ok("secret", f"{int(issued) + 86400}.{mac}", now)
    later = auth.session_value("secret", now + 1)
    assert auth.csrf_token("secret", value) != auth.csrf_token("secret", later)


def test_login_redirects_stay_on_this_site() -> None:
    assert auth.safe_next("/sessions?state=error") == "/sessions?state=error"
    for bad in ("//evil.example/x", "https://evil.example", "/\\evil.example", "", None, "/a\nb"):
        assert auth.safe_next(bad) == "/"


def test_login_tickets_work_once_and_expire() -> None:
    tickets = auth.Tickets()
    ticket = tickets.mint(100.0)
    assert tickets.redeem(ticket, 101.0)
    assert not tickets.redeem(ticket, 101.0)
    late = tickets.mint(100.0)
    assert not tickets.redeem(late, 100.0 + auth.TICKET_TTL + 1)

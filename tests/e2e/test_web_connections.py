"""The project page's connections (connections issue, item 8), in headless Chromium:
status, the token form ("Init") and "Test", against a local Slack stand-in; and a
connection's own page (connection events issue, item 6): its deliveries and the
"Simulate" form."""

from __future__ import annotations

from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import Select

from tests.e2e.harness import Akd, wait_for, write_project
from tests.e2e.test_connections import GOOD_SLACK, vendor, vendors  # noqa: F401 - the stand-in fixtures
from tests.e2e.test_web import browser, chromium, full_page_png, screenshot_dir, sign_in  # noqa: F401

pytestmark = pytest.mark.e2e

MANIFEST = """\
version: v2
project:
  name: webconns
  connections:
    - name: slack_conn
      integration: slack
  triggers:
    - name: go
      type: webhook
      call: program.py:run
"""


def _card(driver: WebDriver) -> str:
    script = "const e = document.querySelector('[data-connection=slack_conn]'); return e ? e.innerText : ''"
    return str(driver.execute_script(script) or "")


def _bot_token_form(driver: WebDriver) -> WebElement:
    """The bot-token mode's form, its <details> opened as a person would."""
    form = driver.find_element(By.XPATH, "//section[@data-connection='slack_conn']"
                                         "//form[input[@name='auth_type' and @value='botToken']]")  # fmt: skip
    details = form.find_element(By.XPATH, "./ancestor::details")
    if details.get_attribute("open") is None:
        details.find_element(By.TAG_NAME, "summary").click()
    return form


def test_init_and_test_a_connection_from_the_project_page(
    browser: WebDriver,  # noqa: F811
    akd_module: Akd,
    vendor: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    akd_module.deploy(write_project(tmp_path / "p", {"autokitteh.yaml": MANIFEST,
                                                     "program.py": "def run(event):\n    pass\n"}))  # fmt: skip
    ref = ("--connection", "webconns/slack_conn")
    assert akd_module.akctl("var", "set", "base_url", f"{vendor}/api/", *ref).returncode == 0
    sign_in(browser, akd_module, "/projects/webconns")
    assert "init required" in _card(browser)
    form = _bot_token_form(browser)
    token = form.find_element(By.NAME, "var_private_bot_token")
    assert token.get_attribute("type") == "password"
    token.send_keys("xoxb-wrong")
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait_for(lambda: "invalid_auth" in _card(browser), 15, what="the vendor's refusal on the page")
    assert "error" in _card(browser)
    form = _bot_token_form(browser)
    form.find_element(By.NAME, "var_private_bot_token").send_keys(GOOD_SLACK)
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait_for(lambda: "\nok" in _card(browser) or " ok" in _card(browser), 15, what="status ok on the page")
    browser.find_element(By.CSS_SELECTOR, "[data-connection=slack_conn] .actions button").click()
    wait_for(lambda: "accepted its credentials" in browser.page_source, 15, what="the test's notice")
    assert GOOD_SLACK not in browser.page_source  # the token is never shown back
    full_page_png(browser, screenshot_dir(tmp_path) / "project-connections.png")
    assert akd_module.akctl_json("connection", "list", "--project", "webconns")[0]["status"] == "ok"


def test_connect_with_oauth_from_the_project_page(browser: WebDriver, tmp_path: Path) -> None:  # noqa: F811
    from tests.e2e.test_oauth import CLIENT_ID, CLIENT_SECRET
    from tests.standins.oauth import OAuthStandIn

    with OAuthStandIn(CLIENT_ID, CLIENT_SECRET) as standin:
        akd = Akd(tmp_path / "data")
        akd.data_dir.mkdir(parents=True)
        (akd.data_dir / "akd.toml").write_text(
            f'[oauth.github]\nauthorize_url = "{standin.url}/authorize"\ntoken_url = "{standin.url}/token"\n'
        )
        akd.up()
        try:
            manifest = MANIFEST.replace("name: webconns", "name: weboauth").replace(
                "name: slack_conn\n      integration: slack", "name: gh\n      integration: github"
            )
            akd.deploy(write_project(tmp_path / "p", {"autokitteh.yaml": manifest,
                                                      "program.py": "def run(event):\n    pass\n"}))  # fmt: skip
            res = akd.akctl("integration", "configure", "github", "--client-id", CLIENT_ID, "--client-secret", "-",
                            input=CLIENT_SECRET + "\n")  # fmt: skip
            assert res.returncode == 0, res.stderr
            sign_in(browser, akd, "/projects/weboauth")
            button = browser.find_element(By.XPATH, "//section[@data-connection='gh']//button[.='Connect with OAuth']")
            button.click()  # to the stand-in's authorize page, which approves and sends the browser back to akd
            wait_for(lambda: "you can close this tab" in browser.page_source, 20, what="akd's callback page")
            conn = akd.akctl_json("connection", "list", "--project", "weboauth")[0]
            assert conn["status"] == "ok", conn
            browser.get(akd.url + "/projects/weboauth")
            card = str(browser.execute_script(
                "return document.querySelector('[data-connection=gh]').innerText"))  # fmt: skip
            assert " ok" in card or "\nok" in card, card
        finally:
            akd.down()


GH_SECRET = "It's a Secret to Everybody"

DELIVERIES_MANIFEST = """\
version: v2
project:
  name: webdeliv
  connections:
    - name: gh
      integration: github
    - name: bare
      integration: github
  triggers:
    - name: on_comment
      connection: gh
      event_type: issue_comment
      call: program.py:on_comment
"""


def _open(driver: WebDriver, akd: Akd, path: str) -> None:
    """Open ``path``, signing in first if this browser has no session with ``akd``."""
    driver.get(akd.url + path)
    if "/login" in driver.current_url:
        driver.find_element(By.ID, "token").send_keys(akd.token)
        driver.find_element(By.CSS_SELECTOR, "section.login button[type=submit]").click()
        wait_for(lambda: driver.current_url == akd.url + path, 10, what=f"{path} after signing in")


def _simulate_form(driver: WebDriver, event_type: str, data: str) -> None:
    form = driver.find_element(By.CSS_SELECTOR, "form.simulate")
    Select(form.find_element(By.NAME, "event_type")).select_by_visible_text(event_type)
    box = form.find_element(By.NAME, "data")
    box.clear()
    box.send_keys(data)
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()


def test_connection_page_lists_deliveries_and_simulates_one(
    browser: WebDriver,  # noqa: F811
    akd_module: Akd,
    tmp_path: Path,
) -> None:
    program = "def on_comment(event):\n    print('web', event.data.comment.body)\n"
    akd_module.deploy(write_project(tmp_path / "p", {"autokitteh.yaml": DELIVERIES_MANIFEST, "program.py": program}))
    res = akd_module.akctl("var", "set", "pat_secret", GH_SECRET, "--secret", "--connection", "webdeliv/gh")
    assert res.returncode == 0, res.stderr
    _open(browser, akd_module, "/projects/webdeliv")
    browser.find_element(By.LINK_TEXT, "gh").click()  # the project page's card links to the connection's page
    wait_for(lambda: browser.current_url.endswith("/projects/webdeliv/connections/gh"), 10, what="the page")
    assert "No deliveries yet" in browser.page_source
    url = akd_module.akctl_json("connection", "get", "webdeliv/gh")["webhook_url"]
    assert url in browser.page_source
    options = [o.text for o in browser.find_elements(By.CSS_SELECTOR, "form.simulate select[name=event_type] option")]
    assert options == ["issue_comment", "issues", "pull_request", "push"]

    _simulate_form(browser, "issue_comment", '{"comment": {"body": "from the browser"}}')
    notice = wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, "[data-simulated]"), 20, what="the notice")
    event_id = str(notice[0].get_attribute("data-simulated"))
    row = browser.find_element(By.CSS_SELECTOR, f"tr[data-event='{event_id}']")
    assert "issue_comment" in row.text
    delivery = akd_module.akctl_json("event", "get", event_id)
    assert delivery["delivery"]["delivery_id"] in row.text  # the delivery id, as `event get` has it
    sid = wait_for(lambda: akd_module.akctl_json("event", "get", event_id)["session_ids"], 30)[0]
    assert akd_module.wait_session(sid)["state"] == "completed"
    assert akd_module.prints(sid) == ["web from the browser"]
    browser.refresh()
    row = browser.find_element(By.CSS_SELECTOR, f"tr[data-event='{event_id}']")
    assert "dispatched" in row.text, row.text
    full_page_png(browser, screenshot_dir(tmp_path) / "connection-deliveries.png")
    row.find_element(By.LINK_TEXT, event_id).click()
    wait_for(lambda: browser.current_url.endswith(f"/events/{event_id}"), 10, what="the event's page")
    # The event's page shows the raw delivery and how it was verified.
    delivery = wait_for(lambda: browser.find_elements(By.ID, "delivery"), 10, what="the delivery section")[0].text
    assert "X-Hub-Signature-256" in delivery and "github X-Hub-Signature-256" in delivery, delivery
    assert "from the browser" in delivery and "webdeliv/gh" in delivery

    # Refusals stay on the page, with the reason and the form as it was.
    _open(browser, akd_module, "/projects/webdeliv/connections/gh")
    _simulate_form(browser, "push", "[1, 2]")
    error = wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, "[data-simulate-error]"), 20, what="the error")
    assert "JSON object" in error[0].text
    assert browser.find_element(By.NAME, "data").get_attribute("value") == "[1, 2]"
    _open(browser, akd_module, "/projects/webdeliv/connections/bare")
    _simulate_form(browser, "push", "")
    error = wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, "[data-simulate-error]"), 20, what="the error")
    assert "pat_secret" in error[0].text
    assert akd_module.akctl_json("event", "list", "--connection", "webdeliv/bare") == []

"""The built extension in a real editor: code-server (VS Code in the browser) driven by
headless Chromium through selenium.

code-server is not one of the extension's own packages (it is hundreds of MB with native
modules): install it with ``vscode/install_code_server.sh DIR`` and point
``AKD_CODE_SERVER`` at ``DIR/node_modules/.bin/code-server`` (or put ``code-server`` on
PATH); docs/vscode.md says why a plain npm install does not work.

:func:`check_editor` opens a project folder with a daemon running and walks the loop
(status bar, views, deploy from the palette, a session document, a code lens, a
diagnostic, deploy on save); :func:`check_start_offer` opens one with no daemon and
starts it from the notification.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import TypeVar

import httpx
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
T = TypeVar("T")
# Starts a session of the project by a webhook call with this JSON body; returns its id.
StartSession = Callable[[dict[str, str]], str]
_AKD_TAB = '.activitybar [aria-label^="akd"]'


def code_server() -> str | None:
    """The code-server command: ``$AKD_CODE_SERVER``, else ``code-server`` on PATH."""
    return os.environ.get("AKD_CODE_SERVER") or shutil.which("code-server")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _wait(cond: Callable[[], T | None], timeout: float, what: str) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            found = cond()
        except Exception:  # the page is still loading: elements come and go
            found = None
        if found:
            return found
        time.sleep(0.25)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


@contextmanager
def running_code_server(binary: str, vsix: Path, home: Path, settings: dict[str, object]) -> Iterator[str]:
    """code-server with the extension installed and ``settings`` as user settings; yields its URL."""
    ext_dir, user_dir = home / "extensions", home / "user"
    (user_dir / "User").mkdir(parents=True)
    (user_dir / "User" / "settings.json").write_text(json.dumps(settings))
    common = ["--extensions-dir", str(ext_dir), "--user-data-dir", str(user_dir)]
    # code-server writes a default config file under XDG_CONFIG_HOME: keep it in `home`.
    env = {**os.environ, "XDG_CONFIG_HOME": str(home / "config")}
    subprocess.run(
        [binary, *common, "--install-extension", str(vsix)], check=True, capture_output=True, timeout=180, env=env
    )
    port = _free_port()
    log = (home / "code-server.log").open("w")
    proc = subprocess.Popen(
        [binary, *common, "--auth", "none", "--bind-addr", f"127.0.0.1:{port}", "--disable-telemetry",
         "--disable-update-check", "--disable-workspace-trust"],
        stdout=log, stderr=subprocess.STDOUT, env=env,
    )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"
        _wait(lambda: _answers(url), 120, "code-server to listen")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(15)
        log.close()


def _answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


def _browser(profile: Path, hosts: dict[str, str] | None = None) -> WebDriver:
    """Headless Chromium; ``hosts`` maps host names to addresses (its own resolver, as /etc/hosts)."""
    options = Options()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1400,900",
                 "--no-first-run", "--disable-background-networking", f"--user-data-dir={profile}"):  # fmt: skip
        options.add_argument(flag)
    if hosts:
        options.add_argument("--host-resolver-rules=" + ", ".join(f"MAP {k} {v}" for k, v in hosts.items()))
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(60)
    return driver


def check_start_offer(url: str, folder: Path, screenshot: Path, profile: Path) -> dict[str, str]:
    """No daemon runs: the editor says so and offers Start akd; clicking it starts one and connects."""
    driver = _browser(profile)
    try:
        driver.get(f"{url}/?folder={folder}")
        toast = _wait(lambda: _toast(driver, "akd is not running"), 120, "the not-running notification")
        message = str(toast.text)
        before = _status(driver) or ""
        button = next(b for b in toast.find_elements(By.CSS_SELECTOR, ".monaco-button") if b.text == "Start akd")
        button.click()
        after = _wait(lambda: (t := _status(driver)) and "akd 0." in t and t, 240, "akd to start and connect")
        return {"message": message, "before": before, "after": str(after)}
    except Exception:
        driver.save_screenshot(str(screenshot))
        raise
    finally:
        driver.quit()


def _toast(driver: WebDriver, text: str) -> WebElement | None:
    return next((t for t in driver.find_elements(By.CSS_SELECTOR, ".notification-toast") if text in t.text), None)


def check_editor(
    url: str, folder: Path, project: str, screenshot: Path, profile: Path, start_session: StartSession
) -> dict[str, str]:
    """Open ``folder`` in the editor at ``url``; check the views, a deploy from the command palette,
    the project's triggers, and a session (started by ``start_session`` with a webhook body, which
    returns its id) opened from the Sessions view as a document; save a screenshot. Then a failing
    session's traceback link, the manifest's code lens, a diagnostic and deploy on save."""
    driver = _browser(profile)
    try:
        driver.get(f"{url}/?folder={folder}")
        status = _wait(lambda: _status(driver), 120, "the akd status bar item")
        tab = _wait(lambda: driver.find_element(By.CSS_SELECTOR, _AKD_TAB), 60, "the akd view")
        tab.click()
        # Projects show "active <deployment>" or "no active deployment"; none at all: the welcome text.
        _wait(lambda: _welcome(driver, "No projects yet") or _row(driver, "active"), 60, "the Projects view to load")
        _palette(driver, ">akd: Deploy this folder")
        _wait(lambda: _row(driver, project), 120, f"project {project} in the Projects view")
        _click_row(driver, project)
        _wait(lambda: _click_row(driver, "triggers"), 30, "the triggers group")
        trigger_row = _wait(lambda: _row_text(driver, "webhook · http"), 30, "a webhook trigger with its URL")
        session_id = start_session({"who": "editor"})
        _wait(lambda: _click_row(driver, session_id), 60, f"session {session_id} in the Sessions view")
        document = _wait(lambda: _editor_text(driver, "── prints"), 60, "the session document")
        _wait(lambda: "completed" in (_editor_text(driver, "── prints") or ""), 60, "the session to complete")
        document = _editor_text(driver, "── prints") or document
        screenshot.parent.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(screenshot))
        return {
            "first_status": status, "status": _status(driver) or "", "trigger": trigger_row, "document": document,
            "traceback_target": _follow_traceback(driver, start_session({})),
            "lens": _code_lens(driver), "problem": _deploy_problem(driver, folder),
            "after_save": _fix_and_save(driver),
        }  # fmt: skip
    except Exception:
        driver.save_screenshot(str(screenshot.with_name(f"{screenshot.stem}-failed.png")))  # what the editor showed
        raise
    finally:
        driver.quit()


def check_connections(url: str, folder: Path, screenshot: Path, profile: Path, modes: dict[str, str],
                      values: dict[str, str], hosts: dict[str, str]) -> dict[str, object]:  # fmt: skip
    """The context menus of a deployed project's webhook trigger and connections: "Copy
    webhook URL" (the clipboard as the page reads it, and the message), "Init connection"
    on ``modes["tokens"]``'s connection (its quick pick label, then one prompt per var,
    answered from ``values``) and on ``modes["oauth"]``'s (the page it opens, what akd says).
    ``modes`` maps "tokens"/"oauth" to "<connection>=<auth mode label>"; ``hosts`` names
    the OAuth vendor's host for the browser (code-server rewrites a localhost URL that an
    extension opens to its own /proxy/<port>/, dropping the path and the query)."""
    driver = _browser(profile, hosts)
    try:
        clipboard = ["clipboardReadWrite", "clipboardSanitizedWrite"]
        driver.execute_cdp_cmd("Browser.grantPermissions", {"origin": url, "permissions": clipboard})
        driver.get(f"{url}/?folder={folder}")
        _wait(lambda: _status(driver), 120, "the akd status bar item")
        _wait(lambda: driver.find_element(By.CSS_SELECTOR, _AKD_TAB), 60, "the akd view").click()
        _wait(lambda: _click_row(driver, "active "), 60, "the deployed project in the Projects view")
        _wait(lambda: _click_row(driver, "triggers"), 30, "the triggers group")
        seen: dict[str, object] = {"copied": _copy_webhook(driver)}
        seen["clipboard"] = driver.execute_async_script(
            "navigator.clipboard.readText().then(arguments[0], (e) => arguments[0]('unreadable: ' + e))"
        )
        _wait(lambda: _click_row(driver, "connections"), 30, "the connections group")
        conn, label = modes["tokens"].split("=", 1)
        seen["prompts"] = _init_with_tokens(driver, conn, label, values)
        seen["tokens_result"] = _wait(lambda: _toast_text(driver, f"/{conn} is "), 60, "the init's result")
        conn, label = modes["oauth"].split("=", 1)
        seen["oauth_page"] = _init_with_oauth(driver, conn, label)
        seen["oauth_result"] = _wait(lambda: _toast_text(driver, f"/{conn}: "), 60, "the authorization's result")
        driver.save_screenshot(str(screenshot))
        return seen
    except Exception:
        driver.save_screenshot(str(screenshot.with_name(f"{screenshot.stem}-failed.png")))
        raise
    finally:
        driver.quit()


def _copy_webhook(driver: WebDriver) -> str:
    _context_menu(driver, "webhook · http", "akd: Copy webhook URL")
    return _wait(lambda: _toast_text(driver, "akd: copied "), 30, "the copied message")


def _init_with_tokens(driver: WebDriver, conn: str, label: str, values: dict[str, str]) -> list[str]:
    """Pick the auth mode; answer each input box; returns "title|input type" per prompt."""
    _context_menu(driver, conn, "akd: Init connection")
    _pick(driver, label)
    prompts: list[str] = []
    for name, value in values.items():
        box = _wait(partial(_quick_input, driver, f": {name}"), 30, f"the prompt for {name}")
        title = driver.find_element(By.CSS_SELECTOR, ".quick-input-widget .quick-input-title").text
        prompts.append(f"{title}|{box.get_attribute('type')}")
        box.send_keys(value, Keys.ENTER)
    return prompts


def _init_with_oauth(driver: WebDriver, conn: str, label: str) -> dict[str, str]:
    """Pick the OAuth mode: the extension opens a browser tab. Returns what the editor asked
    before opening it (the workbench confirms a site outside its trusted domains), and the
    tab's URL and text once it has gone through the vendor back to akd."""
    editor = driver.current_window_handle
    _context_menu(driver, conn, "akd: Init connection")
    _pick(driver, label)
    asked: list[str] = []
    tab = _wait(lambda: _tab_or_confirm(driver, editor, asked), 60, "a browser tab")
    driver.switch_to.window(tab)
    try:
        page = _wait(lambda: "close this tab" in (t := driver.find_element(By.TAG_NAME, "body").text) and t, 60,
                     "akd's OAuth callback page")  # fmt: skip
    except AssertionError as exc:
        raise AssertionError(f"{exc}; the tab shows {driver.current_url}") from None
    seen = {"asked": " | ".join(asked), "url": str(driver.current_url), "text": str(page)}
    driver.switch_to.window(editor)
    return seen


def _tab_or_confirm(driver: WebDriver, editor: str, asked: list[str]) -> str | None:
    """The tab opened beside the editor's; until there is one, answer "Open" to a dialog that
    asks whether to open a page (noting its text)."""
    tab = next((h for h in driver.window_handles if h != editor), None)
    if tab is None:
        for box in driver.find_elements(By.CSS_SELECTOR, ".monaco-dialog-box"):
            button = next((b for b in box.find_elements(By.CSS_SELECTOR, ".monaco-button") if b.text == "Open"), None)
            if button is not None:
                asked.append(" ".join(str(box.text).split()))
                button.click()
    return tab


def _context_menu(driver: WebDriver, row: str, entry: str) -> None:
    """Right-click the tree row labelled ``row`` (or, for a row with a space, containing it);
    run ``entry`` from its context menu."""
    found = _wait(lambda: next((r for r in _rows(driver) if _labelled(r, row)), None), 30, f"the row {row!r}")
    ActionChains(driver).context_click(found).perform()
    item = _wait(lambda: driver.execute_script(_MENU_ENTRY, entry), 30, f"{entry!r} in the context menu")
    # Hovering focuses the entry and Enter runs it: a WebDriver click on it did not run it here.
    ActionChains(driver).move_to_element(item).pause(0.3).send_keys(Keys.ENTER).perform()


def _labelled(row: WebElement, text: str) -> bool:
    if " " in text:
        return text in str(row.text)
    return any(e.text == text for e in row.find_elements(By.CSS_SELECTOR, ".label-name"))


# The workbench draws context menus inside a shadow root: look through those too.
_MENU_ENTRY = """
const roots = [document];
for (const host of document.querySelectorAll('.context-view *')) if (host.shadowRoot) roots.push(host.shadowRoot);
for (const root of roots) for (const a of root.querySelectorAll('.action-menu-item, .action-label')) {
  if (a.textContent.trim() === arguments[0]) return a;
}
return null;
"""


def _pick(driver: WebDriver, label: str) -> None:
    row = _wait(lambda: next((r for r in _rows(driver, ".quick-input-list") if label in str(r.text)), None), 30,
                f"{label!r} in the quick pick")  # fmt: skip
    row.click()


def _quick_input(driver: WebDriver, title: str) -> WebElement | None:
    widget = driver.find_element(By.CSS_SELECTOR, ".quick-input-widget")
    shown = widget.is_displayed() and title in widget.find_element(By.CSS_SELECTOR, ".quick-input-title").text
    return widget.find_element(By.CSS_SELECTOR, ".quick-input-box input") if shown else None


def _toast_text(driver: WebDriver, text: str) -> str | None:
    toast = _toast(driver, text)
    return str(toast.text) if toast is not None else None


def _palette(driver: WebDriver, entry: str) -> None:
    """Type ``entry`` into the quick input (">" first: a command; else a file) and pick the match."""
    driver.find_element(By.TAG_NAME, "body").send_keys(Keys.F1)
    box = _wait(lambda: driver.find_element(By.CSS_SELECTOR, ".quick-input-widget input"), 30, "the palette")
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys(entry)
    _wait(lambda: _row(driver, entry.lstrip(">"), ".quick-input-list"), 30, f"{entry!r} in the palette")
    box.send_keys(Keys.ENTER)


def _follow_traceback(driver: WebDriver, session_id: str) -> str:
    """Open a failed session; Ctrl+click its traceback's frame: the file opens at that line."""
    _wait(lambda: _click_row(driver, session_id), 60, f"session {session_id} in the Sessions view")
    _wait(lambda: "[error]" in (_editor_text(driver, "── prints") or ""), 60, "the failed session's document")
    link = _wait(
        lambda: next((e for e in driver.find_elements(By.CSS_SELECTOR, ".detected-link") if "line" in e.text), None),
        60, "a link on the traceback frame",
    )  # fmt: skip
    ActionChains(driver).key_down(Keys.CONTROL).click(link).key_up(Keys.CONTROL).perform()
    _wait(lambda: _active_tab(driver) == "program.py", 30, "program.py to open from the traceback")
    return f"{_active_tab(driver)} {_wait(lambda: _cursor(driver), 30, 'the cursor position')}"


def _active_tab(driver: WebDriver) -> str:
    tabs = driver.find_elements(By.CSS_SELECTOR, ".tabs-container .tab.active .label-name")
    return str(tabs[0].text) if tabs else ""


def _cursor(driver: WebDriver) -> str | None:
    items = driver.find_elements(By.CSS_SELECTOR, ".statusbar-item")
    return next((str(e.text) for e in items if str(e.text).startswith("Ln ")), None)


def _code_lens(driver: WebDriver) -> str:
    """Open the manifest; the code lens on its ``call:`` line."""
    _palette(driver, "autokitteh.yaml")
    css = ".monaco-editor .codelens-decoration"
    return _wait(
        lambda: next((t for e in driver.find_elements(By.CSS_SELECTOR, css) if "go to" in (t := str(e.text))), None),
        60, "a code lens on the call: line",
    )  # fmt: skip


def _deploy_problem(driver: WebDriver, folder: Path) -> str:
    """Break program.py, deploy again: the syntax error in the Problems panel."""
    (folder / "program.py").write_text("def hello(event:\n    pass\n")
    _palette(driver, ">akd: Deploy this folder")
    _wait(lambda: _problem_count(driver) == "1", 60, "one problem")
    driver.find_element(By.ID, "status.problems").click()
    return _wait(lambda: _row_text(driver, "akd", ".markers-panel"), 30, "the problem in the Problems panel")


def _fix_and_save(driver: WebDriver) -> str:
    """Fix program.py in the editor and save it: with akd.deployOnSave the save redeploys,
    and the problem goes away. Returns the Problems counter's text."""
    _palette(driver, "program.py")
    area = _wait(lambda: _focused_editor_input(driver), 30, "the program.py editor")
    area.send_keys(Keys.CONTROL, "a")
    area.send_keys("def hello(event): print('fixed')")
    area.send_keys(Keys.CONTROL, "s")
    _wait(lambda: _problem_count(driver) == "0", 90, "the problem to clear after the deploy on save")
    return str(driver.find_element(By.ID, "status.problems").text)


def _focused_editor_input(driver: WebDriver) -> WebElement | None:
    for editor in driver.find_elements(By.CSS_SELECTOR, ".editor-instance .monaco-editor"):
        if "program.py" in str(editor.get_attribute("data-uri") or ""):
            return editor.find_element(By.CSS_SELECTOR, "textarea")
    return None


def _problem_count(driver: WebDriver) -> str:
    return str(driver.find_element(By.ID, "status.problems").text).split()[0]


def _welcome(driver: WebDriver, text: str) -> bool:
    return any(text in str(e.text) for e in driver.find_elements(By.CSS_SELECTOR, ".welcome-view-content"))


def _status(driver: WebDriver) -> str | None:
    items = driver.find_elements(By.CSS_SELECTOR, ".statusbar-item")
    return next((e.text for e in items if "akd" in e.text), None)


def _rows(driver: WebDriver, within: str = ".monaco-list") -> list[WebElement]:
    return driver.find_elements(By.CSS_SELECTOR, f"{within} .monaco-list-row")


def _row(driver: WebDriver, text: str, within: str = ".monaco-list") -> bool:
    return _row_text(driver, text, within) is not None


def _row_text(driver: WebDriver, text: str, within: str = ".monaco-list") -> str | None:
    return next((t for r in _rows(driver, within) if text in (t := str(r.text))), None)


def _click_row(driver: WebDriver, text: str) -> bool:
    for r in _rows(driver):
        if text in str(r.text):
            r.click()
            return True
    return False


def _editor_text(driver: WebDriver, marker: str) -> str | None:
    """The visible lines of the editor that shows ``marker``."""
    for editor in driver.find_elements(By.CSS_SELECTOR, ".monaco-editor .view-lines"):
        text = str(editor.text)
        if marker in text:
            return text
    return None

"""OAuth 2.0 connections end to end: a real akd (endpoints pointed at a local OAuth
stand-in through ``[oauth.<integration>]`` in akd.toml), the real ``akctl connection
init`` (its authorize URL driven with httpx in place of a browser), sessions whose env
gets fresh tokens, the SDK refresh request, revoked refresh tokens, refused callbacks.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from akd import integrations
from akd.oauth import parse_expiry
from tests.e2e.harness import AKCTL, ROOT, Akd, wait_for, write_project
from tests.standins.oauth import OAuthStandIn

pytestmark = pytest.mark.e2e

CLIENT_ID, CLIENT_SECRET = "cid-akd-test", "csecret-do-not-leak"
_GITHUB_OAUTH = integrations.get("github").oauth
assert _GITHUB_OAUTH is not None
GITHUB_OAUTH_MODE = _GITHUB_OAUTH.name  # the auth_type an OAuth authorization stores

MANIFEST = """\
version: v2
project:
  name: oa
  connections:
    - name: gh
      integration: github
    - name: sheets
      integration: googlesheets
  triggers:
    - name: show
      type: webhook
      call: program.py:show
    - name: refresh
      type: webhook
      call: program.py:refresh
"""

PROGRAM = """\
import hashlib
import os

from akd.runner import context


def h(text):
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def show(event):
    print("env", h(os.environ.get("gh__oauth_access_token", "")))


def refresh(event):
    print("env", h(os.environ.get("gh__oauth_access_token", "")))
    try:
        # What autokitteh.connections.refresh_oauth sends (its runner side is another branch's).
        got = context.get().request("connection.refresh_oauth", {"integration": "github", "connection": "gh"})
    except Exception as exc:
        print("error", type(exc).__name__, exc)
        return
    print("refreshed", h(got["access_token"]), got["expiry"])
"""


def h(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@pytest.fixture(scope="module")
def standin() -> Iterator[OAuthStandIn]:
    with OAuthStandIn(CLIENT_ID, CLIENT_SECRET) as server:
        yield server


@pytest.fixture(scope="module")
def oakd(tmp_path_factory: pytest.TempPathFactory, standin: OAuthStandIn) -> Iterator[Akd]:
    daemon = Akd(tmp_path_factory.mktemp("akd"))
    daemon.data_dir.mkdir(parents=True, exist_ok=True)
    toml = "".join(f'[oauth.{name}]\nauthorize_url = "{standin.url}/authorize"\ntoken_url = "{standin.url}/token"\n'
                   for name in ("github", "googlesheets"))  # fmt: skip
    (daemon.data_dir / "akd.toml").write_text(toml)
    daemon.up()
    try:
        yield daemon
    finally:
        daemon.down()


@pytest.fixture(scope="module")
def project(oakd: Akd, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    root = write_project(tmp_path_factory.mktemp("oa"), {"autokitteh.yaml": MANIFEST, "program.py": PROGRAM})
    hooks: dict[str, str] = oakd.deploy(root)["webhooks"]
    for name in ("github", "googlesheets"):
        res = oakd.akctl("integration", "configure", name, "--client-id", CLIENT_ID, "--client-secret", "-",
                         "--json", input=CLIENT_SECRET + "\n")  # fmt: skip
        assert res.returncode == 0, res.stderr
        shown = json.loads(res.stdout)
        assert shown["client_secret_set"] is True and CLIENT_SECRET not in res.stdout + res.stderr
        assert shown["redirect_uri"] == f"{oakd.url}/oauth/{name}/callback"
        assert shown["token_url"] == "" or shown["token_url"].startswith("http://127.0.0.1")
    return hooks


OUTPUTS: list[str] = []  # everything akctl printed, checked for secrets at the end


def _init(akd: Akd, ref: str) -> subprocess.CompletedProcess[str]:
    """``akctl connection init REF --oauth``, in the background; its URL opened with httpx."""
    proc = subprocess.Popen([*AKCTL, "connection", "init", ref, "--oauth", "--no-browser", "--json"], env=akd.env,
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    assert proc.stderr is not None
    lines = []
    for line in proc.stderr:
        lines.append(line)
        if line.startswith("http://127.0.0.1"):
            break
    else:
        pytest.fail(f"akctl printed no authorize URL: {lines}")
    page = httpx.get(lines[-1].strip(), follow_redirects=True, timeout=30)
    assert page.status_code == 200 and "you can close this tab" in page.text, page.text
    out, err = proc.communicate(timeout=30)
    OUTPUTS.extend([out, err, *lines])
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, "".join(lines) + err)


def _vars(akd: Akd, ref: str, reveal: bool = False) -> dict[str, dict[str, Any]]:
    res = akd.akctl("var", "list", "--connection", ref, "--json", *(["--reveal"] if reveal else []))
    assert res.returncode == 0, res.stderr
    if not reveal:
        OUTPUTS.append(res.stdout)
    return {v["name"]: v for v in json.loads(res.stdout)}


def _conn(akd: Akd, ref: str) -> dict[str, Any]:
    data: dict[str, Any] = akd.akctl_json("connection", "get", ref)
    OUTPUTS.append(json.dumps(data))
    return data


def _run(akd: Akd, url: str) -> tuple[str, list[str], list[dict[str, Any]]]:
    event = httpx.post(url, timeout=10).headers["AutoKitteh-Event-ID"]
    sid = wait_for(lambda: akd.api("GET", f"/events/{event}").json().get("session_ids"), 30)[0]
    assert akd.wait_session(sid)["state"] == "completed"
    records = akd.api("GET", f"/sessions/{sid}/log").json()["records"]
    return sid, akd.prints(sid), [r for r in records if r["kind"] == "oauth_refresh"]


def test_oauth_init_sessions_refresh_and_revocation(oakd: Akd, standin: OAuthStandIn,
                                                    project: dict[str, str]) -> None:  # fmt: skip
    # init: authorize (PKCE checked by the stand-in), exchange, store; status ok.
    res = _init(oakd, "oa/gh")
    assert res.returncode == 0, (res.stdout, res.stderr)
    assert json.loads(res.stdout)["outcome"] == "ok"
    first_at, first_rt = standin.access_tokens[-1], standin.refresh_tokens[-1]
    assert standin.requests[-1]["grant_type"] == "authorization_code" and standin.requests[-1]["code_verifier"]
    stored = _vars(oakd, "oa/gh")
    assert {n: (v["value"], v["secret"], v["origin"]) for n, v in stored.items() if n != "oauth_expiry"} == {
        "oauth_access_token": ("********", True, "user"), "oauth_refresh_token": ("********", True, "user"),
        "oauth_token_type": ("Bearer", False, "user"), "auth_type": (GITHUB_OAUTH_MODE, False, "user"),
    }  # fmt: skip
    expiry = parse_expiry(stored["oauth_expiry"]["value"])
    assert stored["oauth_expiry"]["value"].endswith("Z") and expiry and 3500 < expiry - time.time() <= 3600
    revealed = _vars(oakd, "oa/gh", reveal=True)
    assert (revealed["oauth_access_token"]["value"], revealed["oauth_refresh_token"]["value"]) == (first_at, first_rt)
    assert _conn(oakd, "oa/gh")["status"] == "ok"

    # A session's env has the token; it is fresh, so nothing is refreshed.
    _, prints, refreshes = _run(oakd, project["show"])
    assert prints == [f"env {h(first_at)}"] and refreshes == []

    # The SDK request refreshes now: a new token (expiring in 1 s), the refresh token rotated.
    standin.expires_in = 1
    _, prints, refreshes = _run(oakd, project["refresh"])
    second_at, second_rt = standin.access_tokens[-1], standin.refresh_tokens[-1]
    assert prints[0] == f"env {h(first_at)}" and prints[1].startswith(f"refreshed {h(second_at)} "), prints
    sdk_expiry = parse_expiry(prints[1].split()[-1])
    assert sdk_expiry and abs(sdk_expiry - (time.time() + 1)) < 10 and prints[1].endswith("Z")
    assert [r["ok"] for r in refreshes] == [True] and refreshes[0]["refresh_token_rotated"] is True
    assert _vars(oakd, "oa/gh", reveal=True)["oauth_refresh_token"]["value"] == second_rt
    assert second_rt != first_rt and first_rt not in standin.live_refresh

    # The token expires: the next session start refreshes first (its env has the new one).
    wait_for(lambda: time.time() > (sdk_expiry or 0) + 0.2, 10, what="the token to expire")
    _, prints, refreshes = _run(oakd, project["show"])
    third_at, third_rt = standin.access_tokens[-1], standin.refresh_tokens[-1]
    assert third_at != second_at and prints == [f"env {h(third_at)}"], prints
    assert [(r["ok"], r["connection"]) for r in refreshes] == [(True, "gh")]
    assert _vars(oakd, "oa/gh", reveal=True)["oauth_refresh_token"]["value"] == third_rt
    assert standin.requests[-1]["grant_type"] == "refresh_token" and standin.requests[-1]["refresh_token"] == second_rt

    # Revoked: the session-start refresh fails (logged; the session still runs), the
    # connection needs init again, and the SDK request raises with the same words.
    standin.revoke(third_rt)
    wait_for(lambda: time.time() > (parse_expiry(_vars(oakd, "oa/gh")["oauth_expiry"]["value"]) or 0) + 0.2, 10)
    _, prints, refreshes = _run(oakd, project["show"])
    assert prints == [f"env {h(third_at)}"] and [r["ok"] for r in refreshes] == [False]
    conn = _conn(oakd, "oa/gh")
    assert conn["status"] == "init_required", conn
    assert conn["status_message"] == "the refresh token was revoked or expired; run `akctl connection init oa/gh`"
    _, prints, _ = _run(oakd, project["refresh"])
    assert prints[1].startswith("error AutoKittehError") and "revoked or expired" in prints[1], prints

    # init again: ok once more.
    assert _init(oakd, "oa/gh").returncode == 0
    assert _conn(oakd, "oa/gh")["status"] == "ok"


def test_legacy_var_scheme_for_google(oakd: Akd, standin: OAuthStandIn, project: dict[str, str]) -> None:
    res = _init(oakd, "oa/sheets")
    assert res.returncode == 0, (res.stdout, res.stderr)
    stored = _vars(oakd, "oa/sheets", reveal=True)
    assert set(stored) == {"oauth_AccessToken", "oauth_RefreshToken", "oauth_Expiry", "oauth_TokenType", "auth_type"}
    assert stored["oauth_AccessToken"]["value"] == standin.access_tokens[-1]
    assert stored["oauth_Expiry"]["value"].endswith(" +0000 UTC")  # Go's time.String(), as AutoKitteh stores it
    assert abs((parse_expiry(stored["oauth_Expiry"]["value"]) or 0) - time.time() - standin.expires_in) < 60


def _callback_url(akd: Akd, ref: str) -> tuple[str, str]:
    """A fresh authorization's callback URL (code and state), as the vendor redirects to it."""
    project, name = ref.split("/")
    started = akd.api("POST", f"/connections/{project}/{name}/oauth/start").json()
    resp = httpx.get(started["authorize_url"], follow_redirects=False, timeout=10)
    assert resp.status_code == 302
    return resp.headers["location"], started["state"]


def test_bad_and_replayed_callbacks_are_refused(oakd: Akd, standin: OAuthStandIn, project: dict[str, str]) -> None:
    assert _init(oakd, "oa/gh").returncode == 0
    before = _vars(oakd, "oa/gh", reveal=True)
    issued = len(standin.access_tokens)

    # A state akd never gave out, and a real code with a tampered state.
    url, state = _callback_url(oakd, "oa/gh")
    assert httpx.get(f"{oakd.url}/oauth/github/callback?code=x&state=bogus", timeout=10).status_code == 403
    tampered = url.replace(f"state={state}", f"state={state[:-2]}xx")
    assert tampered != url and httpx.get(tampered, timeout=10).status_code == 403
    # The right state at another integration's callback: refused, and the state is spent.
    wrong = url.replace("/oauth/github/", "/oauth/googlesheets/")
    assert httpx.get(wrong, timeout=10).status_code == 403
    assert httpx.get(url, timeout=10).status_code == 403
    assert len(standin.access_tokens) == issued and _vars(oakd, "oa/gh", reveal=True) == before

    # A good callback once; replayed, refused, and nothing changes.
    url, state = _callback_url(oakd, "oa/gh")
    assert httpx.get(url, timeout=10).status_code == 200
    after = _vars(oakd, "oa/gh", reveal=True)
    assert after["oauth_access_token"]["value"] == standin.access_tokens[-1] != before["oauth_access_token"]["value"]
    replay = httpx.get(url, timeout=10)
    assert replay.status_code == 403 and "already used" in replay.text
    assert _vars(oakd, "oa/gh", reveal=True) == after and len(standin.access_tokens) == issued + 1
    assert oakd.api("GET", f"/connections/oa/gh/oauth/{state}").json()["outcome"] == "ok"
    # Without a token the start endpoint is closed (only the callback is public).
    assert httpx.post(f"{oakd.url}/api/v1/connections/oa/gh/oauth/start", timeout=10).status_code == 401


def test_secrets_never_in_logs_or_json(oakd: Akd, standin: OAuthStandIn, project: dict[str, str]) -> None:
    if not standin.access_tokens:
        assert _init(oakd, "oa/gh").returncode == 0
    secrets = [CLIENT_SECRET, *standin.access_tokens, *standin.refresh_tokens]
    texts = [*OUTPUTS, *(p.read_text(errors="replace") for p in (oakd.data_dir / "logs").glob("*") if p.is_file())]
    app = oakd.akctl("integration", "configure", "github", "--client-id", CLIENT_ID, "--client-secret", "-",
                     "--json", input=CLIENT_SECRET + "\n")  # fmt: skip
    texts += [app.stdout, app.stderr, oakd.api("GET", "/integrations/github/oauth-app").text]
    for text in texts:
        for secret in secrets:
            assert secret not in text


def test_oauth_refused_without_an_app_or_oauth_mode(oakd: Akd, project: dict[str, str]) -> None:
    assert oakd.api("DELETE", "/integrations/googlesheets/oauth-app").status_code == 200
    res = oakd.akctl("connection", "init", "oa/sheets", "--oauth", "--no-browser")
    assert res.returncode == 42 and "akctl integration configure googlesheets" in res.stderr, res.stderr
    bad = oakd.akctl("integration", "configure", "anthropic", "--client-id", "x", "--client-secret", "y")
    assert bad.returncode == 40 and "no OAuth" in bad.stderr, bad.stderr

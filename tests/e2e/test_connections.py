"""Connections (issue: the connection layer): declared in the manifest, given credentials
by vars or ``akctl connection init``, tested against the vendor, seen by sessions.

The vendors are small local stand-ins speaking their HTTP API (Slack ``auth.test``,
GitHub ``/user``), reached through the connection var ``base_url``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.harness import Akd, wait_for, write_project
from tests.standins.base import Recorded
from tests.standins.github import GitHubStandIn
from tests.standins.slack import SlackStandIn

pytestmark = pytest.mark.e2e

GOOD_SLACK = "xoxb-good-token"
GOOD_PAT = "ghp_good"


class Vendors(SlackStandIn, GitHubStandIn):
    """Slack's Web API (``/api/auth.test``, ...) and GitHub's REST API (``/user``, ...) on one
    local server: the stand-ins' own routes, with their default good token and PAT."""

    def _authorized(self, req: Recorded) -> bool:  # each vendor checks its own credentials
        vendor = SlackStandIn if req.path.startswith("/api/") else GitHubStandIn
        return vendor._authorized(self, req)


@pytest.fixture(scope="module")
def vendors() -> Iterator[Vendors]:
    with Vendors() as server:
        assert server.tokens == {GOOD_SLACK} and server.pats == {GOOD_PAT}
        yield server


@pytest.fixture(scope="module")
def vendor(vendors: Vendors) -> str:
    return str(vendors.url)


MANIFEST = """\
version: v2
project:
  name: conns
  connections:
    - name: slack_conn
      integration: slack
    - name: gh
      integration: github
      vars:
        - name: pat
          value: {pat}
        - name: base_url
          value: {base}
{extra}
  triggers:
    - name: go
      type: webhook
      call: program.py:run
"""

PROGRAM = """\
import os

def run(event):
    names = sorted(k for k in os.environ if "__" in k and not k.endswith("__webhook_url"))
    print("env", names)
    print("token", os.environ.get("slack_conn__private_bot_token", "")[-5:])
    print("id", os.environ["gh__connection_id"][:4], os.environ["gh__pat"] == {pat!r})
"""


def _deploy(akd: Akd, root: Path, vendor: str, pat: str = GOOD_PAT, extra: str = "") -> dict[str, Any]:
    write_project(root, {"autokitteh.yaml": MANIFEST.format(pat=pat, base=vendor, extra=extra),
                         "program.py": PROGRAM.format(pat=pat)})  # fmt: skip
    return akd.deploy(root)


def _conns(akd: Akd) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in akd.akctl_json("connection", "list", "--project", "conns")}


def test_connections_from_deploy_to_session(akd: Akd, tmp_path: Path, vendor: str, vendors: Vendors) -> None:
    result = _deploy(akd, tmp_path / "p", vendor)
    shown = {c["name"]: c["status"] for c in result["connections"]}
    assert shown == {"slack_conn": "init_required", "gh": "ok"}, result
    conns = _conns(akd)
    for c in conns.values():
        assert {"connection_id", "name", "project", "integration", "status", "status_message"} <= set(c)
        assert c["connection_id"].startswith("con_") and len(c["connection_id"]) == 30
    assert "akctl connection init conns/slack_conn" in conns["slack_conn"]["status_message"]

    # Credentials by var: the status is checked again at once.
    slack = ("--connection", "conns/slack_conn")
    res = akd.akctl("var", "set", "private_bot_token", "-", *slack, input="xoxb-bad-token\n")
    assert res.returncode == 0, res.stderr
    assert akd.akctl("var", "set", "base_url", f"{vendor}/api/", "--connection", "conns/slack_conn").returncode == 0
    assert _conns(akd)["slack_conn"]["status"] == "ok"
    listed = akd.akctl_json("var", "list", "--connection", "conns/slack_conn")
    assert {v["name"]: v["value"] for v in listed}["private_bot_token"] == "********"  # secret by the registry
    revealed = akd.akctl_json("var", "get", "private_bot_token", "--connection", "conns/slack_conn", "--reveal")
    assert revealed["value"] == "xoxb-bad-token"

    # A wrong token: the vendor's own words, status error, exit non-zero.
    bad = akd.akctl("connection", "test", "conns/slack_conn")
    assert bad.returncode != 0 and "invalid_auth" in bad.stdout + bad.stderr, (bad.stdout, bad.stderr)
    assert _conns(akd)["slack_conn"]["status"] == "error"

    # connection init with the right token (from stdin, as a script would): tested and ok.
    init = akd.akctl("connection", "init", "conns/slack_conn", "--auth-type", "botToken",
                     "--var", f"base_url={vendor}/api/", input=f"{GOOD_SLACK}\n\n")  # fmt: skip
    assert init.returncode == 0, (init.stdout, init.stderr)
    assert akd.akctl("connection", "test", "conns/slack_conn").returncode == 0
    assert akd.akctl("connection", "test", "conns/gh").returncode == 0
    assert any(r.path == "/api/auth.test" and r.auth == f"Bearer {GOOD_SLACK}" for r in vendors.requests)
    assert _conns(akd)["slack_conn"]["status"] == "ok"

    # What a session sees: <conn>__<var> for every var, and <conn>__connection_id.
    url = akd.deploy(tmp_path / "p")["webhooks"]["go"]
    event = httpx.post(url, timeout=10).headers["AutoKitteh-Event-ID"]
    sid = wait_for(lambda: akd.api("GET", f"/events/{event}").json().get("session_ids"), 30)[0]
    assert akd.wait_session(sid)["state"] == "completed"
    prints = akd.prints(sid)
    assert prints[0] == "env " + str(sorted([
        "gh__base_url", "gh__connection_id", "gh__pat", "slack_conn__auth_type", "slack_conn__base_url",
        "slack_conn__connection_id", "slack_conn__private_bot_token",
    ]))  # fmt: skip
    assert prints[1:] == [f"token {GOOD_SLACK[-5:]}", "id con_ True"]


def test_vars_survive_redeploys_and_removed_connections_go(akd: Akd, tmp_path: Path, vendor: str) -> None:
    _deploy(akd, tmp_path / "p", vendor)
    assert akd.akctl("var", "set", "private_bot_token", GOOD_SLACK, "--connection", "conns/slack_conn").returncode == 0
    first = _conns(akd)
    _deploy(akd, tmp_path / "p", vendor)  # unchanged manifest: same ids, vars kept
    again = _conns(akd)
    assert {n: c["connection_id"] for n, c in first.items()} == {n: c["connection_id"] for n, c in again.items()}
    kept = akd.akctl_json("var", "get", "private_bot_token", "--connection", "conns/slack_conn", "--reveal")
    assert kept["value"] == GOOD_SLACK
    # A manifest var that changes follows the manifest.
    _deploy(akd, tmp_path / "p", vendor, pat="ghp_other")
    assert akd.akctl_json("var", "get", "pat", "--connection", "conns/gh", "--reveal")["value"] == "ghp_other"
    bad = akd.akctl("connection", "test", "conns/gh")
    assert bad.returncode != 0 and "Bad credentials" in bad.stdout + bad.stderr
    # Dropped from the manifest: deleted.
    root = tmp_path / "p"
    text = (root / "autokitteh.yaml").read_text().replace("    - name: slack_conn\n      integration: slack\n", "")
    (root / "autokitteh.yaml").write_text(text)
    akd.deploy(root)
    assert set(_conns(akd)) == {"gh"}
    missing = akd.akctl("var", "set", "x", "1", "--connection", "conns/slack_conn")
    assert missing.returncode == 44 and "no connection 'slack_conn'" in missing.stderr


def test_bad_connection_input_is_refused_clearly(akd: Akd, tmp_path: Path, vendor: str) -> None:
    unknown = "    - name: weird\n      integration: nosuchvendor\n"
    root = tmp_path / "u"
    write_project(root, {"autokitteh.yaml": MANIFEST.format(pat=GOOD_PAT, base=vendor, extra=unknown),
                         "program.py": "def run(event):\n    pass\n"})  # fmt: skip
    res = akd.akctl("deploy", "--dir", str(root))
    assert res.returncode == 40 and "unknown integration" in res.stderr and "nosuchvendor" in res.stderr, res.stderr
    assert "slack" in res.stderr and "connections[2].integration" in res.stderr
    bad_name = "    - name: 9lives\n      integration: slack\n"
    write_project(root, {"autokitteh.yaml": MANIFEST.format(pat=GOOD_PAT, base=vendor, extra=bad_name)})
    res = akd.akctl("deploy", "--dir", str(root))
    assert res.returncode == 40 and "9lives" in res.stderr
    assert akd.akctl("connection", "get", "nope").returncode == 40
    assert akd.akctl("connection", "get", "nope/x").returncode == 44
    _deploy(akd, tmp_path / "p", vendor)
    refused = akd.akctl("connection", "delete", "conns/gh")  # not a terminal, no --yes
    assert refused.returncode == 40 and "--yes" in refused.stderr
    assert akd.akctl("connection", "delete", "conns/gh", "--yes").returncode == 0
    # Secrets never show: not in --json, not in the build's copy of the manifest (the PAT
    # there has no `secret: true`: a connection credential is masked anyway), not in logs.
    listed = akd.akctl("connection", "list", "--json")
    assert GOOD_PAT not in listed.stdout
    stored = [p for p in (akd.data_dir / "builds").rglob("autokitteh.yaml")]  # (program.py quotes it itself)
    assert stored
    leaks = [p for p in [*stored, *(akd.data_dir / "logs").rglob("*.log")] if GOOD_PAT.encode() in p.read_bytes()]
    assert leaks == [], leaks


def test_integration_list_names_every_needed_integration(akd: Akd) -> None:
    names = {i["name"] for i in akd.akctl_json("integration", "list")}
    needed = {"slack", "github", "googlesheets", "gmail", "chatgpt", "googlecalendar", "twilio", "discord",
              "googlegemini", "anthropic", "hubspot", "googleforms", "confluence", "jira", "aws", "auth0", "asana",
              "youtube", "telegram", "reddit", "pipedrive", "notion", "linear", "googledrive", "airtable",
              "salesforce", "zoom", "kubernetes", "microsoft", "microsoft_teams", "height"}  # fmt: skip
    assert needed <= names, needed - names
    shown = akd.akctl("integration", "list")
    assert shown.returncode == 0 and "private_bot_token" in shown.stdout

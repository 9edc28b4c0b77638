"""Client factories in real sessions: ``slack_client`` and ``github_client`` built from a
deployed project's connections talk to local Slack and GitHub stand-ins; a connection
without credentials raises AutoKitteh's ConnectionInitError; every kittehub-style
connection declaration deploys. Durable (v1) and non-durable (v2) projects alike."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from akd import integrations
from tests.e2e.harness import Akd, wait_for, write_project
from tests.standins.github import GitHubStandIn
from tests.standins.slack import SlackStandIn

pytestmark = pytest.mark.e2e

BOT = "xoxb-e2e-token"
PAT = "ghp_e2e"

MANIFEST = """\
version: {version}
project:
  name: {name}
  connections:
    - name: slack_conn
      integration: slack
    - name: gh
      integration: github
      vars:
        - name: pat
          value: {pat}
        - name: base_url
          value: {github}
    - name: unset_slack
      integration: slack
  triggers:
    - name: go
      type: webhook
      call: program.py:run
"""

PROGRAM = """\
from autokitteh.errors import ConnectionInitError
from autokitteh.github import github_client
from autokitteh.slack import slack_client


def run(event):
    client = slack_client("slack_conn")
    resp = client.chat_postMessage(channel="C42", text="hello from {name}")
    print("posted", resp["ok"], resp["channel"])
    repo = github_client("gh").get_repo("octo/hello")
    print("repo", repo.full_name, repo.description)
    try:
        slack_client("unset_slack")
    except ConnectionInitError as err:
        print("error", err)
"""


@pytest.fixture(scope="module")
def slack() -> Iterator[SlackStandIn]:
    with SlackStandIn(tokens={BOT}) as server:
        yield server


@pytest.fixture(scope="module")
def github() -> Iterator[GitHubStandIn]:
    with GitHubStandIn(pats={PAT}, repos={"octo/hello": {"description": "read through akd"}}) as server:
        yield server


def _run(akd: Akd, url: str) -> str:
    event = httpx.post(url, timeout=10).headers["AutoKitteh-Event-ID"]
    sid: str = wait_for(lambda: akd.api("GET", f"/events/{event}").json().get("session_ids"), 30)[0]
    return sid


@pytest.mark.parametrize("version", ["v1", "v2"], ids=["durable", "non-durable"])
def test_sessions_use_slack_and_github_clients(
    akd_module: Akd, tmp_path: Path, slack: SlackStandIn, github: GitHubStandIn, version: str
) -> None:
    name = f"clients_{version}"
    root = write_project(tmp_path / name, {
        "autokitteh.yaml": MANIFEST.format(version=version, name=name, pat=PAT, github=github.url),
        "program.py": PROGRAM.replace("{name}", name),
    })  # fmt: skip
    url = akd_module.deploy(root)["webhooks"]["go"]
    init = akd_module.akctl("connection", "init", f"{name}/slack_conn", "--auth-type", "botToken",
                            "--var", f"private_bot_token={BOT}", "--var", f"base_url={slack.base_url}",
                            input="\n")  # fmt: skip
    assert init.returncode == 0, (init.stdout, init.stderr)

    sid = _run(akd_module, url)
    session = akd_module.wait_session(sid, timeout=60)
    prints = akd_module.prints(sid)
    assert session["state"] == "completed", (session.get("error"), prints)
    assert prints[:2] == ["posted True C42", "repo octo/hello read through akd"]
    assert prints[2].startswith("error AutoKitteh connection 'unset_slack' not initialized")
    assert "akctl connection init PROJECT/unset_slack" in prints[2]
    assert {"channel": "C42", "text": f"hello from {name}"} in slack.messages
    assert any(r.path == "/repos/octo/hello" and r.auth == f"token {PAT}" for r in github.requests)
    # The factories run directly; the calls their clients make are the journaled steps.
    log = akd_module.api("GET", f"/sessions/{sid}/log").json()["records"]
    steps = [r["name"] for r in log if r["kind"] == "step"]
    if version == "v1":
        assert any("chat_postMessage" in s for s in steps) and any("get_repo" in s for s in steps), steps
        assert not any("_client" in s for s in steps), steps
        # Journaled vendor results keep no credentials: the token and PAT are var names there.
        blobs = [bytes(b) for (b,) in akd_module.query("SELECT outcome FROM journal WHERE session_id=?", (sid,))]
        leaks = [b[b.find(t) - 100 : b.find(t) + 30] for b in blobs for t in (BOT.encode(), PAT.encode()) if t in b]
        assert blobs and not leaks, leaks
        assert any(b"slack_conn__private_bot_token" in b for b in blobs) and any(b"gh__pat" in b for b in blobs)
    else:
        assert steps == [], steps


# One declaration per integration name AutoKitteh registers, as kittehub projects write them.
KITTEHUB_NAMES = ["airtable", "anthropic", "asana", "auth0", "aws", "azurebot", "chatgpt", "confluence", "discord",
                  "github", "gmail", "google", "googlecalendar", "googledrive", "googleforms", "googlegemini",
                  "googlesheets", "hubspot", "jira", "kubernetes", "linear", "microsoft", "microsoft_teams", "notion",
                  "pipedrive", "reddit", "salesforce", "slack", "telegram", "twilio", "youtube", "zoom"]  # fmt: skip


def test_every_kittehub_style_connection_deploys(akd_module: Akd, tmp_path: Path) -> None:
    research = Path("/work/ak_integrations.json")
    if research.exists():  # the list above is AutoKitteh's registry as researched
        assert sorted(json.loads(research.read_text())["registered_integrations"]) == KITTEHUB_NAMES
    lines = "".join(f"    - name: {n}_conn\n      integration: {n}\n" for n in KITTEHUB_NAMES)
    manifest = (f"version: v1\nproject:\n  name: kittehub_shapes\n  connections:\n{lines}"
                "  triggers:\n    - name: go\n      type: webhook\n      call: program.py:run\n")  # fmt: skip
    root = write_project(tmp_path / "k", {"autokitteh.yaml": manifest, "program.py": "def run(event):\n    pass\n"})
    result: dict[str, Any] = akd_module.deploy(root)
    shown = {c["name"]: c for c in result["connections"]}
    assert set(shown) == {f"{n}_conn" for n in KITTEHUB_NAMES}
    listed = {c["name"]: c for c in akd_module.akctl_json("connection", "list", "--project", "kittehub_shapes")}
    for n in KITTEHUB_NAMES:
        assert listed[f"{n}_conn"]["integration"] == integrations.get(n).name == n
        assert listed[f"{n}_conn"]["status"] == "init_required", listed[f"{n}_conn"]

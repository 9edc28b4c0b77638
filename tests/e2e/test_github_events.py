"""GitHub deliveries to a connection (connection events issue, the GitHub part): signed
over the raw bytes, stored before the 2xx, deduplicated by X-GitHub-Delivery, dispatched
to the connection's triggers; the handler answers through github_client against a local
GitHub stand-in."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from akd.signatures import verify
from tests.e2e.harness import Akd, wait_for, write_project
from tests.standins.github import GitHubStandIn

pytestmark = pytest.mark.e2e

SECRET = "It's a Secret to Everybody"

MANIFEST = """\
version: v2
project:
  name: ghev
  connections:
    - name: gh
      integration: github
  triggers:
    - name: on_comment
      connection: gh
      event_type: issue_comment
      call: program.py:on_comment
    - name: on_any
      connection: gh
      filter: data.action == "opened"
      call: program.py:on_opened
"""

PROGRAM = """\
from autokitteh.github import github_client

def on_comment(event):
    repo = github_client("gh").get_repo(event.data.repository.full_name)
    print("comment", event.data.comment.body, "on", repo.full_name, repo.description)

def on_opened(event):
    print("opened", event.event_type, event.data.issue.number)
"""


def test_githubs_documented_signature_test_vector() -> None:
    # docs.github.com "Validating webhook deliveries": this secret, payload and signature.
    signature = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    verify("github", SECRET, {"x-hub-signature-256": signature}, b"Hello, World!")


@pytest.fixture(scope="module")
def github() -> Iterator[GitHubStandIn]:
    with GitHubStandIn(pats={"ghp_good"}, repos={"octo/hello": {"description": "a test repo"}}) as server:
        yield server


def _signed(body: bytes, secret: str = SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _deliver(
    url: str, event: str, payload: dict[str, Any], delivery: str, secret: str | None = SECRET
) -> httpx.Response:
    body = json.dumps(payload).encode()
    headers = {"X-GitHub-Event": event, "X-GitHub-Delivery": delivery, "Content-Type": "application/json"}
    if secret is not None:
        headers["X-Hub-Signature-256"] = _signed(body, secret)
    return httpx.post(url, content=body, headers=headers, timeout=30)


COMMENT = {"action": "created", "comment": {"body": "looks good"}, "repository": {"full_name": "octo/hello"},
           "issue": {"number": 7}}  # fmt: skip


def _events(akd: Akd) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = akd.api("GET", "/events", params={"project": "ghev", "limit": 100}).json()
    return rows


def test_signed_deliveries_start_sessions_once_and_bad_ones_are_refused(
    akd: Akd, tmp_path: Path, github: GitHubStandIn
) -> None:
    akd.deploy(write_project(tmp_path / "p", {"autokitteh.yaml": MANIFEST, "program.py": PROGRAM}))
    conn = ("--connection", "ghev/gh")
    assert akd.akctl("var", "set", "pat", "ghp_good", *conn).returncode == 0
    assert akd.akctl("var", "set", "base_url", github.url, *conn).returncode == 0
    url = akd.akctl_json("connection", "get", "ghev/gh")["webhook_url"]
    assert url.startswith(f"{akd.url}/github/webhook/") and len(url.rsplit("/", 1)[1]) >= 32
    assert akd.akctl_json("connection", "get", "ghev/gh")["webhook_url"] == url  # stable

    # No webhook secret yet: deliveries are refused, not accepted unsigned.
    res = _deliver(url, "issue_comment", COMMENT, "d-0")
    assert res.status_code == 401 and "pat_secret" in res.json()["error"]["message"]
    assert akd.akctl("var", "set", "pat_secret", SECRET, *conn).returncode == 0

    # The handshake when the webhook is created.
    assert _deliver(url, "ping", {"zen": "Keep it logically awesome."}, "d-ping").status_code == 200

    res = _deliver(url, "issue_comment", COMMENT, "d-1")
    assert res.status_code == 202, res.text
    event_id = res.headers["AutoKitteh-Event-ID"]
    sid = wait_for(lambda: akd.api("GET", f"/events/{event_id}").json().get("session_ids"), 30)[0]
    assert akd.wait_session(sid)["state"] == "completed", akd.session(sid)
    assert akd.prints(sid) == ["comment looks good on octo/hello a test repo"]
    ev = akd.api("GET", f"/events/{event_id}").json()
    assert ev["event_type"] == "issue_comment" and ev["data"]["comment"]["body"] == "looks good"

    # The vendor retries the same delivery: 2xx, the same event, nothing new starts.
    again = _deliver(url, "issue_comment", COMMENT, "d-1")
    assert again.status_code == 202 and again.json() == {"event_id": event_id, "duplicate": True}
    assert len([e for e in _events(akd) if e["event_type"] == "issue_comment"]) == 1

    # Wrong secret, missing signature, SHA-1 only: 401 and nothing stored.
    before = len(_events(akd))
    assert _deliver(url, "issue_comment", COMMENT, "d-2", secret="wrong").status_code == 401
    assert _deliver(url, "issue_comment", COMMENT, "d-3", secret=None).status_code == 401
    body = json.dumps(COMMENT).encode()
    sha1 = "sha1=" + hmac.new(SECRET.encode(), body, hashlib.sha1).hexdigest()
    assert httpx.post(url, content=body, headers={"X-GitHub-Event": "issue_comment", "X-Hub-Signature": sha1},
                      timeout=30).status_code == 401  # fmt: skip
    assert len(_events(akd)) == before

    # Another event type: only the trigger whose filter matches starts a session.
    opened = {"action": "opened", "issue": {"number": 8}, "repository": {"full_name": "octo/hello"}}
    res = _deliver(f"{akd.url}/github/webhook", "issues", opened, "d-4")  # AutoKitteh's global path
    assert res.status_code == 202, res.text
    ids = wait_for(lambda: akd.api("GET", f"/events/{res.headers['AutoKitteh-Event-ID']}").json().get("session_ids"),
                   30)  # fmt: skip
    assert len(ids) == 1 and akd.wait_session(ids[0])["state"] == "completed"
    assert akd.prints(ids[0]) == ["opened issues 8"]

    # Unknown key: 404; a project without an active deployment: stored, 2xx, skipped.
    assert _deliver(f"{akd.url}/github/webhook/{'0' * 32}", "issues", opened, "d-5").status_code == 404
    dep = akd.akctl_json("deployment", "get", "ghev")["deployment_id"]
    assert akd.akctl("deployment", "deactivate", dep).returncode == 0
    res = _deliver(url, "issue_comment", COMMENT, "d-6")
    assert res.status_code == 202
    skipped = wait_for(lambda: (e := akd.api("GET", f"/events/{res.headers['AutoKitteh-Event-ID']}").json())
                       .get("state") == "skipped" and e, 30)  # fmt: skip
    assert skipped["session_ids"] == []

"""Deliveries as data (connection events issue, item 6): `akctl connection simulate` sends
a signed, vendor-shaped delivery through the real verification path; `event list
--connection` lists it; `event get` shows the raw delivery and its verification;
`connection replay` dispatches it again. GitHub and Slack, one daemon for the module."""

from __future__ import annotations

import hashlib
import hmac
import json
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.harness import AKCTL, ROOT, Akd, wait_for, write_project
from tests.standins.slack_socket import SlackSocketStandIn

pytestmark = pytest.mark.e2e

GH_SECRET = "It's a Secret to Everybody"
SLACK_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"

MANIFEST = """\
version: v2
project:
  name: deliv
  connections:
    - name: gh
      integration: github
    - name: sl
      integration: slack
    - name: bare
      integration: github
    - name: sock
      integration: slack
  triggers:
    - name: on_comment
      connection: gh
      event_type: issue_comment
      call: program.py:on_comment
    - name: on_mention
      connection: sl
      event_type: app_mention
      call: program.py:on_mention
    - name: on_command
      connection: sl
      event_type: slash_command
      call: program.py:on_command
    - name: hook
      type: webhook
      call: program.py:on_hook
"""

PROGRAM = """\
def on_comment(event):
    print("comment", event.data.comment.body, "on", event.data.repository.full_name)

def on_mention(event):
    print("mention", event.data.text, "in", event.data.channel)

def on_command(event):
    print("command", event.data.command, event.data.text)

def on_hook(event):
    pass
"""


@pytest.fixture(scope="module")
def deliv(akd_module: Akd, tmp_path_factory: pytest.TempPathFactory) -> Akd:
    akd_module.deploy(write_project(tmp_path_factory.mktemp("p"), {"autokitteh.yaml": MANIFEST, "program.py": PROGRAM}))
    secrets = (("pat_secret", GH_SECRET, "deliv/gh"), ("private_signing_secret", SLACK_SECRET, "deliv/sl"))
    for name, value, conn in secrets:
        res = akd_module.akctl("var", "set", name, value, "--secret", "--connection", conn)
        assert res.returncode == 0, res.stderr
    return akd_module


def _simulate(akd: Akd, *args: str) -> dict[str, Any]:
    data: dict[str, Any] = akd.akctl_json("connection", "simulate", *args)
    return data


def _one_session(akd: Akd, sim: dict[str, Any]) -> str:
    assert len(sim["session_ids"]) == 1, sim
    sid: str = sim["session_ids"][0]
    assert akd.wait_session(sid)["state"] == "completed", akd.session(sid)
    return sid


def test_simulate_list_get_replay_github(deliv: Akd, tmp_path: Path) -> None:
    data = tmp_path / "comment.json"
    data.write_text(json.dumps({"comment": {"body": "ship it"}}))
    sim = _simulate(deliv, "deliv/gh", "issue_comment", "--data", str(data))
    assert sim["status"] == 202 and sim["duplicate"] is False and sim["event_type"] == "issue_comment"
    sid = _one_session(deliv, sim)
    # The fixture's repository, the --data's comment: merged, not replaced.
    assert deliv.prints(sid) == ["comment ship it on octo-org/hello-world"]

    # Each simulation is a fresh delivery (a new X-GitHub-Delivery), not a dedupe hit.
    again = _simulate(deliv, "deliv/gh", "issue_comment")
    assert again["delivery_id"] != sim["delivery_id"] and again["event_id"] != sim["event_id"]
    assert deliv.prints(_one_session(deliv, again)) == ["comment Me too on octo-org/hello-world"]

    rows = deliv.akctl_json("event", "list", "--connection", "deliv/gh")
    assert [r["event_id"] for r in rows[:2]] == [again["event_id"], sim["event_id"]]  # newest first
    first = rows[1]
    assert first["delivery_id"] == sim["delivery_id"] and first["state"] == "dispatched"
    assert first["event_type"] == "issue_comment" and first["session_ids"] == [sid] and first["reason"] == ""

    ev = deliv.akctl_json("event", "get", sim["event_id"])
    d = ev["delivery"]
    assert d["verified_by"] == "github X-Hub-Signature-256" and d["delivery_id"] == sim["delivery_id"]
    assert d["headers"]["X-Github-Event"] == "issue_comment"
    assert d["headers"]["X-Hub-Signature-256"].startswith("sha256=")  # signatures are shown
    body = json.loads(d["body"]["text"])
    assert body["comment"]["body"] == "ship it" and d["body"]["truncated"] is False
    expected = "sha256=" + hmac.new(GH_SECRET.encode(), d["body"]["text"].encode(), hashlib.sha256).hexdigest()
    assert d["headers"]["X-Hub-Signature-256"] == expected  # signed with the connection's own secret

    plain = deliv.akctl("event", "get", sim["event_id"])
    assert plain.returncode == 0, plain.stderr
    assert "github X-Hub-Signature-256" in plain.stdout and '  "action": "created",' in plain.stdout  # pretty JSON

    # Replay: a new event linked to the original, dispatched at once: a second session.
    rep = deliv.akctl_json("connection", "replay", sim["event_id"])
    assert rep["replay_of"] == sim["event_id"] and rep["event_id"] != sim["event_id"]
    assert len(rep["session_ids"]) == 1 and rep["session_ids"][0] != sid
    assert deliv.wait_session(rep["session_ids"][0])["state"] == "completed"
    assert deliv.prints(rep["session_ids"][0]) == ["comment ship it on octo-org/hello-world"]
    assert deliv.api("GET", "/connections/deliv/gh/deliveries").json() == deliv.akctl_json(
        "event", "list", "--connection", "deliv/gh")  # fmt: skip
    newest = deliv.akctl_json("event", "list", "--connection", "deliv/gh")[0]
    assert newest["event_id"] == rep["event_id"] and newest["replay_of"] == sim["event_id"]
    assert deliv.akctl_json("event", "get", rep["event_id"])["delivery"]["replay_of"] == sim["event_id"]
    plain = deliv.akctl("connection", "replay", sim["event_id"])
    assert plain.returncode == 0 and "replayed" in plain.stdout and "session ses_" in plain.stdout, plain.stdout

    # --watch follows the session the simulated delivery started, to its end.
    watched = deliv.akctl("connection", "simulate", "deliv/gh", "issue_comment", "--watch")
    assert watched.returncode == 0, watched.stderr
    assert "comment Me too on octo-org/hello-world" in watched.stdout and "completed" in watched.stderr


def test_event_list_keeps_ids_whole_at_80_columns(deliv: Akd) -> None:
    sim = _simulate(deliv, "deliv/gh", "issue_comment")
    _one_session(deliv, sim)
    args = [*AKCTL, "event", "list", "--connection", "deliv/gh", "--limit", "3"]
    env = {**deliv.env, "COLUMNS": "80"}
    res = subprocess.run(args, env=env, capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert res.returncode == 0, res.stderr
    assert all(len(line) <= 80 for line in res.stdout.splitlines()), res.stdout
    for ident in (sim["event_id"], sim["delivery_id"], sim["session_ids"][0]):
        assert ident in res.stdout, (ident, res.stdout)


def test_slack_simulations_are_signed_v0_and_start_sessions(deliv: Akd, tmp_path: Path) -> None:
    data = tmp_path / "mention.json"
    data.write_text(json.dumps({"text": "<@U0BOT> deploy please", "channel": "C0DEPLOY"}))
    sim = _simulate(deliv, "deliv/sl", "app_mention", "--data", str(data))
    assert deliv.prints(_one_session(deliv, sim)) == ["mention <@U0BOT> deploy please in C0DEPLOY"]
    d = deliv.akctl_json("event", "get", sim["event_id"])["delivery"]
    assert d["verified_by"] == "slack v0 signature" and d["delivery_id"] == sim["delivery_id"]
    ts, text = d["headers"]["X-Slack-Request-Timestamp"], d["body"]["text"]
    mac = hmac.new(SLACK_SECRET.encode(), f"v0:{ts}:{text}".encode(), hashlib.sha256).hexdigest()
    assert d["headers"]["X-Slack-Signature"] == "v0=" + mac

    cmd = _simulate(deliv, "deliv/sl", "slash_command")
    assert deliv.prints(_one_session(deliv, cmd)) == ["command /weather 94070"]
    assert cmd["status"] == 200  # a command gets Slack's ephemeral echo, as from the real route
    states = {r["event_id"]: r for r in deliv.akctl_json("event", "list", "--connection", "deliv/sl")}
    assert states[cmd["event_id"]]["event_type"] == "slash_command"
    # --data naming a delivery id akd already has: the route's dedupe answers, nothing new starts.
    repeat = tmp_path / "repeat.json"
    repeat.write_text(json.dumps({"trigger_id": cmd["delivery_id"]}))
    dup = _simulate(deliv, "deliv/sl", "slash_command", "--data", str(repeat))
    assert dup["duplicate"] is True and dup["event_id"] == cmd["event_id"] and dup["session_ids"] == []
    plain = deliv.akctl("connection", "simulate", "deliv/sl", "slash_command", "--data", str(repeat))
    assert plain.returncode == 0 and "duplicate" in plain.stdout, plain.stdout
    # An interaction is stored; no trigger asks for it: skipped, with the reason.
    inter = _simulate(deliv, "deliv/sl", "interaction")
    assert inter["session_ids"] == []
    row = next(r for r in deliv.akctl_json("event", "list", "--connection", "deliv/sl")
               if r["event_id"] == inter["event_id"])  # fmt: skip
    assert row["state"] == "skipped" and "no trigger on this connection matched" in row["reason"]


def test_refusals(deliv: Akd) -> None:
    before = len(deliv.akctl_json("event", "list", "--connection", "deliv/gh", "--limit", "1000"))
    # Signed with a secret the connection does not have: the route's verification refuses it.
    res = deliv.akctl("connection", "simulate", "deliv/gh", "issue_comment", "--secret", "not the secret")
    assert res.returncode == 42 and "verification refused" in res.stderr and "401" in res.stderr, res.stderr
    assert len(deliv.akctl_json("event", "list", "--connection", "deliv/gh", "--limit", "1000")) == before

    fixtures = deliv.api("GET", "/connections/deliv/sl/fixtures").json()
    assert fixtures["event_types"] == ["app_mention", "interaction", "message", "slash_command"]
    res = deliv.akctl("connection", "simulate", "deliv/gh", "star")
    assert res.returncode == 44, res.stderr
    for name in ("issue_comment", "issues", "pull_request", "push"):
        assert name in res.stderr
    res = deliv.akctl("connection", "simulate", "deliv/bare", "push")
    assert res.returncode == 42 and "pat_secret" in res.stderr, res.stderr

    # A plain webhook event is not a delivery: replay refuses it and says what to use.
    url = deliv.akctl_json("trigger", "get", "hook", "--project", "deliv")["webhook_url"]
    hook = httpx.post(url, json={"x": 1}, timeout=30)
    assert hook.status_code == 202
    res = deliv.akctl("connection", "replay", hook.headers["AutoKitteh-Event-ID"])
    assert res.returncode == 40 and "not a vendor delivery" in res.stderr and "redispatch" in res.stderr, res.stderr
    assert deliv.akctl("connection", "replay", "evt_" + "0" * 26).returncode == 44


def test_raw_delivery_masks_credentials_and_caps_the_body(deliv: Akd) -> None:
    url = deliv.akctl_json("connection", "get", "deliv/gh")["webhook_url"]
    payload = {"action": "created", "comment": {"body": "x" * 70_000}, "repository": {"full_name": "o/r"}}
    body = json.dumps(payload).encode()
    signature = "sha256=" + hmac.new(GH_SECRET.encode(), body, hashlib.sha256).hexdigest()
    headers = {"X-GitHub-Event": "issue_comment", "X-GitHub-Delivery": "raw-1", "Content-Type": "application/json",
               "Authorization": "Bearer ghp_do_not_show", "Cookie": "session=also-secret",
               "X-Hub-Signature-256": signature}  # fmt: skip
    res = httpx.post(url, content=body, headers=headers, timeout=30)
    assert res.status_code == 202, res.text
    event_id = res.headers["AutoKitteh-Event-ID"]
    d = deliv.akctl_json("event", "get", event_id)["delivery"]
    assert d["headers"]["Authorization"] == "Bearer ****" and d["headers"]["Cookie"] == "****"
    assert d["body"]["truncated"] is True and d["body"]["size"] == len(body)
    assert len(d["body"]["text"]) == 64 * 1024
    plain = deliv.akctl("event", "get", event_id)
    assert "ghp_do_not_show" not in plain.stdout and "also-secret" not in plain.stdout
    assert f"body: {len(body):,} bytes" in plain.stdout and "--full" in plain.stdout
    full = deliv.akctl_json("event", "get", event_id, "--full")["delivery"]["body"]
    assert full["truncated"] is False and json.loads(full["text"]) == payload


def test_connection_get_prints_the_webhook_urls(deliv: Akd) -> None:
    gh = deliv.akctl_json("connection", "get", "deliv/gh")
    res = deliv.akctl("connection", "get", "deliv/gh")
    assert res.returncode == 0 and gh["webhook_url"] in res.stdout, res.stdout
    sl = deliv.akctl_json("connection", "get", "deliv/sl")
    res = deliv.akctl("connection", "get", "deliv/sl")
    assert sl["webhook_url"] in res.stdout
    assert sl["webhook_url"].replace("/slack/event/", "/slack/command/") in res.stdout
    assert sl["webhook_url"].replace("/slack/event/", "/slack/interaction/") in res.stdout


def test_connection_get_prints_the_socket_mode_state(deliv: Akd) -> None:
    app_token, bot_token = "xapp-1-A0001-deliveries", "xoxb-deliveries"
    with SlackSocketStandIn(app_tokens={app_token}, tokens={bot_token}) as slack:
        for name, value in (("base_url", slack.base_url), ("private_bot_token", bot_token),
                            ("private_app_token", app_token)):  # fmt: skip
            assert deliv.akctl("var", "set", name, value, "--connection", "deliv/sock").returncode == 0
        wait_for(lambda: (deliv.akctl_json("connection", "get", "deliv/sock").get("socket_mode") or {})
                 .get("state") == "connected", 30, interval=0.2)  # fmt: skip
        res = deliv.akctl("connection", "get", "deliv/sock")
        assert res.returncode == 0 and "socket mode  connected" in res.stdout, res.stdout
        assert deliv.akctl("var", "delete", "private_app_token", "--yes", "--connection", "deliv/sock").returncode == 0


IDLE_MANIFEST = """\
version: v2
project:
  name: delividle
  connections:
    - name: gh
      integration: github
  triggers:
    - name: on_push
      connection: gh
      event_type: push
      call: program.py:on_push
"""


def test_a_delivery_without_an_active_deployment_is_listed_as_skipped_with_the_reason(
    deliv: Akd, tmp_path: Path
) -> None:
    deliv.deploy(write_project(tmp_path / "idle", {"autokitteh.yaml": IDLE_MANIFEST,
                                                   "program.py": "def on_push(event):\n    pass\n"}))  # fmt: skip
    assert deliv.akctl("var", "set", "pat_secret", GH_SECRET, "--connection", "delividle/gh").returncode == 0
    dep = deliv.akctl_json("deployment", "get", "delividle")["deployment_id"]
    assert deliv.akctl("deployment", "deactivate", dep).returncode == 0
    sim = _simulate(deliv, "delividle/gh", "push")
    assert sim["session_ids"] == []
    row = deliv.akctl_json("event", "list", "--connection", "delividle/gh")[0]
    assert row["event_id"] == sim["event_id"] and row["state"] == "skipped"
    assert row["reason"] == "the project had no active deployment"
    assert deliv.akctl_json("event", "get", sim["event_id"])["delivery"]["reason"] == row["reason"]
    plain = deliv.akctl("event", "list", "--connection", "delividle/gh")
    assert "skipped" in plain.stdout and "the project had no active deployment" in plain.stdout, plain.stdout


JIRA_TWILIO = """\
version: v2
project:
  name: deliv_more
  connections:
    - name: jira_conn
      integration: jira
    - name: sms
      integration: twilio
  triggers:
    - name: on_issue
      connection: jira_conn
      event_type: issue_created
      call: program.py:on_issue
    - name: on_text
      connection: sms
      event_type: message
      call: program.py:on_text
"""

JIRA_TWILIO_PROGRAM = """\
def on_issue(event):
    print("issue", event.data.issue.key, event.data.issue.fields.summary)

def on_text(event):
    print("text from", event.data["from"], ":", event.data.body)
"""


def test_simulate_jira_and_twilio_through_their_verification(akd_module: Akd, tmp_path: Path) -> None:
    akd_module.deploy(write_project(tmp_path / "more", {"autokitteh.yaml": JIRA_TWILIO,
                                                        "program.py": JIRA_TWILIO_PROGRAM}))  # fmt: skip
    unset = akd_module.akctl("connection", "simulate", "deliv_more/jira_conn", "issue_created")
    assert unset.returncode == 42 and "webhook_secret" in unset.stderr, unset.stderr
    for name, value, conn in (("webhook_secret", "jira-s3cret", "deliv_more/jira_conn"),
                              ("auth_token", "twilio-auth-token", "deliv_more/sms")):  # fmt: skip
        res = akd_module.akctl("var", "set", name, value, "--secret", "--connection", conn)
        assert res.returncode == 0, res.stderr
    data = tmp_path / "issue.json"
    data.write_text(json.dumps({"issue": {"fields": {"summary": "simulated"}}}))
    issue = _simulate(akd_module, "deliv_more/jira_conn", "issue_created", "--data", str(data))
    assert akd_module.prints(_one_session(akd_module, issue)) == ["issue AKD-42 simulated"]
    text = _simulate(akd_module, "deliv_more/sms", "message")
    assert akd_module.prints(_one_session(akd_module, text)) == ["text from +15005550006 : Hello from a simulated text"]
    shown = akd_module.akctl_json("event", "get", text["event_id"])
    assert "twilio" in shown["delivery"]["verified_by"].lower()
    wrong = akd_module.akctl("connection", "simulate", "deliv_more/sms", "message", "--secret", "not-the-token")
    assert wrong.returncode == 42 and "401" in wrong.stderr

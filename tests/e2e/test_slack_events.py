"""Slack deliveries to a connection (connection events issue, the Slack part): Events API,
slash commands and interactions over HTTP, signed over the raw bytes with the connection's
signing secret, stored before the 2xx, deduplicated by Slack's ids; and Socket Mode,
where akd holds the websocket to a local Slack stand-in, stores each envelope, then acks
it, and reconnects when Slack says ``disconnect``. Handlers answer with slack_client
against the Slack stand-in."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from akd.signatures import verify
from tests.e2e.harness import Akd, wait_for, write_project
from tests.standins.slack import SlackStandIn
from tests.standins.slack_socket import SlackSocketStandIn

pytestmark = pytest.mark.e2e

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
BOT = "xoxb-good-token"
APP = "xapp-good-token"

HTTP_MANIFEST = """\
version: v2
project:
  name: slackev
  connections:
    - name: slack_conn
      integration: slack
  triggers:
    - name: on_message
      connection: slack_conn
      event_type: message
      call: program.py:on_message
    - name: on_command
      connection: slack_conn
      event_type: slash_command
      call: program.py:on_command
    - name: on_interaction
      connection: slack_conn
      event_type: interaction
      call: program.py:on_interaction
"""

SOCKET_MANIFEST = """\
version: v2
project:
  name: slacksock
  connections:
    - name: slack_conn
      integration: slack
  triggers:
    - name: on_mention
      connection: slack_conn
      event_type: app_mention
      call: program.py:on_mention
    - name: on_command
      connection: slack_conn
      event_type: slash_command
      call: program.py:on_command
"""

PROGRAM = """\
from autokitteh.slack import slack_client

def on_message(event):
    slack_client("slack_conn").chat_postMessage(channel=event.data.channel, text="echo " + event.data.text)
    print("message", event.event_type, event.data.user, event.data.text)

def on_mention(event):
    slack_client("slack_conn").chat_postMessage(channel=event.data.channel, text="pong " + event.data.text)
    print("mention", event.data.text)

def on_command(event):
    print("command", event.data.command, event.data.text, event.data.user_id, event.data.team_id)

def on_interaction(event):
    print("interaction", event.data.type, event.data.actions[0].action_id, event.data.user.id)
"""


def test_slacks_documented_signature_example() -> None:
    # api.slack.com "Verifying requests from Slack": this secret, timestamp, body and signature.
    body = (
        b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V"
        b"&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text="
        b"&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN"
        b"&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
    )
    headers = {"x-slack-request-timestamp": "1531420618",
               "x-slack-signature": "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"}  # fmt: skip
    verify("slack", SECRET, headers, body, now=1531420618)


def _post(url: str, body: bytes, content_type: str, secret: str | None = SECRET, ts: float | None = None,
          extra: dict[str, str] | None = None) -> httpx.Response:  # fmt: skip
    stamp = str(int(time.time() if ts is None else ts))
    headers = {"Content-Type": content_type, "X-Slack-Request-Timestamp": stamp, **(extra or {})}
    if secret is not None:
        mac = hmac.new(secret.encode(), b"v0:" + stamp.encode() + b":" + body, hashlib.sha256).hexdigest()
        headers["X-Slack-Signature"] = "v0=" + mac
    return httpx.post(url, content=body, headers=headers, timeout=30)


def _event(url: str, payload: dict[str, Any], **kw: Any) -> httpx.Response:
    return _post(url, json.dumps(payload).encode(), "application/json", **kw)


def _form(url: str, fields: dict[str, str], **kw: Any) -> httpx.Response:
    return _post(url, urlencode(fields).encode(), "application/x-www-form-urlencoded", **kw)


def _callback(event_id: str, event: dict[str, Any]) -> dict[str, Any]:
    return {"token": "legacy", "team_id": "T1", "api_app_id": "A1", "type": "event_callback", "event": event,
            "event_id": event_id, "event_time": 1700000000,
            "authorizations": [{"team_id": "T1", "user_id": "UBOT", "is_bot": True}]}  # fmt: skip


def _events(akd: Akd, project: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = akd.api("GET", "/events", params={"project": project, "limit": 100}).json()
    return rows


def _session_of(akd: Akd, event_id: str) -> str:
    ids = wait_for(lambda: akd.api("GET", f"/events/{event_id}").json().get("session_ids"), 30)
    assert len(ids) == 1, ids
    assert akd.wait_session(ids[0])["state"] == "completed", akd.session(ids[0])
    sid: str = ids[0]
    return sid


@pytest.fixture(scope="module")
def slack() -> Iterator[SlackSocketStandIn]:
    with SlackSocketStandIn(app_tokens={APP}, tokens={BOT}) as server:
        yield server


def _set(akd: Akd, conn: str, name: str, value: str, secret: bool = False) -> None:
    res = akd.akctl("var", "set", name, value, *(["--secret"] if secret else []), "--connection", conn)
    assert res.returncode == 0, res.stderr


def test_events_api_commands_and_interactions_over_http(akd_module: Akd, tmp_path: Path, slack: SlackStandIn) -> None:
    akd = akd_module
    akd.deploy(write_project(tmp_path / "p", {"autokitteh.yaml": HTTP_MANIFEST, "program.py": PROGRAM}))
    conn = "slackev/slack_conn"
    for name, value in (("auth_type", "botToken"), ("private_bot_token", BOT), ("base_url", slack.base_url)):
        _set(akd, conn, name, value)
    url = akd.akctl_json("connection", "get", conn)["webhook_url"]
    assert url.startswith(f"{akd.url}/slack/event/") and len(url.rsplit("/", 1)[1]) >= 32
    assert akd.akctl_json("connection", "get", conn)["webhook_url"] == url  # stable
    key = url.rsplit("/", 1)[1]
    hello = _callback("Ev001", {"type": "message", "channel": "C1", "user": "U7", "text": "hi", "ts": "1.1"})

    # No signing secret yet: refused, not accepted unsigned.
    res = _event(url, hello)
    assert res.status_code == 401 and "private_signing_secret" in res.json()["error"]["message"]
    _set(akd, conn, "private_signing_secret", SECRET, secret=True)

    # The Request URL check when the app's Event Subscriptions are saved.
    challenge = "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"
    res = _event(url, {"token": "legacy", "challenge": challenge, "type": "url_verification"})
    assert res.status_code == 200 and res.json() == {"challenge": challenge}

    # A message: event_type = the inner event's type, data = the inner event; the handler answers.
    res = _event(url, hello)
    assert res.status_code == 202, res.text
    event_id = res.headers["AutoKitteh-Event-ID"]
    sid = _session_of(akd, event_id)
    assert akd.prints(sid) == ["message message U7 hi"]
    assert {"channel": "C1", "text": "echo hi"} in slack.messages
    ev = akd.api("GET", f"/events/{event_id}").json()
    assert ev["event_type"] == "message" and ev["data"] == hello["event"]

    # Slack retries the same event: 2xx, the same event, nothing new starts.
    again = _event(url, hello, extra={"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"})
    assert again.status_code == 202 and again.json() == {"event_id": event_id, "duplicate": True}
    assert len([e for e in _events(akd, "slackev") if e["event_type"] == "message"]) == 1

    # Wrong secret, no signature, a stale timestamp: 401 and nothing stored.
    before = len(_events(akd, "slackev"))
    other = _callback("Ev002", {"type": "message", "channel": "C1", "user": "U7", "text": "evil", "ts": "1.2"})
    assert _event(url, other, secret="wrong").status_code == 401
    assert _event(url, other, secret=None).status_code == 401
    assert _event(url, other, ts=time.time() - 600).status_code == 401
    assert _event(f"{akd.url}/slack/event", other, secret="wrong").status_code == 401  # the global path too
    # The bot's own message (its user is in authorizations): acknowledged, not kept.
    own = _callback("Ev003", {"type": "message", "channel": "C1", "user": "UBOT", "text": "echo hi", "ts": "1.3"})
    assert _event(url, own).status_code == 200
    assert len(_events(akd, "slackev")) == before

    # A slash command at the connection's command URL: AutoKitteh's fields and its echo.
    command = {"token": "legacy", "team_id": "T1", "team_domain": "akd", "channel_id": "C1", "channel_name": "general",
               "user_id": "U7", "user_name": "kitteh", "command": "/ak", "text": "deploy now", "api_app_id": "A1",
               "response_url": "https://hooks.slack.invalid/commands/1",
               "trigger_id": "13345224609.738474920.8088930838d88f008e0"}  # fmt: skip
    res = _form(f"{akd.url}/slack/command/{key}", command)
    assert res.status_code == 200, res.text
    assert res.json() == {"response_type": "ephemeral", "text": "Your command: `/ak deploy now`"}
    sid = _session_of(akd, res.headers["AutoKitteh-Event-ID"])
    assert akd.prints(sid) == ["command /ak deploy now U7 T1"]
    data = akd.api("GET", f"/events/{res.headers['AutoKitteh-Event-ID']}").json()["data"]
    assert data["trigger_id"] == command["trigger_id"] and data["is_enterprise_install"] is False
    assert "token" not in data

    # Slack probing a command URL's certificate; an interaction on AutoKitteh's global path.
    assert _form(f"{akd.url}/slack/command", {"ssl_check": "1", "token": "legacy"}).status_code == 200
    payload = {"type": "block_actions", "api_app_id": "A1", "team": {"id": "T1", "domain": "akd"},
               "user": {"id": "U7", "name": "kitteh"}, "trigger_id": "701.2.3", "token": "legacy",
               "actions": [{"type": "button", "action_id": "approve", "block_id": "b1", "value": "yes"}]}  # fmt: skip
    res = _form(f"{akd.url}/slack/interaction", {"payload": json.dumps(payload)})
    assert res.status_code == 200 and res.content == b"", res.text
    sid = _session_of(akd, res.headers["AutoKitteh-Event-ID"])
    assert akd.prints(sid) == ["interaction block_actions approve U7"]
    assert len(_events(akd, "slackev")) == before + 2


def _envelope(envelope_id: str, event_id: str, text: str) -> dict[str, Any]:
    event = {"type": "app_mention", "channel": "C9", "user": "U7", "text": text, "ts": "2.1", "event_ts": "2.1"}
    return {"envelope_id": envelope_id, "type": "events_api", "accepts_response_payload": False,
            "retry_attempt": 0, "retry_reason": "", "payload": _callback(event_id, event)}  # fmt: skip


def test_socket_mode_stores_then_acks_and_reconnects(
    akd_module: Akd, tmp_path: Path, slack: SlackSocketStandIn
) -> None:
    akd = akd_module
    akd.deploy(write_project(tmp_path / "p", {"autokitteh.yaml": SOCKET_MANIFEST, "program.py": PROGRAM}))
    conn = "slacksock/slack_conn"
    _set(akd, conn, "base_url", slack.base_url)
    _set(akd, conn, "private_bot_token", BOT)
    _set(akd, conn, "private_app_token", APP, secret=True)  # picked up by the supervisor's re-scan
    wait_for(lambda: (akd.akctl_json("connection", "get", conn).get("socket_mode") or {}).get("state") == "connected",
             30, interval=0.2)  # fmt: skip
    assert slack.hellos == 1

    slack.send(_envelope("env-1", "EvS1", "ping one"))
    wait_for(lambda: slack.acked("env-1") == 1, 30)
    first = [e for e in _events(akd, "slacksock") if e["event_type"] == "app_mention"]
    assert len(first) == 1  # stored before the ack
    assert akd.prints(_session_of(akd, first[0]["event_id"])) == ["mention ping one"]

    # Slack refreshes the connection: akd opens a new one and goes on there.
    slack.disconnect()
    wait_for(lambda: slack.hellos == 2, 30)
    # A redelivery of the first event (new envelope, same event_id) is acked and starts nothing.
    retry = {**_envelope("env-1b", "EvS1", "ping one"), "retry_attempt": 1, "retry_reason": "timeout"}
    slack.send(retry)
    slack.send(_envelope("env-2", "EvS2", "ping two"))
    slack.send({"envelope_id": "env-3", "type": "slash_commands", "accepts_response_payload": True,
                "payload": {"team_id": "T1", "command": "/ak", "text": "status", "user_id": "U7",
                            "api_app_id": "A1", "trigger_id": "99.1"}})  # fmt: skip
    wait_for(lambda: all(slack.acked(e) for e in ("env-1b", "env-2", "env-3")), 30)

    events = _events(akd, "slacksock")
    mentions = [e for e in events if e["event_type"] == "app_mention"]
    assert len(mentions) == 2
    second = next(e for e in mentions if e["event_id"] != first[0]["event_id"])
    assert akd.prints(_session_of(akd, second["event_id"])) == ["mention ping two"]
    command = next(e for e in events if e["event_type"] == "slash_command")
    assert akd.prints(_session_of(akd, command["event_id"])) == ["command /ak status U7 T1"]
    assert {"channel": "C9", "text": "pong ping one"} in slack.messages
    assert {"channel": "C9", "text": "pong ping two"} in slack.messages
    assert [slack.acked(e) for e in ("env-1", "env-1b", "env-2", "env-3")] == [1, 1, 1, 1]
    ack = next(a for a in slack.acks if a["envelope_id"] == "env-3")
    assert ack["payload"]["text"] == "Your command: `/ak status`"
    assert akd.akctl_json("connection", "get", conn)["socket_mode"]["state"] == "connected"

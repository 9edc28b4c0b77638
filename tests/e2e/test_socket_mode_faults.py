"""Slack Socket Mode when things go wrong (connection events issue, robustness): Slack
refusing ``apps.connections.open``, the socket dropped mid-stream, ``disconnect``
envelopes, and akd killed with SIGKILL between receiving an envelope and acking it.

One akd for the module, against the Socket Mode stand-in (a real websocket server that
redelivers what was not acked, as Slack does); each test has its own project and app
token, so its socket is its own."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness import Akd, pid_alive, wait_for, write_project
from tests.standins.slack_socket import SlackSocketStandIn

pytestmark = pytest.mark.e2e

BOT = "xoxb-good-token"

MANIFEST = """\
version: v2
project:
  name: {name}
  connections:
    - name: slack_conn
      integration: slack
  triggers:
    - name: on_mention
      connection: slack_conn
      event_type: app_mention
      call: program.py:on_mention
"""

PROGRAM = """\
from autokitteh.slack import slack_client

def on_mention(event):
    slack_client("slack_conn").chat_postMessage(channel=event.data.channel, text="pong " + event.data.text)
    print("mention", event.data.text)
"""


@pytest.fixture(scope="module")
def slack() -> Iterator[SlackSocketStandIn]:
    with SlackSocketStandIn(app_tokens=set(), tokens={BOT}) as server:
        yield server


def _project(akd: Akd, root: Path, slack: SlackSocketStandIn, name: str, app_token: str) -> None:
    akd.deploy(write_project(root / name, {"autokitteh.yaml": MANIFEST.format(name=name), "program.py": PROGRAM}))
    for var, value, secret in (("base_url", slack.base_url, False), ("private_bot_token", BOT, False),
                               ("private_app_token", app_token, True)):  # fmt: skip
        flags = ["--secret"] if secret else []
        res = akd.akctl("var", "set", var, value, *flags, "--connection", f"{name}/slack_conn")
        assert res.returncode == 0, res.stderr


def _state(akd: Akd, project: str) -> dict[str, Any]:
    res = akd.api("GET", f"/connections/{project}/slack_conn")
    assert res.status_code == 200, res.text
    state: dict[str, Any] = res.json().get("socket_mode") or {}
    return state


def _connected(akd: Akd, project: str) -> dict[str, Any]:
    return wait_for(lambda: (s := _state(akd, project)).get("state") == "connected" and s, 30, 0.1,
                    what=f"{project}'s socket to be connected")  # fmt: skip


def _envelope(envelope_id: str, event_id: str, text: str) -> dict[str, Any]:
    event = {"type": "app_mention", "channel": "C5", "user": "U7", "text": text, "ts": "3.1", "event_ts": "3.1"}
    callback = {
        "type": "event_callback",
        "team_id": "T1",
        "api_app_id": "A1",
        "event": event,
        "event_id": event_id,
        "event_time": 1700000000,
        "authorizations": [{"team_id": "T1", "user_id": "UBOT", "is_bot": True}],
    }
    return {"envelope_id": envelope_id, "type": "events_api", "accepts_response_payload": False,
            "retry_attempt": 0, "retry_reason": "", "payload": callback}  # fmt: skip


def _mentions(akd: Akd, project: str) -> list[dict[str, Any]]:
    """The project's stored mentions, with their data."""
    rows: list[dict[str, Any]] = akd.api("GET", "/events", params={"project": project, "limit": 200}).json()
    return [akd.api("GET", f"/events/{e['event_id']}").json() for e in rows if e["event_type"] == "app_mention"]


def _ran_once(akd: Akd, slack: SlackSocketStandIn, project: str, text: str, restarted: bool = False) -> None:
    """The mention ``text`` was stored once and started one session, which completed and
    posted its answer once (after a kill -9, once per attempt at most: a session killed
    mid-run runs again from the top as a new attempt, which is not a second dispatch)."""
    found = [e for e in _mentions(akd, project) if e["data"]["text"] == text]
    assert len(found) == 1, found
    ids = wait_for(lambda: akd.api("GET", f"/events/{found[0]['event_id']}").json().get("session_ids"), 60)
    assert len(ids) == 1, ids
    session = akd.wait_session(ids[0], timeout=60)
    assert session["state"] == "completed", session
    posted = [m for m in slack.messages if m.get("text") == f"pong {text}"]
    most = session.get("attempt", 1) if restarted else 1  # each attempt posts at most once
    assert 1 <= len(posted) <= most, (posted, session)


def test_refused_open_shows_the_error_and_retries_with_growing_waits(
    akd_module: Akd, tmp_path: Path, slack: SlackSocketStandIn
) -> None:
    akd, token = akd_module, "xapp-refused-for-now"
    _project(akd, tmp_path, slack, "smauth", token)
    seen: dict[int, dict[str, Any]] = {}

    def third_failure() -> bool:
        state = _state(akd, "smauth")
        if state.get("state") == "error":
            seen.setdefault(int(state["attempts"]), state)
        return 3 in seen

    wait_for(third_failure, 60, 0.05, what="three refused attempts")
    assert slack.open_count(token) == 3 and slack.connections(token) == 0
    for attempt, state in seen.items():
        assert "invalid_auth" in state["message"], state
        assert state["retry_in"] == 2.0 ** (attempt - 1), seen  # 1 s, 2 s, 4 s: doubling
    assert [a for a in sorted(seen) if a <= 3] == [1, 2, 3]  # every failure shown, none skipped

    # The token becomes good (the app was reinstalled): the next retry connects and the
    # count starts anew; events flow.
    slack.app_tokens.add(token)
    state = _connected(akd, "smauth")
    assert state["attempts"] == 0 and state["message"] == "" and slack.open_count(token) == 4
    assert slack.opens[-1] == (token, True)
    slack.send(_envelope("auth-1", "EvA1", "after the fix"), token)
    wait_for(lambda: slack.acked("auth-1") == 1, 30)
    _ran_once(akd, slack, "smauth", "after the fix")


def test_a_dropped_socket_reconnects_and_loses_or_doubles_nothing(
    akd_module: Akd, tmp_path: Path, slack: SlackSocketStandIn
) -> None:
    akd, token = akd_module, "xapp-drop"
    slack.app_tokens.add(token)
    _project(akd, tmp_path, slack, "smdrop", token)
    _connected(akd, "smdrop")
    slack.send(_envelope("drop-1", "EvD1", "one"), token)
    wait_for(lambda: slack.acked("drop-1") == 1, 30)

    # The ack of drop-2 is lost and the socket is cut right after it (no close frame): Slack
    # sends drop-2 again on the next socket; drop-3 and drop-4 were queued meanwhile.
    lost: set[str] = set()

    def lose_first_ack(ack: dict[str, Any]) -> bool:
        if ack.get("envelope_id") == "drop-2" and "drop-2" not in lost:
            lost.add("drop-2")
            return False
        return True

    slack.on_ack = lose_first_ack
    try:
        slack.send(_envelope("drop-2", "EvD2", "two"), token)
        wait_for(lambda: lost, 30, what="drop-2's first ack")
        slack.drop(token)
        slack.send(_envelope("drop-3", "EvD3", "three"), token)
        slack.send(_envelope("drop-4", "EvD4", "four"), token)
        wait_for(lambda: all(slack.acked(e) for e in ("drop-2", "drop-3", "drop-4")), 60)
    finally:
        slack.on_ack = None
    assert slack.connections(token) == 2  # one new socket
    assert [slack.acked(e) for e in ("drop-1", "drop-2", "drop-3", "drop-4")] == [1, 1, 1, 1]
    for text in ("one", "two", "three", "four"):
        _ran_once(akd, slack, "smdrop", text)
    assert len(_mentions(akd, "smdrop")) == 4
    state = _state(akd, "smdrop")
    assert state["state"] == "connected" and state["attempts"] == 0, state


@pytest.mark.parametrize("reason", ["refresh_requested", "warning"])
def test_disconnect_opens_the_new_socket_before_closing_the_old(
    akd_module: Akd, tmp_path: Path, slack: SlackSocketStandIn, reason: str
) -> None:
    akd, token, project = akd_module, f"xapp-{reason}", f"sm{reason.replace('_', '')}"
    slack.app_tokens.add(token)
    _project(akd, tmp_path, slack, project, token)
    _connected(akd, project)
    old = slack.newest(token)
    slack.send(_envelope(f"{reason}-1", f"Ev{reason}1", f"before {reason}"), token)
    wait_for(lambda: slack.acked(f"{reason}-1") == 1, 30)

    slack.disconnect(reason, token)
    slack.send(_envelope(f"{reason}-2", f"Ev{reason}2", f"after {reason}"), token)  # taken by the new socket
    wait_for(lambda: slack.acked(f"{reason}-2") == 1, 30)
    wait_for(lambda: ("closed", old) in slack.log, 30, what="akd to close the old socket")
    new = slack.newest(token)
    assert slack.log.index(("hello", new)) < slack.log.index(("closed", old)), slack.log  # make before break
    assert slack.connections(token) == 2
    _ran_once(akd, slack, project, f"before {reason}")
    _ran_once(akd, slack, project, f"after {reason}")
    state = _state(akd, project)
    assert state["state"] == "connected" and state["attempts"] == 0, state


def test_link_disabled_is_a_failure_retried_after_a_wait(
    akd_module: Akd, tmp_path: Path, slack: SlackSocketStandIn
) -> None:
    akd, token = akd_module, "xapp-disabled"
    slack.app_tokens.add(token)
    _project(akd, tmp_path, slack, "smdisabled", token)
    _connected(akd, "smdisabled")
    old = slack.newest(token)
    slack.disconnect("link_disabled", token)  # Socket Mode turned off for the app: no new socket at once
    wait_for(lambda: ("closed", old) in slack.log, 30, what="akd to close the socket")
    wait_for(lambda: slack.newest(token) > old, 30, what="the retry")
    new = slack.newest(token)
    assert slack.log.index(("closed", old)) < slack.log.index(("hello", new)), slack.log  # break, then retry
    state = _connected(akd, "smdisabled")
    assert state["attempts"] == 0
    slack.send(_envelope("disabled-1", "EvX1", "back again"), token)
    wait_for(lambda: slack.acked("disabled-1") == 1, 30)
    _ran_once(akd, slack, "smdisabled", "back again")


def test_kill_9_before_the_ack_redelivers_and_runs_once(
    akd_module: Akd, tmp_path: Path, slack: SlackSocketStandIn
) -> None:
    akd, token = akd_module, "xapp-kill"
    slack.app_tokens.add(token)
    _project(akd, tmp_path, slack, "smkill", token)
    _connected(akd, "smkill")
    pid = akd.pid
    stored_at_ack: list[int] = []

    # 1. akd stored the envelope and sent its ack, which never reached Slack: akd dies at
    #    that moment. The ack came only after the event was stored (it is there already).
    def kill_at_ack(ack: dict[str, Any]) -> bool:
        if ack.get("envelope_id") != "kill-1":
            return True
        stored_at_ack.append(len([e for e in _mentions(akd, "smkill") if e["data"]["text"] == "stored"]))
        os.kill(pid, signal.SIGKILL)
        return False

    slack.on_ack = kill_at_ack
    try:
        slack.send(_envelope("kill-1", "EvK1", "stored"), token)
        wait_for(lambda: not pid_alive(pid), 30, what="akd to die at the ack")
    finally:
        slack.on_ack = None
    assert stored_at_ack == [1] and slack.acked("kill-1") == 0
    akd.up()
    wait_for(lambda: slack.acked("kill-1") == 1, 60, what="the redelivery's ack")  # Slack sent it again
    _ran_once(akd, slack, "smkill", "stored", restarted=True)

    # 2. akd dies the moment the envelope is on the wire, before it could store or ack it.
    pid = akd.pid

    def kill_at_send(envelope: dict[str, Any]) -> None:
        if envelope.get("envelope_id") == "kill-2":
            os.kill(pid, signal.SIGKILL)

    slack.on_sent = kill_at_send
    try:
        slack.send(_envelope("kill-2", "EvK2", "in flight"), token)
        wait_for(lambda: not pid_alive(pid), 30, what="akd to die at the send")
    finally:
        slack.on_sent = None
    akd.up()
    wait_for(lambda: slack.acked("kill-2") == 1, 60, what="the redelivery's ack")
    _ran_once(akd, slack, "smkill", "in flight", restarted=True)
    _ran_once(akd, slack, "smkill", "stored", restarted=True)  # still one event and one session
    assert len(_mentions(akd, "smkill")) == 2

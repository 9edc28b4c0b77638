"""Vendor deliveries on AutoKitteh's global paths with several connections (connection
events issue, robustness), and kill -9 between storing a delivery and answering it.

- Slack ``/slack/event``, ``/slack/command``, ``/slack/interaction`` and GitHub
  ``/github/webhook`` reach only the project whose connection the delivery is for (its
  secret verifies it; for Slack, among connections sharing a signing secret, the one whose
  ``app_id``/``team_id`` the payload names); a delivery no connection's secret verifies
  gets 401 and nothing is stored.
- kill -9 after akd stored a delivery whose 2xx never reached the sender (it hung up):
  GitHub's redelivery (same ``X-GitHub-Delivery``) is answered as a duplicate. Then signed
  GitHub deliveries from a few senders at once while akd is killed with SIGKILL at random
  moments and restarted; a delivery without a 2xx is sent again with the same id. Every
  delivery ends up stored once with one session, and each session's side effect (a line
  in a file) repeats only when a kill interrupted that session (it runs again from the
  top), at most once per kill, never because of a second dispatch.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import random
import socket
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
import pytest

from tests.e2e.harness import Akd, wait_for, write_project

pytestmark = pytest.mark.e2e

SLACK_MANIFEST = """\
version: v2
project:
  name: {name}
  connections:
    - name: slack_conn
      integration: slack
  triggers:
    - name: on_message
      connection: slack_conn
      event_type: message
      call: program.py:on_event
    - name: on_command
      connection: slack_conn
      event_type: slash_command
      call: program.py:on_event
    - name: on_interaction
      connection: slack_conn
      event_type: interaction
      call: program.py:on_event
"""

GITHUB_MANIFEST = """\
version: v2
project:
  name: {name}
  connections:
    - name: gh
      integration: github
  triggers:
    - name: on_push
      connection: gh
      event_type: push
      call: program.py:on_event
"""

PROGRAM = """\
def on_event(event):
    print("{name}", event.event_type)
"""

# Slack: routa and routc are one Slack app in two workspaces (one signing secret), routb another app.
SLACK = {
    "routa": {"secret": "slack-secret-of-app-one", "app": "A1", "team": "T1"},
    "routb": {"secret": "slack-secret-of-app-two", "app": "A2", "team": "T2"},
    "routc": {"secret": "slack-secret-of-app-one", "app": "A1", "team": "T3"},
}
GITHUB = {"ghra": "github secret one", "ghrb": "github secret two"}


def _project(akd: Akd, root: Path, name: str, manifest: str, conn: str, values: dict[str, str]) -> None:
    files = {"autokitteh.yaml": manifest.format(name=name), "program.py": PROGRAM.replace("{name}", name)}
    akd.deploy(write_project(root / name, files))
    for var, value in values.items():
        flags = ["--secret"] if "secret" in var else []
        res = akd.akctl("var", "set", var, value, *flags, "--connection", f"{name}/{conn}")
        assert res.returncode == 0, res.stderr


def _slack(url: str, body: bytes, content_type: str, secret: str) -> httpx.Response:
    stamp = str(int(time.time()))
    mac = hmac.new(secret.encode(), b"v0:" + stamp.encode() + b":" + body, hashlib.sha256).hexdigest()
    headers = {"Content-Type": content_type, "X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": "v0=" + mac}
    return httpx.post(url, content=body, headers=headers, timeout=30)


def _slack_deliveries(akd: Akd, n: int, app: str, team: str) -> list[tuple[str, bytes, str]]:
    """One event, one command and one interaction naming ``app`` and ``team``."""
    event = {
        "type": "event_callback",
        "api_app_id": app,
        "team_id": team,
        "event_id": f"Ev{n}{team}",
        "event": {"type": "message", "channel": "C1", "user": "U1", "text": f"hi {n}", "ts": f"{n}.1"},
    }
    command = {
        "team_id": team,
        "api_app_id": app,
        "command": "/ak",
        "text": f"go {n}",
        "user_id": "U1",
        "channel_id": "C1",
        "trigger_id": f"{n}.{team}.cmd",
        "response_url": "https://hooks.slack.invalid/1",
    }
    action = {
        "type": "block_actions",
        "api_app_id": app,
        "team": {"id": team, "domain": "d"},
        "user": {"id": "U1"},
        "trigger_id": f"{n}.{team}.act",
        "actions": [{"action_id": "ok", "type": "button", "value": "1"}],
    }
    return [
        (f"{akd.url}/slack/event", json.dumps(event).encode(), "application/json"),
        (f"{akd.url}/slack/command", urlencode(command).encode(), "application/x-www-form-urlencoded"),
        (f"{akd.url}/slack/interaction", urlencode({"payload": json.dumps(action)}).encode(),
         "application/x-www-form-urlencoded"),
    ]  # fmt: skip


def _github(url: str, payload: dict[str, Any], delivery: str, secret: str, timeout: float = 30) -> httpx.Response:
    body = json.dumps(payload).encode()
    signature = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    headers = {"X-GitHub-Event": "push", "X-GitHub-Delivery": delivery, "Content-Type": "application/json",
               "X-Hub-Signature-256": signature}  # fmt: skip
    return httpx.post(url, content=body, headers=headers, timeout=timeout)


def _event_ids(akd: Akd, project: str) -> set[str]:
    rows = akd.api("GET", "/events", params={"project": project, "limit": 500}).json()
    return {e["event_id"] for e in rows}


def _session_prints(akd: Akd, event_id: str) -> list[str]:
    ids = wait_for(lambda: akd.api("GET", f"/events/{event_id}").json().get("session_ids"), 30)
    assert len(ids) == 1, ids
    assert akd.wait_session(ids[0])["state"] == "completed", akd.session(ids[0])
    return akd.prints(ids[0])


def test_global_paths_route_each_delivery_to_its_connection_only(akd_module: Akd, tmp_path: Path) -> None:
    akd = akd_module
    for name, s in SLACK.items():
        values = {"private_signing_secret": s["secret"], "app_id": s["app"], "team_id": s["team"]}
        _project(akd, tmp_path, name, SLACK_MANIFEST, "slack_conn", values)
    for name, secret in GITHUB.items():
        _project(akd, tmp_path, name, GITHUB_MANIFEST, "gh", {"pat_secret": secret})
    projects = [*SLACK, *GITHUB]
    before = {p: _event_ids(akd, p) for p in projects}

    for n, (name, s) in enumerate(SLACK.items()):
        expected = {"message": f"{name} message", "command": f"{name} slash_command",
                    "interaction": f"{name} interaction"}  # fmt: skip
        for url, body, content_type in _slack_deliveries(akd, n, s["app"], s["team"]):
            res = _slack(url, body, content_type, s["secret"])
            assert res.status_code in (200, 202), (url, res.text)
            event_id = res.headers["AutoKitteh-Event-ID"]
            after = {p: _event_ids(akd, p) - before[p] for p in projects}
            assert after == {p: ({event_id} if p == name else set()) for p in projects}, (name, url, after)
            kind = "message" if url.endswith("event") else url.rsplit("/", 1)[1]
            assert _session_prints(akd, event_id) == [expected[kind]]
            before[name] |= after[name]

    for n, (name, secret) in enumerate(GITHUB.items()):
        res = _github(f"{akd.url}/github/webhook", {"ref": "refs/heads/main", "n": n}, f"route-{n}", secret)
        assert res.status_code == 202, res.text
        event_id = res.headers["AutoKitteh-Event-ID"]
        after = {p: _event_ids(akd, p) - before[p] for p in projects}
        assert after == {p: ({event_id} if p == name else set()) for p in projects}, (name, after)
        assert _session_prints(akd, event_id) == [f"{name} push"]
        before[name] |= after[name]

    # Correctly signed, but with a secret no connection has: 401, nothing stored anywhere.
    for url, body, content_type in _slack_deliveries(akd, 9, "A1", "T1"):
        res = _slack(url, body, content_type, "a secret nobody configured")
        assert res.status_code == 401, (url, res.text)
    res = _github(f"{akd.url}/github/webhook", {"ref": "refs/heads/main"}, "route-x", "a secret nobody configured")
    assert res.status_code == 401, res.text
    assert {p: _event_ids(akd, p) for p in projects} == before


KILL_PROGRAM = """\
import time

def on_event(event):
    with open({out!r}, "a") as f:
        f.write(event.data.delivery + " " + repr(time.time()) + "\\n")
"""

DELIVERIES = 30
KILLS = 3
SENDERS = 6


class Killer(threading.Thread):
    """Kills akd with SIGKILL ``KILLS`` times at random moments while deliveries go on, and
    restarts it; each kill's window (just before the signal, akd dead) is kept."""

    def __init__(self, akd: Akd, rng: random.Random) -> None:
        super().__init__(daemon=True)
        self.akd, self.rng = akd, rng
        self.windows: list[tuple[float, float]] = []
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            for _ in range(KILLS):
                time.sleep(self.rng.uniform(0.3, 1.5))
                before = time.time()
                self.akd.kill9()
                self.windows.append((before, time.time()))
                self.akd.up()
        except BaseException as exc:  # reported by the test
            self.error = exc


def _deliver_until_acknowledged(akd: Akd, key: str, delivery: str, deadline: float) -> tuple[int, bool]:
    """POST until a 2xx arrives (a lost answer is sent again with the same delivery id);
    how many tries it took, and whether akd had stored it before (the answer was lost)."""
    payload = {"ref": "refs/heads/main", "delivery": delivery}
    tries = 0
    while time.monotonic() < deadline:
        tries += 1
        try:
            res = _github(f"{akd.url}/github/webhook/{key}", payload, delivery, GITHUB["ghra"], timeout=10)
        except (httpx.HTTPError, OSError, ValueError, KeyError):  # akd is down or restarting
            time.sleep(0.1)
            continue
        if res.status_code == 202:
            return tries, bool(res.json().get("duplicate"))
        assert res.status_code >= 500, res.text  # only a dying akd may answer otherwise
        time.sleep(0.1)
    raise AssertionError(f"delivery {delivery} was never acknowledged")


def _post_and_hang_up(akd: Akd, key: str, delivery: str) -> None:
    """Send a signed delivery and close the socket without reading the answer (the 2xx is lost)."""
    body = json.dumps({"ref": "refs/heads/main", "delivery": delivery}).encode()
    signature = "sha256=" + hmac.new(GITHUB["ghra"].encode(), body, hashlib.sha256).hexdigest()
    parts = urlsplit(akd.url)
    head = (f"POST /github/webhook/{key} HTTP/1.1\r\nHost: {parts.netloc}\r\nContent-Type: application/json\r\n"
            f"X-GitHub-Event: push\r\nX-GitHub-Delivery: {delivery}\r\nX-Hub-Signature-256: {signature}\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n")  # fmt: skip
    with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 80), timeout=10) as conn:
        conn.sendall(head.encode() + body)


def _stored(akd: Akd, project: str, delivery: str) -> bool:
    events = [akd.api("GET", f"/events/{e}").json() for e in _event_ids(akd, project)]
    return any(ev["data"].get("delivery") == delivery for ev in events)


def _repeats_explained(runs: dict[str, list[float]], windows: list[tuple[float, float]]) -> list[str]:
    """A delivery's side effect may repeat only across a kill (the interrupted session ran
    again), at most once per kill; anything else is a second dispatch."""
    problems = []
    for delivery, times in runs.items():
        times.sort()
        charged: set[int] = set()
        for prev, cur in itertools.pairwise(times):
            kills = [k for k, (before, after) in enumerate(windows) if prev < after and before < cur]
            if not kills or kills[-1] in charged:
                problems.append(f"{delivery} ran again at {cur:.3f} (before: {prev:.3f}) with no new kill between")
            else:
                charged.add(kills[-1])
    return problems


def test_kill_9_between_store_and_answer_loses_and_doubles_nothing(akd_module: Akd, tmp_path: Path) -> None:
    akd = akd_module
    out = tmp_path / "effects.txt"
    files = {"autokitteh.yaml": GITHUB_MANIFEST.format(name="ghkill"), "program.py": KILL_PROGRAM.format(out=str(out))}
    akd.deploy(write_project(tmp_path / "ghkill", files))
    for var, value in (("pat_secret", GITHUB["ghra"]), ("pat_key", "k" * 32)):
        assert akd.akctl("var", "set", var, value, "--connection", "ghkill/gh").returncode == 0
    tries: dict[str, int] = {}
    stored_before: list[str] = []  # stored by akd, but its 2xx was lost to a kill
    windows: list[tuple[float, float]] = []

    # First, for certain: akd stored the delivery, its answer was lost, akd is killed; after
    # the restart GitHub's redelivery (same X-GitHub-Delivery) is answered as a duplicate.
    for delivery in ("lost-0", "lost-1"):
        _post_and_hang_up(akd, "k" * 32, delivery)
        wait_for(lambda d=delivery: _stored(akd, "ghkill", d), 30, 0.05, what=f"{delivery} to be stored")
        before = time.time()
        akd.kill9()
        windows.append((before, time.time()))
        akd.up()
        tries[delivery], duplicate = _deliver_until_acknowledged(akd, "k" * 32, delivery, time.monotonic() + 30)
        assert duplicate, delivery
        stored_before.append(delivery)

    # Then deliveries from a few senders at once while akd is killed at random moments.
    killer = Killer(akd, random.Random(14))
    deadline = time.monotonic() + 75
    pending = [f"kill-{n:02d}" for n in range(DELIVERIES)]
    expected = ["lost-0", "lost-1", *pending]
    lock = threading.Lock()

    def sender() -> None:  # a few in flight at once, so a kill finds some between store and answer
        while True:
            with lock:
                if not pending:
                    return
                delivery = pending.pop(0)
            count, duplicate = _deliver_until_acknowledged(akd, "k" * 32, delivery, deadline)
            with lock:
                tries[delivery] = count
                if duplicate:
                    stored_before.append(delivery)

    senders = [threading.Thread(target=sender, daemon=True) for _ in range(SENDERS)]
    killer.start()
    for thread in senders:
        thread.start()
    for thread in senders:
        thread.join(90)
    assert sorted(tries) == sorted(expected), sorted(set(tries) ^ set(expected))
    killer.join(60)
    assert killer.error is None and not killer.is_alive(), killer.error
    assert len(killer.windows) == KILLS
    windows += killer.windows

    # Every delivery is stored once and ran in one session (the restarts resumed what was pending).
    events = [akd.api("GET", f"/events/{e}").json() for e in _event_ids(akd, "ghkill")]
    by_delivery: dict[str, list[dict[str, Any]]] = {}
    for ev in events:
        by_delivery.setdefault(ev["data"]["delivery"], []).append(ev)
    assert sorted(by_delivery) == sorted(tries) and all(len(v) == 1 for v in by_delivery.values()), by_delivery
    for delivery, (ev,) in by_delivery.items():
        ids = wait_for(lambda ev=ev: akd.api("GET", f"/events/{ev['event_id']}").json().get("session_ids"), 60)
        assert len(ids) == 1, (delivery, ids)
        assert akd.wait_session(ids[0], timeout=60)["state"] == "completed", akd.session(ids[0])
    runs: dict[str, list[float]] = {}
    for line in out.read_text().splitlines():
        delivery, stamp = line.split()
        runs.setdefault(delivery, []).append(float(stamp))
    assert sorted(runs) == sorted(tries), sorted(set(tries) ^ set(runs))
    assert _repeats_explained(runs, windows) == []
    resent = {d: t for d, t in tries.items() if t > 1}
    print(f"sent again after a kill: {resent}; of them stored before the kill: {stored_before}")

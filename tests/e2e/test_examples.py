"""Every project in examples/ deploys and does what its README says, on a real daemon.

Vendor-free examples only; HTTP sources are small local servers in this process.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import shutil
import threading
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pytest

from tests.e2e.harness import Akd, wait_for
from tests.standins.slack import SlackStandIn
from tests.standins.slack_socket import SlackSocketStandIn

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


class Source:
    """A paged orders API (``?page=N``) whose page 2 fails once with 503, and a health URL."""

    def __init__(self) -> None:
        self.hits: Counter[str] = Counter()
        self.lock = threading.Lock()
        source = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                url = urlparse(self.path)
                page = parse_qs(url.query).get("page", ["1"])[0]
                with source.lock:
                    source.hits[f"{url.path}?{page}"] += 1
                    first_of_page_2 = url.path == "/orders" and page == "2" and source.hits["/orders?2"] == 1
                if url.path == "/health":
                    self._send(200, {"ok": True})
                elif url.path != "/orders" or first_of_page_2:
                    self._send(503 if first_of_page_2 else 404, {"error": "try again"})
                else:
                    n = int(page)
                    items = [{"amount": 10 * n + i} for i in range(2)]
                    self._send(200, {"items": items, "next": n + 1 if n < 3 else None})

            def _send(self, status: int, body: Any) -> None:
                raw = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture(scope="module")
def source() -> Iterator[Source]:
    s = Source()
    yield s
    s.server.shutdown()
    s.server.server_close()


def _deploy(akd: Akd, tmp_path: Path, name: str) -> dict[str, Any]:
    """``akctl deploy examples/<name>``, as each README says (a copy: the examples stay clean)."""
    root = tmp_path / "examples" / name
    shutil.copytree(EXAMPLES / name, root)
    deployed: dict[str, Any] = akd.akctl_json("deploy", str(root))
    return deployed


def _session_of(akd: Akd, response: httpx.Response) -> str:
    event = response.headers["AutoKitteh-Event-ID"]
    ids: list[str] = wait_for(lambda: akd.api("GET", f"/events/{event}").json().get("session_ids"), 30)
    return ids[0]


def _set(akd: Akd, project: str, name: str, value: str) -> None:
    res = akd.akctl("var", "set", name, value, "--project", project)
    assert res.returncode == 0, res.stderr


def test_every_example_has_a_readme_and_a_test() -> None:
    names = sorted(p.name for p in EXAMPLES.iterdir() if (p / "autokitteh.yaml").exists())
    tested = {"hello", "durable_pipeline", "cron_report", "sync_api", "approval", "fan_out", "github_to_slack",
              "slack_bot"}  # fmt: skip
    assert set(names) == tested, names
    for name in names:
        readme = (EXAMPLES / name / "README.md").read_text() if name != "hello" else "akctl deploy"
        assert "akctl deploy" in readme, name


def test_hello(akd_module: Akd, tmp_path: Path) -> None:
    hooks = _deploy(akd_module, tmp_path, "hello")["webhooks"]
    sid = _session_of(akd_module, httpx.post(hooks["on_webhook"], json={"name": "Ada"}, timeout=10))
    assert akd_module.wait_session(sid)["state"] == "completed"
    assert akd_module.prints(sid)[0] == "Hello, Ada!"


def test_durable_pipeline_resumes_after_kill_9_without_fetching_a_page_twice(
    akd: Akd, tmp_path: Path, source: Source
) -> None:
    hooks = _deploy(akd, tmp_path, "durable_pipeline")["webhooks"]
    _set(akd, "durable_pipeline", "SOURCE_URL", f"{source.url}/orders")
    _set(akd, "durable_pipeline", "PAUSE_SECONDS", "4")
    sid = _session_of(akd, httpx.post(hooks["start"], timeout=10))
    wait_for(lambda: any("durable timer" in p for p in akd.prints(sid)), 60, what="the pipeline to reach its sleep")
    akd.kill9()
    akd.up()
    session = akd.wait_session(sid, timeout=90)
    assert session["state"] == "completed", session.get("error")
    assert session["return_value"] == {"orders": 6, "total": 2 * (10 + 20 + 30) + 3}
    prints = akd.prints(sid)
    assert [p for p in prints if p.startswith("page")] == [f"page {n}: {2 * n} items so far" for n in (1, 2, 3)]
    # Page 2 failed once and was retried; no page was fetched again after the restart.
    assert {k: v for k, v in source.hits.items() if k.startswith("/orders")} == {
        "/orders?1": 1, "/orders?2": 2, "/orders?3": 1,
    }  # fmt: skip


def test_cron_report_keeps_its_report_in_the_store(akd_module: Akd, tmp_path: Path, source: Source) -> None:
    _deploy(akd_module, tmp_path, "cron_report")
    _set(akd_module, "cron_report", "CHECK_URL", f"{source.url}/health")
    triggers = akd_module.akctl_json("trigger", "list", "--project", "cron_report")
    assert [t["name"] for t in triggers] == ["hourly"]
    assert akd_module.akctl_json("trigger", "fire", "cron_report/hourly")["fired"] is True  # as the README says
    sid = wait_for(lambda: next((s["session_id"] for s in akd_module.sessions(project="cron_report")), None), 30,
                   what="the tick's session")  # fmt: skip
    assert akd_module.wait_session(sid)["state"] == "completed"
    report = akd_module.akctl_json("store", "get", "last_report", "--project", "cron_report")["value"]
    assert report["ok"] is True and report["status"] == 200 and report["url"].endswith("/health")
    assert akd_module.akctl_json("store", "get", "runs", "--project", "cron_report")["value"] == 1


def test_sync_api_routes_and_answers(akd_module: Akd, tmp_path: Path) -> None:
    url = _deploy(akd_module, tmp_path, "sync_api")["webhooks"]["api"]
    with httpx.Client(timeout=30) as http:
        created = http.post(f"{url}/todos", json={"title": "write docs"})
        assert created.status_code == 201, created.text
        item = created.json()
        assert item == {"id": 1, "title": "write docs", "done": False}
        assert created.headers["Location"] == "todos/1"
        assert http.post(f"{url}/todos", json={"title": ""}).status_code == 400
        listed = http.get(f"{url}/todos")
        assert listed.status_code == 200 and listed.json() == [item]
        assert listed.headers["Cache-Control"] == "no-store"
        assert http.get(f"{url}/todos/1").json() == item
        missing = http.get(f"{url}/todos/7")
        assert missing.status_code == 404 and missing.json() == {"error": "no todo 7"}
        assert http.delete(f"{url}/todos/1").status_code == 204
        assert http.get(f"{url}/todos").json() == []
        refused = http.put(f"{url}/todos")
        assert refused.status_code == 405 and refused.headers["Allow"] == "GET, POST"
        assert http.get(f"{url}/elsewhere").status_code == 404


def test_approval_waits_for_its_own_decision_or_expires(akd_module: Akd, tmp_path: Path) -> None:
    hooks = _deploy(akd_module, tmp_path, "approval")["webhooks"]
    sid = _session_of(akd_module, httpx.post(hooks["request"], json={"item": "laptop", "amount": 1200}, timeout=10))
    wait_for(lambda: any("decide with" in p for p in akd_module.prints(sid)), 30, what="the request to wait")
    other = httpx.post(hooks["decision"], json={"request": "ses_someone_else", "approved": True}, timeout=10)
    assert other.status_code == 202
    decided = httpx.post(hooks["decision"], json={"request": sid, "approved": True, "by": "ada"}, timeout=10)
    assert decided.status_code == 202
    session = akd_module.wait_session(sid, timeout=60)
    assert session["state"] == "completed", session.get("error")
    assert session["return_value"] == {"request": sid, "outcome": "approved", "by": "ada"}
    # A request nobody answers expires after APPROVAL_TIMEOUT seconds.
    _set(akd_module, "approval", "APPROVAL_TIMEOUT", "2")
    late = _session_of(akd_module, httpx.post(hooks["request"], json={"item": "desk"}, timeout=10))
    expired = akd_module.wait_session(late, timeout=60)
    assert expired["return_value"] == {"request": late, "outcome": "expired"}


def test_fan_out_collects_every_child(akd_module: Akd, tmp_path: Path) -> None:
    hooks = _deploy(akd_module, tmp_path, "fan_out")["webhooks"]
    sid = _session_of(akd_module, httpx.post(hooks["start"], json={"items": ["a", "bb", 4]}, timeout=10))
    session = akd_module.wait_session(sid, timeout=90)
    assert session["state"] == "completed", session.get("error")
    results = session["return_value"]
    assert results["a"] == {"item": "a", "length": 1, "upper": "A"}
    assert results["bb"] == {"item": "bb", "length": 2, "upper": "BB"}
    children = {s["session_id"]: s for s in akd_module.sessions(project="fan_out") if s["session_id"] != sid}
    assert len(children) == 3
    failed = results["4"].removeprefix("failed: akctl session get ")
    assert children[failed]["state"] == "error" and "TypeError" in children[failed]["error"]["type"]


def test_github_to_slack_announces_signed_deliveries(akd_module: Akd, tmp_path: Path) -> None:
    with SlackStandIn(tokens={"xoxb-example"}) as slack:
        _deploy(akd_module, tmp_path, "github_to_slack")
        for name, value, secret in (("private_bot_token", "xoxb-example", True), ("base_url", slack.base_url, False)):
            res = akd_module.akctl("var", "set", name, value, *(["--secret"] if secret else []),
                                   "--connection", "github_to_slack/slack_conn")  # fmt: skip
            assert res.returncode == 0, res.stderr
        res = akd_module.akctl("var", "set", "pat_secret", "gh-example-secret", "--secret",
                               "--connection", "github_to_slack/github_conn")  # fmt: skip
        assert res.returncode == 0, res.stderr

        # A delivery signed here, as GitHub signs it, to the URL `connection get` shows.
        url = akd_module.akctl_json("connection", "get", "github_to_slack/github_conn")["webhook_url"]
        payload = json.loads((Path(__file__).resolve().parents[2] / "akd/fixtures/github/issues.json").read_text())
        body = json.dumps(payload).encode()
        signature = "sha256=" + hmac.new(b"gh-example-secret", body, hashlib.sha256).hexdigest()
        sent = httpx.post(url, content=body, timeout=10, headers={
            "Content-Type": "application/json", "X-GitHub-Event": "issues", "X-GitHub-Delivery": "d-1",
            "X-Hub-Signature-256": signature})  # fmt: skip
        assert sent.status_code == 202, sent.text
        sid = _session_of(akd_module, sent)
        assert akd_module.wait_session(sid)["state"] == "completed", akd_module.session(sid).get("error")
        assert akd_module.prints(sid)[0].startswith("announced issue #1347")
        assert slack.messages[-1]["channel"] == "#dev" and "#1347 Found a bug" in slack.messages[-1]["text"]

        # The README's way: a simulated comment; a closed issue matches no trigger's filter.
        sim = akd_module.akctl_json("connection", "simulate", "github_to_slack/github_conn", "issue_comment")
        assert akd_module.wait_session(sim["session_ids"][0])["state"] == "completed"
        assert slack.messages[-1]["text"].startswith("octocat on #")
        closed = tmp_path / "closed.json"
        closed.write_text(json.dumps({"action": "closed"}))
        quiet = akd_module.akctl_json("connection", "simulate", "github_to_slack/github_conn", "issues",
                                      "--data", str(closed))  # fmt: skip
        assert quiet["session_ids"] == [] and len(slack.messages) == 2


def _mention(n: int, text: str) -> dict[str, Any]:
    event = {"type": "app_mention", "channel": "C42", "user": "U7", "text": text, "ts": f"3.{n}", "event_ts": f"3.{n}"}
    payload = {
        "team_id": "T1",
        "api_app_id": "A1",
        "type": "event_callback",
        "event": event,
        "event_id": f"EvX{n}",
        "event_time": 1700000000,
        "authorizations": [{"team_id": "T1", "user_id": "UBOT", "is_bot": True}],
    }
    return {"envelope_id": f"env-{n}", "type": "events_api", "accepts_response_payload": False, "retry_attempt": 0,
            "retry_reason": "", "payload": payload}  # fmt: skip


def test_slack_bot_answers_over_socket_mode(akd_module: Akd, tmp_path: Path) -> None:
    with SlackSocketStandIn(app_tokens={"xapp-example"}, tokens={"xoxb-example"}) as slack:
        _deploy(akd_module, tmp_path, "slack_bot")
        conn = "slack_bot/slack_conn"
        for name, value in (("base_url", slack.base_url), ("private_bot_token", "xoxb-example"),
                            ("private_app_token", "xapp-example")):  # fmt: skip
            res = akd_module.akctl("var", "set", name, value, "--secret", "--connection", conn)
            assert res.returncode == 0, res.stderr
        wait_for(lambda: "connected" in akd_module.akctl("connection", "get", conn).stdout, 30, interval=0.2,
                 what="the Socket Mode websocket")  # fmt: skip

        slack.send(_mention(1, "<@UBOT> hello"))
        wait_for(lambda: len(slack.messages) == 1, 30, what="the answer to the mention")
        assert slack.messages[0]["channel"] == "C42" and slack.messages[0]["thread_ts"] == "3.1"
        assert "Mention me with `notes`" in slack.messages[0]["text"]
        slack.send({"envelope_id": "env-c", "type": "slash_commands", "accepts_response_payload": True,
                    "payload": {"team_id": "T1", "api_app_id": "A1", "command": "/remember", "text": "buy milk",
                                "user_id": "U7", "channel_id": "C42", "trigger_id": "77.1"}})  # fmt: skip
        wait_for(lambda: len(slack.messages) == 2, 30, what="the /remember answer")
        assert slack.messages[1]["text"] == "Noted (1 so far)."
        slack.send(_mention(2, "<@UBOT> notes"))
        wait_for(lambda: len(slack.messages) == 3, 30, what="the notes")
        assert slack.messages[2]["text"] == "You asked me to remember: buy milk"
        assert all(slack.acked(e) == 1 for e in ("env-1", "env-c", "env-2"))

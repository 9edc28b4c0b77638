"""The backbone, end to end: deploy, webhook -> event -> session -> prints, the event.data
shape (DESIGN.md section 4), bad input, the CLI's JSON shapes and exit codes (section 7),
restart, kill -9 and the single-daemon lock. Real akd, real Temporal, real akctl, real HTTP."""

from __future__ import annotations

import json
import marshal
import re
import subprocess
import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.harness import AKCTL, ROOT, Akd, pid_alive, processes_matching, wait_for, write_project

pytestmark = pytest.mark.e2e

EVENT_ID = re.compile(r"^evt_[0-9a-z]{26}$")
SESSION_ID = re.compile(r"^ses_[0-9a-z]{26}$")
RFC3339_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
SESSION_FIELDS = {
    "session_id",
    "project",
    "deployment_id",
    "entrypoint",
    "state",
    "created_at",
    "updated_at",
    "error",
    "return_value",
}
FINAL = ("completed", "error", "stopped")
MAX_BODY = 512 * 1024


# -- helpers -------------------------------------------------------------------------------


def run_akctl(akd: Akd, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``akctl`` with extra environment variables (``Akd.akctl`` takes none)."""
    return subprocess.run([*AKCTL, *args], env={**akd.env, **env}, capture_output=True, text=True, timeout=60, cwd=ROOT)


def one_line(text: str) -> str:
    """stderr of rich may wrap long paths; join it back."""
    return text.replace("\n", "")


def session_of_event(akd: Akd, event_id: str) -> str:
    def find() -> str | None:
        return next((s["session_id"] for s in akd.sessions(limit=500) if s["event_id"] == event_id), None)

    return wait_for(find, 30, what=f"a session for {event_id}")


def assert_rfc3339_utc(value: Any) -> datetime:
    assert isinstance(value, str) and RFC3339_UTC.match(value), value
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def assert_session_shape(s: dict[str, Any]) -> None:
    assert set(s) >= SESSION_FIELDS, sorted(SESSION_FIELDS - set(s))
    assert SESSION_ID.match(s["session_id"])
    created = assert_rfc3339_utc(s["created_at"])
    updated = assert_rfc3339_utc(s["updated_at"])
    assert updated >= created


def slug_of(url: str) -> str:
    return url.rsplit("/webhooks/", 1)[1]


# -- examples/hello ------------------------------------------------------------------------


@dataclass
class Hello:
    deploy_stdout: str
    webhook_url: str
    deployment_id: str
    response: httpx.Response
    event_id: str
    session_id: str


@pytest.fixture(scope="module")
def hello(akd_module: Akd) -> Hello:
    """examples/hello deployed with the human output of ``akctl deploy`` and greeted once."""
    res = akd_module.akctl("deploy", "--dir", str(ROOT / "examples" / "hello"), timeout=120)
    assert res.returncode == 0, res.stderr
    urls = re.findall(r"https?://\S+/webhooks/\S+", res.stdout)
    assert len(urls) == 1, res.stdout
    deployment = re.search(r"dep_[0-9a-z]{26}", res.stdout)
    assert deployment, res.stdout
    resp = httpx.post(urls[0], content=b'{"name":"x"}', headers={"Content-Type": "application/json"}, timeout=10)
    event_id = resp.headers.get("AutoKitteh-Event-ID", "")
    session_id = session_of_event(akd_module, event_id) if resp.status_code == 202 else ""
    if session_id:
        akd_module.wait_session(session_id)
    return Hello(res.stdout, urls[0], deployment.group(0), resp, event_id, session_id)


def test_deploy_prints_the_webhook_url(akd_module: Akd, hello: Hello) -> None:
    assert "on_webhook" in hello.deploy_stdout
    assert hello.webhook_url.startswith(akd_module.url + "/webhooks/")
    project = akd_module.api("GET", "/projects/hello").json()
    assert [t["webhook_url"] for t in project["triggers"]] == [hello.webhook_url]


def test_webhook_answers_202_with_the_event_id(hello: Hello) -> None:
    assert hello.response.status_code == 202, hello.response.text
    assert EVENT_ID.match(hello.event_id), hello.response.headers
    assert hello.response.json()["event_id"] == hello.event_id


def test_session_completes(akd_module: Akd, hello: Hello) -> None:
    s = akd_module.session(hello.session_id)
    assert s["state"] == "completed", s
    assert s["return_value"] == {"greeted": "x"}
    assert s["error"] is None
    assert s["event_id"] == hello.event_id


def test_the_runner_cached_the_rewritten_code(akd_module: Akd, hello: Hello) -> None:
    """The next runner of this build loads program.py's rewritten code instead of rewriting it."""
    builds = str(akd_module.data_dir / "builds")
    entries = [p for p in (akd_module.data_dir / "cache" / "code").rglob("*") if p.is_file()]
    files = [marshal.loads(p.read_bytes()).co_filename for p in entries]
    assert any(f.startswith(builds) and f.endswith("/program.py") for f in files), files


def test_prints_without_timestamps(akd_module: Akd, hello: Hello) -> None:
    res = akd_module.akctl("session", "prints", "hello", "--no-timestamps")
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert lines[0] == "Hello, x!"
    assert lines[1] == f"POST /webhooks/{slug_of(hello.webhook_url)} (12 bytes)"


def test_prints_json(akd_module: Akd, hello: Hello) -> None:
    for ident in ("hello", hello.session_id):
        prints = akd_module.akctl_json("session", "prints", ident)
        assert isinstance(prints, list)
        assert [set(p) for p in prints] == [{"t", "text"}] * 2
        assert prints[0]["text"] == "Hello, x!"
        for p in prints:
            assert_rfc3339_utc(p["t"])


def test_prints_with_timestamps(akd_module: Akd, hello: Hello) -> None:
    res = akd_module.akctl("session", "prints", hello.session_id)
    assert res.returncode == 0, res.stderr
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d Hello, x!", res.stdout), res.stdout


def test_session_list_json(akd_module: Akd, hello: Hello) -> None:
    rows = akd_module.akctl_json("session", "list", "--project", "hello")
    assert isinstance(rows, list)
    assert [r["session_id"] for r in rows] == [hello.session_id]
    row = rows[0]
    assert_session_shape(row)
    assert row["project"] == "hello"
    assert row["deployment_id"] == hello.deployment_id
    assert row["entrypoint"] == "program.py:on_webhook"
    assert row["state"] == "completed"
    assert row["error"] is None
    assert row["return_value"] == {"greeted": "x"}


def test_session_get_json(akd_module: Akd, hello: Hello) -> None:
    s = akd_module.akctl_json("session", "get", hello.session_id)
    assert isinstance(s, dict)
    assert_session_shape(s)
    assert (s["session_id"], s["project"], s["state"]) == (hello.session_id, "hello", "completed")
    assert s["deployment_id"] == hello.deployment_id
    assert s["return_value"] == {"greeted": "x"}
    # A project name means its latest session.
    assert akd_module.akctl_json("session", "get", "hello")["session_id"] == hello.session_id


def test_session_list_and_get_human(akd_module: Akd, hello: Hello) -> None:
    listed = akd_module.akctl("session", "list")
    assert listed.returncode == 0, listed.stderr
    line = next(x for x in listed.stdout.splitlines() if hello.session_id in x)
    assert "hello" in line and "completed" in line and "program.py:on_webhook" in line
    got = akd_module.akctl("session", "get", hello.session_id)
    assert got.returncode == 0, got.stderr
    for text in (hello.session_id, "completed", "hello", hello.deployment_id, hello.event_id, "greeted"):
        assert text in got.stdout, (text, got.stdout)


def test_json_and_data_dir_options_go_anywhere(akd_module: Akd, hello: Hello, tmp_path: Path) -> None:
    """``--json`` and ``--data-dir`` work before the command group and after the command."""
    elsewhere = {"AKD_DATA_DIR": str(tmp_path)}  # the daemon is only found through --data-dir
    d = str(akd_module.data_dir)
    for args in (
        ("--json", "--data-dir", d, "session", "list"),
        ("session", "list", "--json", "--data-dir", d),
    ):
        res = run_akctl(akd_module, *args, **elsewhere)
        assert res.returncode == 0, (args, res.stderr)
        assert hello.session_id in [r["session_id"] for r in json.loads(res.stdout)]


# -- event.data (DESIGN.md section 4) ------------------------------------------------------

ECHO_MANIFEST = """\
version: v2
project:
  name: echo_data
  triggers:
    - name: hook
      type: webhook
      call: program.py:on_hook
"""

ECHO_PROGRAM = """\
import json


def on_hook(event):
    data = event.data
    body = data.body
    raw = body.bytes
    print(json.dumps({
        "event_type": event.event_type,
        "method": data.method,
        "raw_url": data.raw_url,
        "path": data.url.path,
        "path_suffix": data.url.path_suffix,
        "query": data.url.query,
        "headers": data.headers,
        "text": body.text,
        "json": body.json,
        "form": body.form,
        "bytes_type": type(raw).__name__,
        "bytes_hex": raw.hex() if isinstance(raw, bytes) else None,
        "attr_access": data.url.path == data["url"]["path"],
    }))
"""


@dataclass
class Echo:
    akd: Akd
    url: str

    @property
    def slug(self) -> str:
        return slug_of(self.url)

    def send(self, method: str, suffix: str = "", **kw: Any) -> dict[str, Any]:
        """Send a request to the webhook; return what the session saw of its event."""
        resp = httpx.request(method, self.url + suffix, timeout=10, **kw)
        assert resp.status_code == 202, resp.text
        sid = session_of_event(self.akd, resp.headers["AutoKitteh-Event-ID"])
        s = self.akd.wait_session(sid)
        assert s["state"] == "completed", s
        [line] = self.akd.prints(sid)
        seen: dict[str, Any] = json.loads(line)
        return seen


@pytest.fixture(scope="module")
def echo(akd_module: Akd, tmp_path_factory: pytest.TempPathFactory) -> Echo:
    root = write_project(
        tmp_path_factory.mktemp("echo"), {"autokitteh.yaml": ECHO_MANIFEST, "program.py": ECHO_PROGRAM}
    )
    return Echo(akd_module, str(akd_module.deploy(root)["webhooks"]["hook"]))


def test_event_data_of_a_json_post_with_suffix_and_query(echo: Echo) -> None:
    seen = echo.send(
        "POST",
        "/a/b?x=1&x=2&y=z",
        content=b'{"k": [1, 2]}',
        headers={"Content-Type": "application/json", "x-github-event": "push"},
    )
    slug = echo.slug
    assert seen["event_type"] == "post"
    assert seen["method"] == "POST"
    assert seen["raw_url"] == f"/webhooks/{slug}/a/b?x=1&x=2&y=z"
    assert seen["path"] == f"/webhooks/{slug}/a/b"
    assert seen["path_suffix"] == "a/b"
    assert seen["query"] == {"x": "1, 2", "y": "z"}
    assert seen["headers"]["Content-Type"] == "application/json"
    assert seen["headers"]["X-Github-Event"] == "push"
    assert seen["text"] == '{"k": [1, 2]}'
    assert seen["json"] == {"k": [1, 2]}
    assert seen["form"] is None
    assert seen["bytes_type"] == "bytes"
    assert bytes.fromhex(seen["bytes_hex"]) == b'{"k": [1, 2]}'
    assert seen["attr_access"] is True


def test_event_data_of_a_get_without_body(echo: Echo) -> None:
    seen = echo.send("GET")
    assert seen["event_type"] == "get"
    assert seen["method"] == "GET"
    assert seen["raw_url"] == f"/webhooks/{echo.slug}"
    assert seen["path"] == f"/webhooks/{echo.slug}"
    assert seen["path_suffix"] == ""
    assert seen["query"] == {}
    assert seen["bytes_type"] == "NoneType"
    assert (seen["text"], seen["json"], seen["form"]) == (None, None, None)


def test_event_data_of_an_urlencoded_form(echo: Echo) -> None:
    seen = echo.send(
        "PUT",
        content=b"a=1&b=two+words&a=3",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert seen["event_type"] == "put"
    assert seen["form"] == {"a": "1, 3", "b": "two words"}
    assert seen["text"] == "a=1&b=two+words&a=3"
    assert seen["json"] is None
    assert seen["headers"]["Content-Type"] == "application/x-www-form-urlencoded"


def test_event_data_json_whatever_the_content_type(echo: Echo) -> None:
    seen = echo.send("POST", content=b"[1, 2, 3]", headers={"Content-Type": "text/plain"})
    assert seen["json"] == [1, 2, 3]
    assert seen["form"] is None


def test_event_data_of_a_body_that_is_not_utf8(echo: Echo) -> None:
    raw = b"\xff\xfe\x00binary\x80"
    seen = echo.send("POST", content=raw, headers={"Content-Type": "application/octet-stream"})
    assert seen["bytes_type"] == "bytes"
    assert bytes.fromhex(seen["bytes_hex"]) == raw
    assert (seen["text"], seen["json"], seen["form"]) == (None, None, None)


def test_event_data_headers_are_canonical_and_repeats_joined(echo: Echo) -> None:
    headers = [("x-github-event", "push"), ("X-MULTI-value", "a"), ("x-multi-value", "b"), ("x-hub-signature-256", "s")]
    seen = echo.send("DELETE", headers=headers)
    assert seen["event_type"] == "delete"
    got = seen["headers"]
    assert got["X-Github-Event"] == "push"
    assert got["X-Multi-Value"] == "a, b"
    assert got["X-Hub-Signature-256"] == "s"
    assert all(k == "-".join(p[:1].upper() + p[1:].lower() for p in k.split("-")) for k in got), got


# -- bad input -----------------------------------------------------------------------------


def test_unknown_slug_is_404(akd_module: Akd) -> None:
    for path in ("/webhooks/no-such-slug", "/webhooks/no-such-slug/a/b?x=1"):
        resp = httpx.post(akd_module.url + path, content=b"{}", timeout=10)
        assert resp.status_code == 404, resp.text
        assert resp.json()["error"]["code"] == "not_found"
        assert "AutoKitteh-Event-ID" not in resp.headers


def test_body_over_512_kib_is_413_and_starts_nothing(akd_module: Akd, echo: Echo) -> None:
    def counts() -> tuple[int, int]:
        events = akd_module.api("GET", "/events", params={"project": "echo_data", "limit": 10000}).json()
        return len(events), len(akd_module.sessions(project="echo_data", limit=10000))

    before = counts()
    too_big = httpx.post(echo.url, content=b"x" * (MAX_BODY + 1), timeout=30)
    assert too_big.status_code == 413, too_big.text
    assert too_big.json()["error"]["code"] == "payload_too_large"

    def chunks() -> Any:
        for _ in range(MAX_BODY // 65536 + 1):
            yield b"y" * 65536

    streamed = httpx.post(echo.url, content=chunks(), timeout=30)  # chunked: no Content-Length
    assert streamed.status_code == 413, streamed.text
    # A request at the limit goes through; once its session ended, exactly one more
    # event and session exist, so the refused ones created none (no timing involved).
    seen = echo.send("POST", content=b"z" * MAX_BODY)
    assert seen["text"] == "z" * MAX_BODY
    assert counts() == (before[0] + 1, before[1] + 1)


def test_api_needs_the_token(akd_module: Akd) -> None:
    url = akd_module.url + "/api/v1/sessions"
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": akd_module.token}):
        resp = httpx.get(url, headers=headers, timeout=10)
        assert resp.status_code == 401, (headers, resp.text)
        assert resp.json()["error"]["code"] == "unauthenticated"
    assert akd_module.api("GET", "/sessions").status_code == 200


def test_health_needs_no_token(akd_module: Akd) -> None:
    resp = httpx.get(akd_module.url + "/api/v1/health", timeout=10)
    assert resp.status_code == 200, resp.text
    assert resp.json()["status"] == "ok"
    assert resp.json()["pid"] == akd_module.pid


def test_akctl_with_a_wrong_token_exits_41(akd_module: Akd) -> None:
    res = run_akctl(akd_module, "session", "list", AKD_TOKEN="wrong")
    assert res.returncode == 41, (res.stdout, res.stderr)
    assert "token" in res.stderr


def test_deploy_without_manifest_exits_44_naming_the_path(akd_module: Akd, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    res = akd_module.akctl("deploy", "--dir", str(empty))
    assert res.returncode == 44, (res.stdout, res.stderr)
    assert str(empty) in one_line(res.stderr)


def test_unknown_session_exits_44(akd_module: Akd) -> None:
    missing = "ses_" + "0" * 26
    for args in (("session", "get", missing), ("session", "prints", missing), ("session", "get", missing, "--json")):
        res = akd_module.akctl(*args)
        assert res.returncode == 44, (args, res.stdout, res.stderr)
        assert missing in one_line(res.stderr)


def test_bad_usage_exits_2(akd_module: Akd) -> None:
    res = akd_module.akctl("session", "list", "--limit", "0")
    assert res.returncode == 2, (res.stdout, res.stderr)  # click's usage code, distinct from 40 (bad manifest)
    assert "--limit" in res.stderr


# -- without a daemon ----------------------------------------------------------------------


def test_akctl_without_a_daemon_says_how_to_start_it(tmp_path: Path) -> None:
    idle = Akd(tmp_path / "nothing-here")
    res = idle.akctl("session", "list")
    assert res.returncode == 1, (res.stdout, res.stderr)
    assert "akctl up" in res.stderr
    assert not (tmp_path / "nothing-here" / "daemon.json").exists()


def test_akd_with_an_unknown_config_key_exits_40(tmp_path: Path) -> None:
    config = tmp_path / "akd.toml"
    config.write_text("[server]\nprot = 9981\n")
    cmd = [sys.executable, "-m", "akd", "--data-dir", str(tmp_path / "d"), "--port", "0", "--config", str(config)]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert res.returncode == 40, (res.stdout, res.stderr)
    assert "prot" in res.stderr and str(config) in res.stderr


def test_akctl_up_with_an_unknown_config_key_exits_40(tmp_path: Path) -> None:
    config = tmp_path / "akd.toml"
    config.write_text("[sessions]\nmax_body = 1\n")
    res = Akd(tmp_path / "d").akctl("up", "--detach", "--port", "0", "--config", str(config), timeout=120)
    assert res.returncode == 40, (res.stdout, res.stderr)
    assert "max_body" in res.stderr
    assert not (tmp_path / "d" / "daemon.json").exists()


# -- restart, kill -9, one daemon per data dir ----------------------------------------------


def greet(akd: Akd, url: str, name: str) -> str:
    resp = httpx.post(url, json={"name": name}, timeout=10)
    assert resp.status_code == 202, resp.text
    sid = session_of_event(akd, resp.headers["AutoKitteh-Event-ID"])
    assert akd.wait_session(sid)["state"] == "completed"
    return sid


def test_down_then_up_keeps_projects_and_sessions(akd: Akd) -> None:
    url = akd.deploy(ROOT / "examples" / "hello")["webhooks"]["on_webhook"]
    first = greet(akd, url, "before")
    pid = akd.pid

    res = akd.akctl("down")
    assert res.returncode == 0, res.stderr
    assert not (akd.data_dir / "daemon.json").exists()
    assert not pid_alive(pid)
    wait_for(lambda: not processes_matching(str(akd.data_dir)), 10, what="akd's children to exit")

    akd.up()
    assert akd.pid != pid
    assert [p["name"] for p in akd.api("GET", "/projects").json()] == ["hello"]
    rows = akd.akctl_json("session", "list")
    assert [r["session_id"] for r in rows] == [first]
    assert rows[0]["state"] == "completed"
    # The webhook path survives the restart (the port may not: it was 0).
    second = greet(akd, akd.url + "/webhooks/" + slug_of(url), "after")
    assert akd.prints(second)[0] == "Hello, after!"
    assert [r["session_id"] for r in akd.akctl_json("session", "list")] == [second, first]


def test_kill9_leaves_no_process_behind_and_restarts(akd: Akd) -> None:
    url = akd.deploy(ROOT / "examples" / "hello")["webhooks"]["on_webhook"]
    first = greet(akd, url, "before")
    data_dir = str(akd.data_dir)
    assert len(processes_matching(data_dir)) >= 2  # akd and its Temporal dev server

    akd.kill9()
    wait_for(lambda: not processes_matching(data_dir), 10, what=f"no process left running on {data_dir}")

    akd.up()
    rows = akd.akctl_json("session", "list")
    assert [r["session_id"] for r in rows] == [first]
    assert rows[0]["state"] == "completed"
    second = greet(akd, akd.url + "/webhooks/" + slug_of(url), "again")
    assert akd.prints(second)[0] == "Hello, again!"


def second_akd(akd: Akd) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "akd", "--data-dir", str(akd.data_dir), "--port", "0"]
    return subprocess.run(cmd, env=akd.env, capture_output=True, text=True, timeout=60, cwd=ROOT)


def test_second_akd_on_the_same_data_dir_is_refused(akd: Akd) -> None:
    res = second_akd(akd)
    assert res.returncode == 42, (res.stdout, res.stderr)
    assert str(akd.data_dir) in res.stderr
    assert "already running" in res.stderr
    assert pid_alive(akd.pids[-1])


def test_second_akd_leaves_the_first_reachable(akd: Akd) -> None:
    second_akd(akd)
    assert (akd.data_dir / "daemon.json").exists()
    res = akd.akctl("session", "list")
    assert res.returncode == 0, res.stderr

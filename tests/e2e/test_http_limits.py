"""What an unauthenticated client can hold over HTTP (hardening issue, items 3 and 8).

Each attack runs bounded and against 127.0.0.1 only, and every socket is closed at the
end. Each case has a row in docs/hostile-inputs.md.
"""

from __future__ import annotations

import json
import re
import select
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.harness import Akd, wait_for, write_project

pytestmark = pytest.mark.e2e

LIMITS = """\
[server]
header_timeout = 2
body_timeout = 3
idle_timeout = 1
max_connections = 1000
"""

CAPPED = """\
[server]
max_connections = 12
header_timeout = 60
body_timeout = 60
idle_timeout = 60
"""

MANIFEST = """\
version: v2
project:
  name: limits
  triggers:
    - name: echo
      type: webhook
      call: program.py:echo
"""

PROGRAM = """\
def echo(event):
    print(event.data.body.json is None, len(event.data.body.bytes or b""))
"""

MB = 1024 * 1024


def _daemon(root: Path, config: str) -> Akd:
    (root / "data").mkdir(parents=True)
    (root / "data" / "akd.toml").write_text(config)
    akd = Akd(root / "data")
    akd.up()
    return akd


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Akd, str]]:
    """A daemon with short deadlines and a deployed webhook (its path)."""
    root = tmp_path_factory.mktemp("limits")
    akd = _daemon(root, LIMITS)
    try:
        write_project(root / "p", {"autokitteh.yaml": MANIFEST, "program.py": PROGRAM})
        hook = akd.deploy(root / "p")["webhooks"]["echo"]
        yield akd, httpx.URL(hook).path
    finally:
        akd.down()


@pytest.fixture(scope="module")
def capped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Akd]:
    """A daemon that holds at most 12 connections, with long deadlines."""
    akd = _daemon(tmp_path_factory.mktemp("capped"), CAPPED)
    try:
        yield akd
    finally:
        akd.down()


# -- raw sockets -------------------------------------------------------------------------


class Conn:
    """One raw client connection: what it received and whether the server closed it."""

    def __init__(self, akd: Akd, first: bytes = b"") -> None:
        url = httpx.URL(akd.url)
        self.sock = socket.create_connection((str(url.host), int(url.port or 80)), timeout=10)
        self.got = b""
        self.closed = False
        if first:
            self.sock.sendall(first)
        self.sock.setblocking(False)

    def poll(self) -> bool:
        """Read what has arrived; True once the server has closed the connection."""
        while not self.closed:
            try:
                data = self.sock.recv(65536)
            except BlockingIOError:
                break
            except OSError:  # reset by the server
                self.closed = True
                break
            if not data:
                self.closed = True
            self.got += data
        return self.closed

    def send(self, data: bytes) -> None:
        try:
            self.sock.send(data)
        except BlockingIOError:
            pass
        except OSError:
            self.closed = True

    def close(self) -> None:
        self.sock.close()


def all_closed(conns: list[Conn]) -> bool:
    return all([c.poll() for c in conns])  # a list: poll every one, not up to the first open


def head(method: str, path: str, *extra: str) -> bytes:
    return "\r\n".join([f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", *extra, "", ""]).encode()


def vm_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} in /proc/{pid}/status")


def health(akd: Akd) -> int:
    return httpx.get(f"{akd.url}/api/v1/health", timeout=20).status_code


# -- slowloris, idle connections, stalled uploads ----------------------------------------


def test_slow_heads_and_stalled_uploads_are_cut_while_others_are_served(limited: tuple[Akd, str]) -> None:
    akd, _ = limited
    heads = [Conn(akd, b"POST /login HTTP/1.1\r\nHost: 127.0.0.1\r\n") for _ in range(300)]
    uploads = [
        Conn(akd, head("POST", "/login", "Content-Type: application/x-www-form-urlencoded",
                       "Content-Length: 100000") + b"token=")
        for _ in range(100)
    ]  # fmt: skip
    conns = heads + uploads
    try:
        assert health(akd) == 200  # answered while all 400 are open

        def trickled_and_cut() -> bool:
            for i, c in enumerate(heads):
                if not c.poll():
                    c.send(f"X-Slow-{i}: still typing\r\n".encode())  # a byte now and then buys nothing
            return all_closed(conns)

        wait_for(trickled_and_cut, timeout=60, interval=0.5, what="every slow head and stalled upload to be cut")
        for c in uploads:
            assert c.got.startswith(b"HTTP/1.1 408"), c.got[:200]
            assert json.loads(c.got.split(b"\r\n\r\n", 1)[1])["error"]["code"] == "request_timeout"
        assert all(c.got == b"" for c in heads)
        assert health(akd) == 200
    finally:
        for c in conns:
            c.close()


def test_idle_connections_are_closed(limited: tuple[Akd, str]) -> None:
    akd, _ = limited
    silent = [Conn(akd) for _ in range(50)]  # connect, send nothing
    kept_alive = Conn(akd, head("GET", "/api/v1/health"))  # one request, then nothing
    try:
        wait_for(lambda: all_closed([*silent, kept_alive]), timeout=30, what="idle connections to be closed")
        assert kept_alive.got.startswith(b"HTTP/1.1 200")
    finally:
        for c in [*silent, kept_alive]:
            c.close()


# -- bodies nobody asked for ---------------------------------------------------------------


def send_until_answered(akd: Akd, request_head: bytes, total: int, chunked: bool) -> tuple[int, bytes]:
    """Send up to ``total`` body bytes, stopping once the server answers or cuts us off;
    return (body bytes sent, what came back)."""
    c = Conn(akd, request_head)
    chunk = b"a" * (64 * 1024)
    frame = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n" if chunked else chunk
    sent, pending, deadline = 0, b"", time.monotonic() + 120
    try:
        while sent < total and time.monotonic() < deadline:
            readable, writable, _ = select.select([c.sock], [c.sock], [], 1.0)
            if readable:
                break  # an answer (or a close) arrived
            if writable:
                pending = pending or frame
                try:
                    n = c.sock.send(pending)
                except BlockingIOError:
                    continue
                except OSError:
                    break
                pending = pending[n:]
                sent += n
        wait_for(c.poll, timeout=30, what="the server to close the connection")
        return sent, c.got
    finally:
        c.close()


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_300_mb_body_to_a_public_route_is_refused_unread(limited: tuple[Akd, str], chunked: bool) -> None:
    akd, hook = limited
    total = 300 * MB
    framing = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {total}"
    cases = {
        "/login": (head("POST", "/login", "Content-Type: application/x-www-form-urlencoded", framing), 413),
        hook: (head("POST", hook, framing), 413),
        "/api/v1/deploy (no token)": (head("POST", "/api/v1/deploy", framing), 401),
    }
    peak = vm_kb(akd.pid, "VmHWM")
    for name, (request_head, status) in cases.items():
        sent, got = send_until_answered(akd, request_head, total, chunked)
        assert got.startswith(f"HTTP/1.1 {status} ".encode()), f"{name}: {got[:200]!r}"
        assert sent < 100 * MB, f"{name}: the server read {sent / MB:.0f} MB of a body it had refused"
        print(f"\n{name}: {got.split(b' ', 2)[1].decode()} after {sent / MB:.1f} MB of 300 MB sent")
    growth = (vm_kb(akd.pid, "VmHWM") - peak) / 1024
    print(f"akd's peak RSS grew by {growth:.1f} MB")
    assert growth < 50, f"akd's peak RSS grew by {growth:.0f} MB"
    assert health(akd) == 200


def test_deeply_nested_json_is_data_not_an_error(limited: tuple[Akd, str]) -> None:
    """100,000 nested brackets (under 512 KiB) made json.loads raise RecursionError: 500."""
    akd, hook = limited
    body = b"[" * 100_000 + b"]" * 100_000
    resp = httpx.post(akd.url + hook, content=body, headers={"Content-Type": "application/json"}, timeout=30)
    assert resp.status_code == 202, resp.text
    ev = akd.api("GET", f"/events/{resp.headers['AutoKitteh-Event-ID']}", params={"wait": "final", "timeout": 60})
    sid = ev.json()["session_ids"][0]
    assert akd.wait_session(sid, timeout=60)["state"] == "completed"
    assert akd.prints(sid) == [f"True {len(body)}"]


# -- the connection cap --------------------------------------------------------------------


def test_the_connection_cap_closes_idle_connections_first_then_answers_503(capped: Akd) -> None:
    akd = capped
    idle = [Conn(akd) for _ in range(12)]  # fill every slot with idle connections
    uploads: list[Conn] = []
    try:
        wait_for(lambda: health(akd) == 200, timeout=30, what="a request to get a slot")
        wait_for(lambda: idle[0].poll(), timeout=30, what="the oldest idle connection to make room")
        uploads = [
            Conn(akd, head("POST", "/login", "Content-Length: 100000") + b"token=") for _ in range(12)
        ]  # every slot busy with a request in flight: nothing left to close
        wait_for(lambda: all_closed(idle), timeout=30, what="every idle connection to make room")

        def refused() -> httpx.Response | None:
            resp = httpx.get(f"{akd.url}/api/v1/health", timeout=20)
            return resp if resp.status_code == 503 else None

        resp = wait_for(refused, timeout=30, what="a 503 while every slot is busy")
        err = resp.json()["error"]
        assert err["code"] == "unavailable" and "max_connections" in err["message"], err
        assert err["details"] == {"max_connections": 12}
        assert not any(c.poll() for c in uploads)  # requests in flight are never cut for newcomers
    finally:
        for c in idle + uploads:
            c.close()
    wait_for(lambda: health(akd) == 200, timeout=30, what="slots to free up once the uploads are gone")


# -- logout ----------------------------------------------------------------------------------


def hidden_csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', html)
    assert found, "no csrf field in the page"
    return found.group(1)


def test_logout_revokes_the_cookie_for_good(limited: tuple[Akd, str]) -> None:
    akd, _ = limited
    with httpx.Client(base_url=akd.url, timeout=30) as client:
        form = client.get("/login")
        res = client.post("/login", data={"token": akd.token, "csrf": hidden_csrf(form.text), "next": "/"})
        assert res.status_code == 303
        cookie = client.cookies["akd_ui"]
        csrf = hidden_csrf(client.get("/sessions").text)
        assert client.post("/logout", data={"csrf": csrf}).status_code == 303

    def with_cookie() -> httpx.Response:
        return httpx.get(f"{akd.url}/sessions", headers={"Cookie": f"akd_ui={cookie}"}, timeout=30)

    res = with_cookie()  # a copy of the cookie taken before the logout
    assert res.status_code == 303 and res.headers["location"].startswith("/login?next="), res.status_code
    akd.akctl("down", timeout=60)
    akd.up()
    assert with_cookie().status_code == 303  # still revoked after a restart

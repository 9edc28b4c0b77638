"""akctl's minimal HTTP client: answers parsed from raw bytes, and one real round trip."""

from __future__ import annotations

import http.server
import threading

import pytest

from akctl.client import http_call, parse_response


def test_content_length_body_is_cut_at_its_length() -> None:
    raw = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}trailing"
    assert parse_response(raw, "u") == (200, b"{}")


def test_chunked_body_is_reassembled() -> None:
    raw = b"HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n3;x=y\r\nefg\r\n0\r\n\r\n"
    assert parse_response(raw, "u") == (404, b"abcdefg")


def test_a_body_without_length_runs_to_the_end() -> None:
    assert parse_response(b"HTTP/1.0 500 Oops\r\n\r\nall of it", "u") == (500, b"all of it")


@pytest.mark.parametrize("raw", [b"", b"garbage", b"HTTP/1.1 abc\r\n\r\n", b"SSH-2.0-OpenSSH\r\n\r\n"])
def test_what_is_not_http_is_a_connection_error(raw: bytes) -> None:
    with pytest.raises(ConnectionError):
        parse_response(raw, "u")


def test_round_trip_against_a_real_server() -> None:
    seen: dict[str, object] = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            seen["path"] = self.path
            seen["auth"] = self.headers["Authorization"]
            seen["body"] = self.rfile.read(int(self.headers["Content-Length"]))
            payload = b'{"ok": true}'
            self.send_response(201)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/api/v1/x?a=1"
        status, body = http_call("POST", url, {"Authorization": "Bearer t"}, {"k": "v"}, timeout=5)
    finally:
        server.shutdown()
        server.server_close()
    assert (status, body) == (201, b'{"ok": true}')
    assert seen == {"path": "/api/v1/x?a=1", "auth": "Bearer t", "body": b'{"k": "v"}'}


def test_nothing_listening_is_a_connection_error() -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(ConnectionError):
        http_call("GET", f"http://127.0.0.1:{port}/", {}, timeout=2)

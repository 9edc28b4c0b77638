"""Finding the daemon and calling its API."""

from __future__ import annotations

import json
import json as json_module
import os
import socket
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from akctl.errors import CliError

START_HINT = "start it with: akctl up --detach"


def default_data_dir() -> Path:
    env = os.environ.get("AKD_DATA_DIR")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(xdg).expanduser() / "akd"


def read_daemon_info(data_dir: Path) -> dict[str, Any] | None:
    try:
        info: dict[str, Any] = json.loads((data_dir / "daemon.json").read_text())
        return info
    except (OSError, ValueError):
        return None


def daemon_running(data_dir: Path) -> bool:
    """``daemon.json`` names a live process (the daemon may still be unhealthy)."""
    from akd.instances import pid_alive

    info = read_daemon_info(data_dir)
    pid = int(info.get("pid") or 0) if info else 0
    return pid > 0 and pid_alive(pid)


def discover(default: Path) -> Path:
    """The data dir to use when none was named (no ``--data-dir``, no ``AKD_DATA_DIR``).

    The default one when its akd runs or no akd runs anywhere; else the only running one
    (said on stderr, with how to name it); several: an error that lists them.
    """
    from akd import instances

    if daemon_running(default):
        return default
    others = [i for i in instances.running() if i.data_dir.resolve() != default.resolve()]
    if len(others) == 1:
        found = others[0]
        sys.stderr.write(
            f"akctl: using akd at {found.url} (data dir {found.data_dir}, the only one running; "
            f"--data-dir {found.data_dir} or AKD_DATA_DIR={found.data_dir} names it)\n"
        )
        return found.data_dir
    if len(others) > 1:
        listed = "\n".join(
            f"  {i.url}  (pid {i.pid}): akctl --data-dir {i.data_dir} ...  or  export AKD_DATA_DIR={i.data_dir}"
            for i in others
        )
        raise CliError(
            f"akd is not running in the default data dir {default}, but {len(others)} others are; pick one:\n{listed}"
        )
    return default


@dataclass
class Client:
    url: str
    token: str
    timeout: float = 60.0

    @classmethod
    def locate(cls, data_dir: Path) -> Client:
        """``AKD_URL``/``AKD_TOKEN``, else ``daemon.json`` and ``token`` in the data dir."""
        url = os.environ.get("AKD_URL", "")
        token = os.environ.get("AKD_TOKEN", "")
        if not url:
            info = read_daemon_info(data_dir)
            if info is None:
                raise CliError(f"akd is not running (no {data_dir / 'daemon.json'})", 1, START_HINT)
            url = str(info["url"])
        if not token:
            try:
                token = (data_dir / "token").read_text().strip()
            except OSError:
                token = ""
        return cls(url.rstrip("/"), token)

    def request(
        self,
        method: str,
        path: str,
        *,
        timeout: float | None = None,
        json: Any = None,
        params: dict[str, Any] | None = None,
    ) -> Any:
        """One API call; the stdlib client keeps akctl's start-up short (no httpx import)."""
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        query = f"?{urlencode(params)}" if params else ""
        try:
            status, body = http_call(method, f"{self.url}/api/v1{path}{query}", headers, json, timeout or self.timeout)
        except ConnectionError:
            raise CliError(f"akd is not running at {self.url}", 1, START_HINT) from None
        except TimeoutError:
            raise CliError(f"akd at {self.url} did not answer {method} {path} in time", 1) from None
        return self._decode(status, body)

    @staticmethod
    def _decode(status: int, raw: bytes) -> Any:
        try:
            body = json_module.loads(raw) if raw else None
        except ValueError:
            body = None
        if 200 <= status < 300:
            return body
        err = (body or {}).get("error") if isinstance(body, dict) else None
        if isinstance(err, dict):
            raise CliError.from_code(str(err.get("code", "")), str(err.get("message", "")))
        raise CliError(f"akd answered {status}: {raw[:200].decode(errors='replace')}", 1)

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params={k: v for k, v in params.items() if v not in (None, "")})

    def post(self, path: str, body: Any = None, timeout: float | None = None) -> Any:
        return self.request("POST", path, json=body if body is not None else {}, timeout=timeout)

    def delete(self, path: str) -> Any:
        return self.request("DELETE", path)


def http_call(
    method: str, url: str, headers: dict[str, str], body: Any = None, timeout: float = 60.0
) -> tuple[int, bytes]:
    """A plain HTTP request; ConnectionError when nothing listens, TimeoutError when it hangs."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    data = b""
    if body is not None:
        data = json_module.dumps(body).encode()
        headers = {**headers, "Content-Type": "application/json"}
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    head = [f"{method} {target} HTTP/1.1", f"Host: {host}:{port}", "Connection: close", f"Content-Length: {len(data)}"]
    head += [f"{k}: {v}" for k, v in headers.items()]
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + data)
            chunks = []
            while chunk := sock.recv(1 << 16):
                chunks.append(chunk)
    except TimeoutError:
        raise TimeoutError(url) from None
    except OSError as exc:
        if isinstance(exc, ConnectionError | socket.gaierror):
            raise ConnectionError(url) from None
        raise
    return parse_response(b"".join(chunks), url)


def parse_response(raw: bytes, url: str) -> tuple[int, bytes]:
    """Status and body of a whole HTTP/1.1 answer read until the server closed the connection.

    A plain socket instead of ``http.client`` keeps akctl's start-up short (it imports the
    email package); akd's answers are small JSON documents on a local connection.
    """
    head, sep, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status_line = lines[0].split(" ", 2)
    if not sep or len(status_line) < 2 or not status_line[0].startswith("HTTP/") or not status_line[1].isdigit():
        raise ConnectionError(f"{url}: not an HTTP answer")
    fields = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    if fields.get("transfer-encoding", "").lower() == "chunked":
        body = _dechunk(body)
    elif fields.get("content-length", "").isdigit():
        body = body[: int(fields["content-length"])]
    return int(status_line[1]), body


def _dechunk(data: bytes) -> bytes:
    out, pos = [], 0
    while True:
        end = data.find(b"\r\n", pos)
        if end < 0:
            break
        size = int(data[pos:end].split(b";")[0] or b"0", 16)
        if size == 0:
            break
        out.append(data[end + 2 : end + 2 + size])
        pos = end + 2 + size + 2
    return b"".join(out)

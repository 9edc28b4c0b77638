"""Finding the daemon and calling its API."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

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

    def request(self, method: str, path: str, *, timeout: float | None = None, **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        try:
            resp = httpx.request(
                method, f"{self.url}/api/v1{path}", headers=headers, timeout=timeout or self.timeout, **kwargs
            )
        except httpx.ConnectError:
            raise CliError(f"akd is not running at {self.url}", 1, START_HINT) from None
        except httpx.TimeoutException:
            raise CliError(f"akd at {self.url} did not answer {method} {path} in time", 1) from None
        return self._decode(resp)

    @staticmethod
    def _decode(resp: httpx.Response) -> Any:
        try:
            body = resp.json()
        except ValueError:
            body = None
        if resp.is_success:
            return body
        err = (body or {}).get("error") if isinstance(body, dict) else None
        if isinstance(err, dict):
            raise CliError.from_code(str(err.get("code", "")), str(err.get("message", resp.text)))
        raise CliError(f"akd answered {resp.status_code}: {resp.text[:200]}", 1)

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params={k: v for k, v in params.items() if v not in (None, "")})

    def post(self, path: str, body: Any = None, timeout: float | None = None) -> Any:
        return self.request("POST", path, json=body if body is not None else {}, timeout=timeout)

    def delete(self, path: str) -> Any:
        return self.request("DELETE", path)

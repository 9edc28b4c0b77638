"""A real akd (with the real Temporal dev server) in a temporary data dir, driven by
the real ``akctl`` and real HTTP. No mocks."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx

ROOT = Path(__file__).resolve().parents[2]
AKCTL = [sys.executable, "-m", "akctl.main"]
# Set by tests/conftest.py when the suite runs on Postgres (AKD_TEST_STORE=postgres): each
# daemon gets an empty database of its own from it.
STORE_URLS: Callable[[], str] | None = None
T = TypeVar("T")


def wait_for(cond: Callable[[], T | None], timeout: float = 30.0, interval: float = 0.05, what: str = "") -> T:
    """Poll ``cond`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = cond()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what or cond} (last value {last!r})")


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def descendants_of(pid: int) -> list[int]:
    """Every process below ``pid`` (children first), as a machine's freeze would stop them."""
    out, todo = [], [pid]
    while todo:
        found = children_of(todo.pop(0))
        out += found
        todo += found
    return out


def children_of(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.split(")")[-1].split()[1]) == pid:
                out.append(int(entry.name))
    return out


def processes_matching(text: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if text in cmd and pid_alive(int(entry.name)):
                found.append(int(entry.name))
    return found


@dataclass
class Akd:
    data_dir: Path
    env: dict[str, str] = field(default_factory=dict)
    pids: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.env = {**os.environ, "AKD_DATA_DIR": str(self.data_dir), "PYTHONPATH": str(ROOT), "COLUMNS": "200"}
        # The registry of running daemons (akd.instances) of a test stays out of the user's.
        self.env["AKD_RUNTIME_DIR"] = str(self.data_dir.parent / f"{self.data_dir.name}-run")
        self.env.pop("AKD_URL", None)
        self.env.pop("AKD_TOKEN", None)
        if STORE_URLS is not None and "AKD_STORE_URL" not in self.env:
            self.env["AKD_STORE_URL"] = STORE_URLS()

    # -- lifecycle --------------------------------------------------------------------

    def up(self) -> dict[str, Any]:
        res = self.akctl("up", "--detach", "--port", "0", "--json", timeout=120)
        assert res.returncode == 0, res.stderr
        info: dict[str, Any] = json.loads(res.stdout)
        self.pids.append(int(info["pid"]))
        if self.env.get("AKD_STORE_URL"):  # a run on Postgres must really be on it
            store = httpx.get(f"{self.url}/api/v1/health", timeout=10).json()["store"]
            assert store == "postgres", f"akd runs on {store}, not on the Postgres it was given"
        return info

    def info(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.data_dir / "daemon.json").read_text())
        return data

    @property
    def url(self) -> str:
        return str(self.info()["url"])

    @property
    def pid(self) -> int:
        return int(self.info()["pid"])

    @property
    def token(self) -> str:
        return (self.data_dir / "token").read_text().strip()

    @property
    def on_postgres(self) -> bool:
        return bool(self.env.get("AKD_STORE_URL"))

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Rows of ``sql`` (SQLite's dialect, ``?`` placeholders) read from this akd's store, whichever it is."""
        if self.on_postgres:
            import psycopg

            from akd.store.pg.dialect import translate

            with psycopg.connect(self.env["AKD_STORE_URL"]) as conn:
                return [tuple(r) for r in conn.execute(translate(sql), params).fetchall()]
        with sqlite3.connect(f"file:{self.data_dir / 'akd.db'}?mode=ro", uri=True) as db:
            return [tuple(r) for r in db.execute(sql, params).fetchall()]

    def store_is_whole(self) -> bool:
        """SQLite's integrity check of akd.db (Postgres keeps its own: nothing to check here)."""
        if self.on_postgres:
            return True
        with sqlite3.connect(self.data_dir / "akd.db") as db:
            return bool(db.execute("PRAGMA integrity_check").fetchone() == ("ok",))

    def kill9(self) -> int:
        pid = self.pid
        os.kill(pid, signal.SIGKILL)
        wait_for(lambda: not pid_alive(pid), 10, what="akd to die")
        return pid

    def down(self) -> None:
        if (self.data_dir / "daemon.json").exists():
            self.akctl("down", timeout=60)
        for pid in self.pids:
            if pid_alive(pid):
                os.kill(pid, signal.SIGKILL)
        # A killed akd's Temporal server dies with it; make sure, by its database path.
        for pid in processes_matching(str(self.data_dir)):
            os.kill(pid, signal.SIGKILL)

    # -- clients ----------------------------------------------------------------------

    def akctl(self, *args: str, timeout: float = 60, input: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*AKCTL, *args], env=self.env, capture_output=True, text=True, timeout=timeout, input=input, cwd=ROOT
        )

    def akctl_json(self, *args: str, timeout: float = 60) -> Any:
        res = self.akctl(*args, "--json", timeout=timeout)
        assert res.returncode == 0, f"akctl {' '.join(args)} exited {res.returncode}: {res.stderr}"
        return json.loads(res.stdout)

    def api(self, method: str, path: str, **kw: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.token}", **kw.pop("headers", {})}
        return httpx.request(method, f"{self.url}/api/v1{path}", headers=headers, timeout=30, **kw)

    def deploy(self, project_dir: Path) -> dict[str, Any]:
        data: dict[str, Any] = self.akctl_json("deploy", "--dir", str(project_dir), timeout=120)
        return data

    def session(self, ident: str) -> dict[str, Any]:
        data: dict[str, Any] = self.api("GET", f"/sessions/{ident}").json()
        return data

    def wait_session(
        self, ident: str, states: tuple[str, ...] = ("completed", "error", "stopped"), timeout: float = 30
    ) -> dict[str, Any]:
        def check() -> dict[str, Any] | None:
            s = self.session(ident)
            return s if s.get("state") in states else None

        return wait_for(check, timeout, what=f"session {ident} to reach {states}")

    def prints(self, ident: str) -> list[str]:
        return [p["text"] for p in self.api("GET", f"/sessions/{ident}/prints").json()["prints"]]

    def sessions(self, **params: Any) -> list[dict[str, Any]]:
        data: list[dict[str, Any]] = self.api("GET", "/sessions", params=params).json()
        return data


def write_project(root: Path, files: dict[str, str]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root

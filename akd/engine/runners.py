"""Runner processes: spawning, the socket they connect back to, and their framing.

Runners connect to an abstract Unix socket (no file to clean up, no path-length
limit) and introduce themselves with the one-time key akd gave them, so a connection
is always matched to the segment that asked for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from akd.procs import die_with_parent
from akd.runner.protocol import HEADER, decode_header, encode

log = logging.getLogger(__name__)

SPAWN_TIMEOUT = 30.0


class RunnerGone(Exception):
    """The runner process ended or closed its connection."""


@dataclass
class RunnerConn:
    session_id: str
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    pid: int
    proc: asyncio.subprocess.Process | None = None
    hello: dict[str, Any] = field(default_factory=dict)

    async def send(self, msg: dict[str, Any], blob: bytes = b"") -> None:
        self.writer.write(encode(msg, blob))
        await self.writer.drain()

    async def recv(self) -> tuple[dict[str, Any], bytes]:
        try:
            header = await self.reader.readexactly(HEADER.size)
            jlen, blen = decode_header(header)
            body = await self.reader.readexactly(jlen)
            blob = await self.reader.readexactly(blen) if blen else b""
        except (asyncio.IncompleteReadError, ConnectionError) as exc:
            raise RunnerGone(str(exc)) from None
        msg: dict[str, Any] = json.loads(body)
        return msg, blob

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await self.writer.wait_closed()

    async def exit_code(self, timeout: float = 2.0) -> int | None:
        if self.proc is None:
            return None
        try:
            return await asyncio.wait_for(self.proc.wait(), timeout)
        except TimeoutError:
            return None


class RunnerHub:
    """Starts runners and hands each one's connection to the segment that needs it."""

    def __init__(self, data_dir: Path) -> None:
        self.address = f"@akd-{os.getpid()}-{secrets.token_hex(6)}"
        self.log_path = data_dir / "logs" / "runners.log"
        self._pending: dict[str, asyncio.Future[RunnerConn]] = {}
        self._live: dict[str, RunnerConn] = {}
        self._server: asyncio.AbstractServer | None = None
        self.closing = False

    async def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._server = await asyncio.start_unix_server(self._on_connect, path="\0" + self.address[1:])

    async def _on_connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = RunnerConn("", reader, writer, 0)
        try:
            hello, _ = await asyncio.wait_for(conn.recv(), 10)
        except (RunnerGone, TimeoutError):
            writer.close()
            return
        fut = self._pending.pop(str(hello.get("key", "")), None)
        if fut is None or fut.done():
            writer.close()
            return
        conn.session_id, conn.pid, conn.hello = str(hello["session_id"]), int(hello["pid"]), hello
        fut.set_result(conn)

    async def spawn(self, session_id: str) -> RunnerConn:
        """Start a runner for ``session_id`` and wait for it to connect."""
        key = secrets.token_hex(16)
        fut: asyncio.Future[RunnerConn] = asyncio.get_running_loop().create_future()
        self._pending[key] = fut
        try:
            proc = await self._launch(session_id, key)
            waiter = asyncio.ensure_future(proc.wait())
            waitables: set[asyncio.Future[Any]] = {fut, waiter}
            done, _ = await asyncio.wait(waitables, timeout=SPAWN_TIMEOUT, return_when=asyncio.FIRST_COMPLETED)
            if fut not in done:
                waiter.cancel()
                if proc.returncode is None:
                    proc.kill()
                    await proc.wait()
                raise RunnerGone(f"the runner did not start (exit code {proc.returncode}); see {self.log_path}")
            waiter.cancel()
        finally:
            self._pending.pop(key, None)
        conn = fut.result()
        conn.proc = proc
        self._live[session_id] = conn
        return conn

    async def _launch(self, session_id: str, key: str) -> asyncio.subprocess.Process:
        logf = self.log_path.open("ab")
        try:
            return await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "akd.runner",
                self.address,
                session_id,
                key,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=logf,
                stderr=logf,
                env=runner_base_env(),
                preexec_fn=die_with_parent(),
            )
        finally:
            logf.close()

    def release(self, conn: RunnerConn) -> None:
        if self._live.get(conn.session_id) is conn:
            del self._live[conn.session_id]

    def kill(self, session_id: str) -> bool:
        conn = self._live.get(session_id)
        if conn is None:
            return False
        conn.kill()
        return True

    @property
    def live_count(self) -> int:
        return len(self._live)

    async def stop(self) -> None:
        """Kill every runner; their sessions resume by replay after the next start."""
        self.closing = True
        for conn in list(self._live.values()):
            conn.kill()
        if self._server is not None:
            self._server.close()


def runner_base_env() -> dict[str, str]:
    """What a runner process starts with; the session's own env arrives in ``init``."""
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR", "USER", "LOGNAME")
    env = {k: v for k, v in os.environ.items() if k in keep}
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONPATH"] = str(Path(__file__).resolve().parent.parent.parent)
    return env

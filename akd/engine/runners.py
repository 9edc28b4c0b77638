"""Runner processes: spawning, their sockets, and their framing.

A runner's channel to akd is one end of a socket pair: made by the fork server (its
other end reaches akd over the fork server's own socket pair) or by akd for a runner it
starts itself. Nothing listens, so no other process on the machine can pose as a
runner or as the fork server, read a session's env or event, or forge its results;
and the pid akd kills is the one it (or its fork server) forked, never one a peer named.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import os
import signal
import socket
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from akd.engine.forkserver import ForkServer, ForkServerGone
from akd.procs import die_with_parent, kill_tree, stop_process
from akd.runner.protocol import HEADER, decode_header, encode

log = logging.getLogger(__name__)

SPAWN_TIMEOUT = 30.0
# A runner started ahead of a session's first segment waits this long to be claimed.
PRESPAWN_TTL = 30.0
# A stopped session's runner gets SIGTERM, then SIGKILL (with its tree) after this long.
STOP_GRACE = 2.0


class RunnerGone(Exception):
    """The runner process ended or closed its connection."""


@dataclass
class RunnerConn:
    session_id: str
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    pid: int
    exited: asyncio.Future[int] | None = None
    hello: dict[str, Any] = field(default_factory=dict)
    # Set once the runner got its segment's init ahead of time (RunnerHub.prespawn with
    # ``prepare``): it holds before the user's code until told to go. Opaque to the hub.
    prepared: Any = None

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
        """SIGKILL the runner and every process below it (``akd.procs.kill_tree``).

        The runner is a child subreaper, so daemons its code started (``setsid``, double
        forks) are still below it. Once akd has seen it exit, its pid may belong to
        someone else: then nothing is signalled.
        """
        if self.exited is not None and self.exited.done():
            return
        kill_tree(self.pid)

    async def terminate(self, grace: float = STOP_GRACE) -> None:
        """Ask the runner to end (SIGTERM), then kill its tree if it still runs after ``grace``."""
        if self.exited is None or not self.exited.done():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(self.pid, signal.SIGTERM)
            if await self.exit_code(grace) is None:
                log.info("session %s: its runner ignored SIGTERM for %.1f s; killed", self.session_id, grace)
        self.kill()  # whatever it started is below it still

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await self.writer.wait_closed()

    async def exit_code(self, timeout: float = 2.0) -> int | None:
        if self.exited is None:
            return None
        try:
            return await asyncio.wait_for(asyncio.shield(self.exited), timeout)
        except TimeoutError:
            return None


class RunnerHub:
    """Starts runners and hands each one's connection to the segment that needs it.

    Runners are forked by a warm fork server when it is up (a few ms each), else
    started as fresh interpreters.
    """

    def __init__(self, data_dir: Path, max_live: int = 64, batch: bool = False) -> None:
        # Passed to the fork server (and to runners started without it): SCHED_BATCH.
        self._flags = ["--batch"] if batch else []
        # Back-pressure: at most this many runner processes at once; more segments queue.
        self.max_live = max_live
        self._slots = asyncio.Semaphore(max_live)
        self.log_path = data_dir / "logs" / "runners.log"
        self._live: dict[str, RunnerConn] = {}
        self._forkserver = ForkServer(self._start_forkserver)
        self._use_forkserver = False
        self._prespawned: dict[str, asyncio.Future[RunnerConn]] = {}
        self._discards: set[asyncio.Task[None]] = set()
        self.closing = False

    async def start(self, use_forkserver: bool = True) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._use_forkserver = use_forkserver
        if use_forkserver:
            await self._forkserver.start()

    async def _start_forkserver(self, fd: int) -> asyncio.subprocess.Process:
        return await self._exec("akd.runner.forkserver", "--fd", str(fd), *self._flags, pass_fd=fd)

    @property
    def forkserver_pid(self) -> int:
        """The fork server's pid while it is up, else 0."""
        return self._forkserver.pid if self._forkserver.up else 0

    async def spawn(self, session_id: str) -> RunnerConn:
        """Start a runner for ``session_id`` (waiting for a free slot) and wait for its hello."""
        await self._slots.acquire()
        try:
            conn = await self._spawn(session_id)
        except BaseException:
            self._slots.release()
            raise
        return conn

    async def _spawn(self, session_id: str) -> RunnerConn:
        pid, sock, exited = await self._start_runner()
        try:
            reader, writer = await asyncio.open_unix_connection(sock=sock)
        except BaseException:
            sock.close()
            raise
        conn = RunnerConn(session_id, reader, writer, pid, exited)
        try:
            await conn.send({"op": "start", "session_id": session_id})
            hello = asyncio.ensure_future(conn.recv())
            waitables: set[asyncio.Future[Any]] = {hello, exited}
            done, _ = await asyncio.wait(waitables, timeout=SPAWN_TIMEOUT, return_when=asyncio.FIRST_COMPLETED)
            if hello not in done or hello.exception() is not None:
                hello.cancel()
                code = exited.result() if exited.done() else None
                raise RunnerGone(f"the runner did not start (exit code {code}); see {self.log_path}")
            conn.hello = hello.result()[0]
        except BaseException:
            conn.kill()
            await conn.close()
            raise
        self._live[session_id] = conn
        return conn

    async def _start_runner(self) -> tuple[int, socket.socket, asyncio.Future[int]]:
        """Fork through the fork server when it is up, else exec a fresh interpreter."""
        if self._use_forkserver and self._forkserver.up:
            try:
                spawned = await self._forkserver.spawn()
                return spawned.pid, spawned.sock, spawned.exited
            except ForkServerGone as exc:
                log.warning("%s; this runner starts as a fresh interpreter", exc)
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            proc = await self._exec("akd.runner", "--fd", str(theirs.fileno()), *self._flags, pass_fd=theirs.fileno())
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        return proc.pid, ours, asyncio.ensure_future(proc.wait())

    async def _exec(self, module: str, *args: str, pass_fd: int) -> asyncio.subprocess.Process:
        logf = self.log_path.open("ab")
        try:
            return await asyncio.create_subprocess_exec(
                sys.executable, "-m", module, *args,
                stdin=asyncio.subprocess.DEVNULL, stdout=logf, stderr=logf, pass_fds=(pass_fd,),
                env=runner_base_env(), preexec_fn=die_with_parent(),
            )  # fmt: skip
        finally:
            logf.close()

    def prespawn(self, session_id: str, prepare: Callable[[RunnerConn], Awaitable[None]] | None = None) -> None:
        """Start a runner for a session whose workflow is being started, so the first
        segment finds it connected, and then ``prepare`` it (send its init; no user code
        runs before the segment). Unclaimed after PRESPAWN_TTL seconds, it is discarded."""
        if session_id in self._prespawned or self.closing:
            return
        spawning = asyncio.ensure_future(self._spawn_prepared(session_id, prepare))
        self._prespawned[session_id] = spawning
        asyncio.get_running_loop().call_later(PRESPAWN_TTL, self.drop_prespawned, session_id, spawning)

    async def _spawn_prepared(
        self, session_id: str, prepare: Callable[[RunnerConn], Awaitable[None]] | None
    ) -> RunnerConn:
        conn = await self.spawn(session_id)
        if prepare is not None:
            try:
                await prepare(conn)
            except BaseException:
                await self.retire(conn)
                raise
        return conn

    def take_prespawned(self, session_id: str) -> asyncio.Future[RunnerConn] | None:
        return self._prespawned.pop(session_id, None)

    def drop_prespawned(self, session_id: str, spawning: asyncio.Future[RunnerConn] | None = None) -> None:
        """Discard the session's unclaimed pre-started runner (if it is still ``spawning``)."""
        current = self._prespawned.get(session_id)
        if current is None or (spawning is not None and current is not spawning):
            return
        del self._prespawned[session_id]
        task = asyncio.ensure_future(self.discard(current))
        self._discards.add(task)
        task.add_done_callback(self._discards.discard)

    async def discard(self, spawning: asyncio.Future[RunnerConn]) -> None:
        """Give up a runner being started (or started) for a segment that will not run."""
        spawning.cancel()
        try:
            conn = await spawning
        except BaseException:
            return  # cancelled before it connected; spawn() freed its slot
        await self.retire(conn)

    async def retire(self, conn: RunnerConn) -> None:
        """The segment is over with this runner: kill it (and what it started), free its slot."""
        conn.kill()
        if self._live.get(conn.session_id) is conn:
            del self._live[conn.session_id]
        self._slots.release()
        await conn.close()

    def kill(self, session_id: str) -> bool:
        conn = self._live.get(session_id)
        if conn is None:
            return False
        conn.kill()
        return True

    async def stop_runner(self, session_id: str, grace: float = STOP_GRACE) -> None:
        """A stopped session's runner: SIGTERM, then SIGKILL after ``grace`` (see RunnerConn.terminate)."""
        conn = self._live.get(session_id)
        if conn is not None:
            await conn.terminate(grace)

    def has_runner(self, session_id: str) -> bool:
        return session_id in self._live

    @property
    def live_count(self) -> int:
        return len(self._live)

    async def stop(self) -> None:
        """Kill every runner and the fork server; sessions resume by replay after restart."""
        self.closing = True
        for conn in list(self._live.values()):
            conn.kill()
        await self._forkserver.stop(functools.partial(stop_process, timeout=2.0))


def runner_base_env() -> dict[str, str]:
    """What a runner process starts with; the session's own env arrives in ``init``."""
    return dict(_base_env())


@functools.cache
def _base_env() -> tuple[tuple[str, str], ...]:
    # Computed once (every session segment asks): akd's own environment does not change.
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR", "USER", "LOGNAME")
    env = {k: v for k, v in os.environ.items() if k in keep}
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONPATH"] = str(Path(__file__).resolve().parent.parent.parent)
    return tuple(env.items())

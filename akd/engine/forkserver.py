"""akd's side of the runner fork server: its control channel, spawns and restarts.

The fork server (``akd.runner.forkserver``) gets one end of a SOCK_SEQPACKET socket
pair when it starts; there is no address anyone else could connect to. For each spawn
it answers with the new runner's pid and, as SCM_RIGHTS, akd's end of the runner's own
socket pair. A fork server that dies is started again (with a growing delay while it
keeps dying); meanwhile runners start as fresh interpreters.
"""

from __future__ import annotations

import array
import asyncio
import contextlib
import itertools
import json
import logging
import os
import signal
import socket
import struct
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)

CONTROL_PACKET = 65536  # the largest control message either side accepts
HELLO_TIMEOUT = 30.0
# Restart delays while the fork server keeps dying; a run of STABLE_AFTER s resets them.
RESTART_DELAYS = (0.2, 1.0, 2.0, 5.0, 10.0, 30.0)
STABLE_AFTER = 60.0
_PEERCRED = struct.Struct("3i")

StartProcess = Callable[[int], Awaitable[asyncio.subprocess.Process]]


class ForkServerGone(Exception):
    """The fork server is not running (or ended while a spawn waited for it)."""


@dataclass
class Spawned:
    pid: int
    sock: socket.socket
    exited: asyncio.Future[int]


class ForkServer:
    """Supervisor of the fork server process: ``start()``, ``spawn()``, ``stop()``."""

    def __init__(self, start_process: StartProcess) -> None:
        # Starts the process given the number of its end of the control socket pair.
        self._start_process = start_process
        self._proc: asyncio.subprocess.Process | None = None
        self._sock: socket.socket | None = None
        self._hello: asyncio.Future[int] | None = None
        self._waiting: dict[int, asyncio.Future[Spawned]] = {}
        self._exits: dict[int, asyncio.Future[int]] = {}
        self._refs = itertools.count(1)
        self._started_at = 0.0
        self._failures = 0
        self._restart: asyncio.Task[None] | None = None
        self.closing = False

    @property
    def up(self) -> bool:
        return self._sock is not None and self._hello is not None and self._hello.done()

    @property
    def pid(self) -> int:
        return self._proc.pid if self._proc is not None else 0

    async def start(self) -> bool:
        """Start the process and wait for its hello; False (and logged) if it did not come up."""
        loop = asyncio.get_running_loop()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            self._proc = await self._start_process(theirs.fileno())
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        ours.setblocking(False)
        self._sock, self._hello = ours, loop.create_future()
        self._started_at = time.monotonic()
        loop.add_reader(ours.fileno(), self._on_readable)
        try:
            pid = await asyncio.wait_for(asyncio.shield(self._hello), HELLO_TIMEOUT)
        except (TimeoutError, ForkServerGone):
            log.warning("the runner fork server did not start; runners start as fresh interpreters")
            self._lost()
            return False
        if pid != self._proc.pid:
            log.error("the fork server said it is pid %d but akd started pid %d; not used", pid, self._proc.pid)
            self._lost()
            return False
        return True

    async def spawn(self) -> Spawned:
        """Fork a runner: its pid, akd's end of its socket, and a future of its exit code."""
        sock = self._sock
        if sock is None or not self.up:
            raise ForkServerGone("the fork server is not running")
        ref = next(self._refs)
        fut: asyncio.Future[Spawned] = asyncio.get_running_loop().create_future()
        self._waiting[ref] = fut
        try:
            await asyncio.get_running_loop().sock_sendall(sock, json.dumps({"op": "spawn", "ref": ref}).encode())
            return await asyncio.wait_for(asyncio.shield(fut), HELLO_TIMEOUT)
        except OSError as exc:
            raise ForkServerGone(f"the fork server's channel failed: {exc}") from None
        finally:
            self._waiting.pop(ref, None)

    # -- the control channel ----------------------------------------------------------

    def _on_readable(self) -> None:
        sock = self._sock
        while sock is not None and sock is self._sock:
            try:
                data, ancdata, flags, _ = sock.recvmsg(CONTROL_PACKET, socket.CMSG_SPACE(4 * 4))
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                data, ancdata, flags = b"", [], 0
            fds = _received_fds(ancdata)
            if not data:
                _close_fds(fds)
                self._lost()
                return
            if flags & (socket.MSG_TRUNC | socket.MSG_CTRUNC):
                log.error("the fork server sent an oversized control message; ignored")
                _close_fds(fds)
                continue
            self._handle(json.loads(data), fds)

    def _handle(self, msg: dict[str, object], fds: list[int]) -> None:
        op = msg.get("op")
        if op == "hello" and self._hello is not None and not self._hello.done():
            self._hello.set_result(int(str(msg.get("pid"))))
        elif op == "spawned" and len(fds) == 1:
            self._spawned(int(str(msg.get("ref"))), int(str(msg.get("pid"))), fds.pop())
        elif op == "exited":
            exit_fut = self._exits.pop(int(str(msg.get("pid"))), None)
            if exit_fut is not None and not exit_fut.done():
                exit_fut.set_result(int(str(msg.get("code"))))
        _close_fds(fds)  # descriptors that came with any other message are not ours to keep

    def _spawned(self, ref: int, pid: int, fd: int) -> None:
        sock = socket.socket(fileno=fd)
        problem = self._check_runner_socket(sock)
        fut = self._waiting.pop(ref, None)
        if problem or fut is None or fut.done():
            sock.close()
            if fut is not None and not fut.done():
                fut.set_exception(ForkServerGone(problem or "spawn answered twice"))
            return
        exited = self._exits.setdefault(pid, asyncio.get_running_loop().create_future())
        fut.set_result(Spawned(pid, sock, exited))

    def _check_runner_socket(self, sock: socket.socket) -> str:
        """A runner socket is a stream pair made by our fork server, under our uid."""
        if sock.family != socket.AF_UNIX or sock.type != socket.SOCK_STREAM:
            return "the fork server passed something that is not a runner socket"
        pid, uid, _gid = _PEERCRED.unpack(sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _PEERCRED.size))
        if uid != os.getuid() or pid != self.pid:
            return f"a runner socket from pid {pid} uid {uid}, not from akd's fork server"
        return ""

    def _lost(self) -> None:
        """The channel closed: fail what waits on it, reap the process, restart it."""
        if self._sock is not None:
            with contextlib.suppress(ValueError, OSError):
                asyncio.get_running_loop().remove_reader(self._sock.fileno())
            self._sock.close()
            self._sock = None
        if self._hello is not None and not self._hello.done():
            self._hello.set_exception(ForkServerGone("the fork server exited"))
            self._hello.exception()  # retrieved: start() may have stopped waiting
        for fut in self._waiting.values():
            if not fut.done():
                fut.set_exception(ForkServerGone("the fork server exited"))
        # Its runners die with it (PR_SET_PDEATHSIG), so their exit codes are known.
        for exit_fut in self._exits.values():
            if not exit_fut.done():
                exit_fut.set_result(-signal.SIGKILL)
        self._exits.clear()
        if not self.closing and self._restart is None:
            self._restart = asyncio.ensure_future(self._restart_later())

    async def _restart_later(self) -> None:
        if time.monotonic() - self._started_at > STABLE_AFTER:
            self._failures = 0
        delay = RESTART_DELAYS[min(self._failures, len(RESTART_DELAYS) - 1)]
        self._failures += 1
        proc = self._proc
        code = await proc.wait() if proc is not None else None
        log.error("the runner fork server exited (code %s); starting it again in %.1f s", code, delay)
        await asyncio.sleep(delay)
        self._restart = None
        if not self.closing and await self.start():
            log.info("the runner fork server is back (pid %d)", self.pid)

    async def stop(self, stop_process: Callable[[asyncio.subprocess.Process], Awaitable[None]]) -> None:
        self.closing = True
        if self._restart is not None:
            self._restart.cancel()
        if self._sock is not None:
            self._lost()  # closing the channel is the fork server's cue to exit
        if self._proc is not None:
            await stop_process(self._proc)


def _received_fds(ancdata: list[tuple[int, int, bytes]]) -> list[int]:
    fds: list[int] = []
    for level, kind, data in ancdata:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            arr = array.array("i")
            arr.frombytes(data[: len(data) - (len(data) % arr.itemsize)])
            fds.extend(arr)
    return fds


def _close_fds(fds: list[int]) -> None:
    for fd in fds:
        with contextlib.suppress(OSError):
            os.close(fd)

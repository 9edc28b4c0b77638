"""akd.engine.runners.RunnerHub and akd.engine.forkserver.ForkServer, in process.

Real runner processes and a real fork server; no Temporal, no daemon.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import time
from pathlib import Path

from akd.engine.forkserver import ForkServer
from akd.engine.runners import RunnerHub


async def _wait(cond: object, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


def test_runners_say_hello_with_the_pid_akd_forked(tmp_path: Path) -> None:
    async def main() -> None:
        hub = RunnerHub(tmp_path)
        await hub.start()
        try:
            assert hub.forkserver_pid
            conns = [await hub.spawn(f"ses_{i}") for i in range(3)]
            for conn in conns:
                assert conn.hello["op"] == "hello" and conn.hello["pid"] == conn.pid
                assert os.getpgid(conn.pid) == conn.pid  # its own process group
            for conn in conns:
                await hub.retire(conn)
            codes = [await conn.exit_code(5) for conn in conns]
            assert codes == [-signal.SIGKILL] * 3
        finally:
            await hub.stop()

    asyncio.run(main())


def test_a_dead_fork_server_is_replaced_and_runners_start_meanwhile(tmp_path: Path) -> None:
    async def main() -> None:
        hub = RunnerHub(tmp_path)
        await hub.start()
        try:
            first = hub.forkserver_pid
            os.kill(first, signal.SIGKILL)
            conn = await hub.spawn("ses_during")  # a fresh interpreter, or the new fork server
            assert conn.hello["pid"] == conn.pid
            await hub.retire(conn)
            assert await conn.exit_code(5) == -signal.SIGKILL
            await _wait(lambda: hub.forkserver_pid not in (0, first))
            conn = await hub.spawn("ses_after")
            assert conn.hello["pid"] == conn.pid
            with open(f"/proc/{conn.pid}/stat") as f:
                assert int(f.read().split(")")[-1].split()[1]) == hub.forkserver_pid  # forked by the new one
            await hub.retire(conn)
            assert await conn.exit_code(5) == -signal.SIGKILL
        finally:
            await hub.stop()

    asyncio.run(main())


def test_a_runner_socket_not_made_by_the_fork_server_is_refused(tmp_path: Path) -> None:
    async def main() -> None:
        hub = RunnerHub(tmp_path)
        await hub.start()
        try:
            fs: ForkServer = hub._forkserver
            mine, other = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)  # made by this process
            assert "not from akd's fork server" in fs._check_runner_socket(mine)
            dgram, dgram2 = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
            assert "not a runner socket" in fs._check_runner_socket(dgram)
            for s in (mine, other, dgram, dgram2):
                s.close()
        finally:
            await hub.stop()

    asyncio.run(main())


def test_without_the_fork_server_runners_are_fresh_interpreters(tmp_path: Path) -> None:
    async def main() -> None:
        hub = RunnerHub(tmp_path)
        await hub.start(use_forkserver=False)
        try:
            assert hub.forkserver_pid == 0
            conn = await hub.spawn("ses_plain")
            with open(f"/proc/{conn.pid}/cmdline", "rb") as f:
                cmd = f.read().split(b"\0")
            assert cmd[1:4] == [b"-m", b"akd.runner", b"--fd"]
            assert conn.hello["pid"] == conn.pid
            await hub.retire(conn)
            assert await conn.exit_code(5) == -signal.SIGKILL
        finally:
            await hub.stop()

    asyncio.run(main())

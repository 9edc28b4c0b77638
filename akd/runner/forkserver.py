"""The fork server: a warm process that forks a runner per session segment.

It has imported the runner, the SDK and common stdlib modules once, so a runner
starts in a few milliseconds instead of a fresh interpreter's ~80 ms. It never
imports user code. Protocol over akd's runner socket (same framing as runners):

    forkserver -> akd: {"op": "hello", "role": "forkserver", "pid"}
    akd -> forkserver: {"op": "spawn", "session_id", "key"}
    forkserver -> akd: {"op": "spawned", "key", "pid"} and later {"op": "exited", "pid", "code"}
"""

from __future__ import annotations

# Warm-up imports: everything a runner needs before it loads user code.
import asyncio  # noqa: F401
import ctypes
import datetime  # noqa: F401
import gc
import json  # noqa: F401
import os
import pickle  # noqa: F401
import random  # noqa: F401
import select
import signal
import sys
import uuid  # noqa: F401

from akd.procs import yield_on_wakeup
from akd.runner import main as runner_main
from akd.runner.protocol import SyncChannel

sys.path.insert(0, runner_main.SDK_DIR)
import autokitteh  # noqa: F401

_PR_SET_PDEATHSIG = 1
_PR_SET_NAME = 15  # /proc/<pid>/comm: "akd-idle" while pre-forked, "akd-runner" once given a session


# Loaded once here: opening libc costs a forked child ~3 ms of CPU, paid per session.
_LIBC = ctypes.CDLL(None)


def _detach(chan: SyncChannel) -> None:
    """First thing in a forked child: die with the fork server, own process group."""
    _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() == 1:
        os._exit(1)
    chan.sock.close()
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    os.setpgid(0, 0)  # its own process group: akd kills the runner with everything it started


def _run(session_id: str, key: str) -> None:
    _LIBC.prctl(_PR_SET_NAME, b"akd-runner", 0, 0, 0)
    try:
        runner_main.run(ADDRESS, session_id, key)
    except BaseException:
        import traceback

        traceback.print_exc()
        sys.stderr.flush()
        os._exit(1)
    sys.stdout.flush()
    os._exit(0)


def _fork() -> int:
    # Everything alive now moves to the permanent generation, so a full collection in the
    # child does not walk (and copy-on-write) every inherited object: a forced
    # gc.collect() in a child costs ~9 ms of CPU without this, ~1.5 ms with it.
    gc.freeze()
    return os.fork()


def _prefork(chan: SyncChannel) -> tuple[int, int]:
    """A child forked ahead of need, blocked on a pipe until it gets its session.

    Forking takes a few milliseconds; done after each spawn, it is off the path of the
    next session, which only writes one line to the waiting child.
    """
    read_end, write_end = os.pipe()
    pid = _fork()
    if pid == 0:
        os.close(write_end)
        _detach(chan)
        _LIBC.prctl(_PR_SET_NAME, b"akd-idle", 0, 0, 0)
        line = b""
        while not line.endswith(b"\n"):
            chunk = os.read(read_end, 256)
            if not chunk:
                os._exit(0)  # the fork server went away (or shut down) before using it
            line += chunk
        session_id, key = line.decode().split()
        os.close(read_end)
        _run(session_id, key)
    os.close(read_end)
    return pid, write_end


def _reap(chan: SyncChannel) -> None:
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        code = os.waitstatus_to_exitcode(status)
        chan.send({"op": "exited", "pid": pid, "code": code})


def serve(chan: SyncChannel) -> None:
    chan.send({"op": "hello", "role": "forkserver", "pid": os.getpid(), "key": ""})
    idle: tuple[int, int] | None = _prefork(chan)
    while True:
        ready, _, _ = select.select([chan.sock], [], [], 0.2)
        _reap(chan)
        if not ready:
            continue
        try:
            msg, _ = chan.recv()
        except EOFError:
            return
        if msg.get("op") != "spawn":
            continue
        session_id, key = str(msg["session_id"]), str(msg["key"])
        pid = 0
        if idle is not None:
            pid, write_end = idle
            idle = None
            try:
                os.write(write_end, f"{session_id} {key}\n".encode())
            except OSError:
                pid = 0  # the idle child died; fork one now
            os.close(write_end)
        if not pid:
            pid = _fork()
            if pid == 0:
                _detach(chan)
                _run(session_id, key)
        chan.send({"op": "spawned", "key": key, "pid": pid})
        idle = _prefork(chan)


ADDRESS = ""


def main() -> None:
    global ADDRESS
    ADDRESS = sys.argv[1]
    if "--batch" in sys.argv[2:]:
        yield_on_wakeup()  # inherited by every runner forked from here
    chan = runner_main.connect(ADDRESS)
    serve(chan)
    os._exit(0)


if __name__ == "__main__":
    main()

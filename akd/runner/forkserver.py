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

from akd.runner import main as runner_main
from akd.runner.protocol import SyncChannel

sys.path.insert(0, runner_main.SDK_DIR)
import autokitteh  # noqa: F401

_PR_SET_PDEATHSIG = 1


# Loaded once here: opening libc costs a forked child ~3 ms of CPU, paid per session.
_LIBC = ctypes.CDLL(None)


def _child(chan: SyncChannel, session_id: str, key: str) -> None:
    """In the forked child: die with the fork server, then run the session."""
    _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() == 1:
        os._exit(1)
    chan.sock.close()
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    os.setpgid(0, 0)  # its own process group: akd kills the runner with everything it started
    try:
        runner_main.run(ADDRESS, session_id, key)
    except BaseException:
        import traceback

        traceback.print_exc()
        sys.stderr.flush()
        os._exit(1)
    sys.stdout.flush()
    os._exit(0)


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
        # Everything alive now moves to the permanent generation: a collection in the
        # child would otherwise walk (and so copy-on-write) every inherited object page,
        # ~7 ms of CPU per runner measured here.
        gc.freeze()
        pid = os.fork()
        if pid == 0:
            _child(chan, str(msg["session_id"]), str(msg["key"]))
        chan.send({"op": "spawned", "key": msg["key"], "pid": pid})


ADDRESS = ""


def main() -> None:
    global ADDRESS
    ADDRESS = sys.argv[1]
    chan = runner_main.connect(ADDRESS)
    serve(chan)
    os._exit(0)


if __name__ == "__main__":
    main()

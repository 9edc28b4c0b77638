"""The fork server: a warm process that forks a runner per session segment.

It has imported the runner, the SDK and common stdlib modules once, so a runner
starts in a few milliseconds instead of a fresh interpreter's ~80 ms. It never
imports user code.

akd starts it with one end of a socket pair (``--fd N``): the control channel, a
SOCK_SEQPACKET socket, one JSON object per packet. Nothing on the machine can connect
to it, and the runners it forks get no address either: each one is born holding one
end of its own socket pair, and the fork server hands the other end to akd with the
``spawned`` message (SCM_RIGHTS), then closes its copy.

    akd -> forkserver: {"op": "spawn", "ref"}
    forkserver -> akd: {"op": "spawned", "ref", "pid"} + the runner's socket,
                       and later {"op": "exited", "pid", "code"}
"""

from __future__ import annotations

# Warm-up imports: everything a runner needs before it loads user code.
import array
import asyncio  # noqa: F401
import ctypes
import datetime  # noqa: F401
import gc
import json
import os
import pickle  # noqa: F401
import random  # noqa: F401
import select
import signal
import socket
import sys
import time
import uuid  # noqa: F401

from akd.procs import children, kill_tree, set_child_subreaper, yield_on_wakeup
from akd.runner import context
from akd.runner import main as runner_main
from akd.runner.protocol import SyncChannel

sys.path.insert(0, runner_main.SDK_DIR)
import autokitteh  # noqa: F401

_PR_SET_PDEATHSIG = 1
_PR_SET_NAME = 15  # /proc/<pid>/comm: "akd-idle" while pre-forked, "akd-runner" once given a session
CONTROL_PACKET = 65536  # the largest control message either side accepts
ORPHAN_SWEEP_SECONDS = 2.0  # how often orphans of dead runners are looked for


# Loaded once here: opening libc costs a forked child ~3 ms of CPU, paid per session.
_LIBC = ctypes.CDLL(None)


def _detach(control: socket.socket) -> None:
    """First thing in a forked child: die with the fork server, own process group."""
    _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() == 1:
        os._exit(1)
    control.close()
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    os.setpgid(0, 0)  # its own process group
    set_child_subreaper()  # what its session starts stays below it, for akd's kill_tree


def _fork() -> int:
    # Everything alive now moves to the permanent generation, so a full collection in the
    # child does not walk (and copy-on-write) every inherited object: a forced
    # gc.collect() in a child costs ~9 ms of CPU without this, ~1.5 ms with it.
    gc.freeze()
    return os.fork()


def _prefork(control: socket.socket) -> tuple[int, socket.socket]:
    """A child forked ahead of need; it blocks on its own socket until akd speaks.

    Forking takes a few milliseconds; done after each spawn, it is off the path of the
    next session. Returns the child's pid and akd's end of the child's socket pair.
    """
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    pid = _fork()
    if pid == 0:
        ours.close()
        _detach(control)
        _LIBC.prctl(_PR_SET_NAME, b"akd-idle", 0, 0, 0)
        _run(SyncChannel(theirs))
    theirs.close()
    return pid, ours


def _run(chan: SyncChannel) -> None:
    """The idle child's life: wait for akd's ``start``, then be that session's runner."""
    try:
        try:
            start, _ = chan.recv()
        except EOFError:
            os._exit(0)  # akd (or the fork server) went away before using it
        _LIBC.prctl(_PR_SET_NAME, b"akd-runner", 0, 0, 0)
        runner_main.run(chan, str(start["session_id"]))
    except BaseException:
        context.fail_runner()
    context.end_runner()


def _send(control: socket.socket, msg: dict[str, object], fd: int = -1) -> None:
    data = json.dumps(msg, separators=(",", ":")).encode()
    if fd < 0:
        control.send(data)
    else:
        control.sendmsg([data], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [fd]))])


def _reap(control: socket.socket, forked: set[int]) -> tuple[set[int], bool]:
    """Collect ended children; report ours to akd. Returns them, and whether one ended by
    itself (not by akd's SIGKILL), which may have left orphans behind."""
    reaped: set[int] = set()
    by_itself = False
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return reaped, by_itself
        if pid == 0:
            return reaped, by_itself
        if pid not in forked:
            continue  # an orphan the sweep killed
        forked.discard(pid)
        reaped.add(pid)
        code = os.waitstatus_to_exitcode(status)
        by_itself = by_itself or code != -signal.SIGKILL
        _send(control, {"op": "exited", "pid": pid, "code": code})


def _sweep_orphans(forked: set[int]) -> None:
    """Kill what a dead runner left behind: re-parented to this subreaper, not forked by it.

    A runner akd ends has its whole tree killed first; one that died by itself (a crash,
    ``os._exit``, the OOM killer) leaves its daemons to the nearest subreaper, this process.
    """
    for pid in children(os.getpid()):
        if pid not in forked:
            kill_tree(pid)


def serve(control: socket.socket) -> None:
    first = _prefork(control)
    forked = {first[0]}
    idle: tuple[int, socket.socket] | None = first
    next_sweep = time.monotonic() + ORPHAN_SWEEP_SECONDS
    while True:
        ready, _, _ = select.select([control], [], [], 0.2)
        reaped, by_itself = _reap(control, forked)
        if idle is not None and idle[0] in reaped:
            idle[1].close()
            idle = None  # the idle child died (killed from outside): fork another
        if by_itself or time.monotonic() >= next_sweep:
            _sweep_orphans(forked)
            next_sweep = time.monotonic() + ORPHAN_SWEEP_SECONDS
        if not ready:
            continue
        packet = control.recv(CONTROL_PACKET)
        if not packet:
            return  # akd closed the channel: it is going away
        msg = json.loads(packet)
        if msg.get("op") != "spawn":
            continue
        if idle is None:
            idle = _prefork(control)
            forked.add(idle[0])
        pid, ours = idle
        _send(control, {"op": "spawned", "ref": msg.get("ref"), "pid": pid}, ours.fileno())
        ours.close()
        idle = _prefork(control)
        forked.add(idle[0])


def main() -> None:
    args = sys.argv[1:]
    if "--batch" in args:
        yield_on_wakeup()  # inherited by every runner forked from here
    control = socket.socket(fileno=int(args[args.index("--fd") + 1]))
    control.set_inheritable(False)
    set_child_subreaper()  # what a runner leaves behind when it dies comes here (see _sweep_orphans)
    _send(control, {"op": "hello", "pid": os.getpid()})
    serve(control)
    os._exit(0)


if __name__ == "__main__":
    main()

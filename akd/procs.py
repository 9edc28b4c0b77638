"""Child-process helpers: die-with-parent, stop escalation, stale-pid reaping."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import os
import signal
import socket
from collections.abc import Callable
from pathlib import Path

_PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def die_with_parent(sig: int = signal.SIGKILL) -> Callable[[], None]:
    """A ``preexec_fn`` that makes the child receive ``sig`` when akd dies.

    This is what keeps ``kill -9 akd`` from leaving orphans behind. The libc handle is
    loaded before the fork, so the child only makes one system call.
    """

    def _preexec() -> None:
        _libc.prctl(_PR_SET_PDEATHSIG, sig, 0, 0, 0)
        os.setpgid(0, 0)

    return _preexec


def yield_on_wakeup() -> None:
    """Put this process (and what it forks later) in the SCHED_BATCH policy.

    Runners are woken by akd's writes. On a busy machine a normal process that wakes up
    often preempts the writer on the spot, which stalls akd's event loop (it holds the
    GIL through the write); batch processes get the same CPU share but never preempt on
    wakeup. Best effort: where the policy does not exist nothing changes.
    """
    policy = getattr(os, "SCHED_BATCH", None)
    if policy is None:
        return
    with contextlib.suppress(OSError):
        if os.sched_getscheduler(0) != policy:
            os.sched_setscheduler(0, policy, os.sched_param(0))


def set_pdeathsig(sig: int = signal.SIGKILL) -> None:
    """Arm die-with-parent in the current process (used by forked runners)."""
    _libc.prctl(_PR_SET_PDEATHSIG, sig, 0, 0, 0)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def process_cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def process_argv(pid: int) -> list[str]:
    """The process's arguments, one element each (empty if it is gone or unreadable)."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [arg.decode(errors="replace") for arg in raw.split(b"\0") if arg]


def process_cwd(pid: int) -> Path | None:
    try:
        return Path(os.readlink(f"/proc/{pid}/cwd"))
    except OSError:
        return None


def reap_stale(pid_file: Path, *must_have: str, cwd: Path | None = None) -> bool:
    """Kill the process named in ``pid_file`` if it is still the one that wrote it.

    It is, when each of ``must_have`` is one of its arguments (exactly) and, given
    ``cwd``, it runs in that directory. A pid reused by an unrelated process, or the same
    kind of process of another data dir (another akd's dev server), is left alone.
    Returns whether a stale process was killed.
    """
    try:
        pid = int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return False
    killed = False
    if pid_alive(pid) and _is_ours(pid, must_have, cwd):
        try:
            os.kill(pid, signal.SIGKILL)
            killed = True
        except ProcessLookupError:
            pass
    pid_file.unlink(missing_ok=True)
    return killed


def _is_ours(pid: int, must_have: tuple[str, ...], cwd: Path | None) -> bool:
    argv = process_argv(pid)
    if not argv or any(arg not in argv for arg in must_have):
        return False
    return cwd is None or process_cwd(pid) == cwd.resolve()


async def stop_process(proc: asyncio.subprocess.Process, timeout: float = 5.0) -> None:
    """SIGTERM, wait, SIGKILL, wait: the child is always reaped."""
    if proc.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        proc.terminate()
    try:
        await asyncio.wait_for(proc.wait(), timeout)
        return
    except TimeoutError:
        pass
    with contextlib.suppress(ProcessLookupError):
        proc.kill()
    await proc.wait()

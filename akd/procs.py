"""Child-process helpers: die-with-parent, stop escalation, stale-pid reaping."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import functools
import os
import signal
import socket
from collections.abc import Callable
from pathlib import Path

from akd.instances import pid_alive  # one definition: a zombie counts as gone

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


# -- process trees ---------------------------------------------------------------------
#
# A runner is a child subreaper (set_child_subreaper), so whatever its code starts stays
# below it even after a double fork or setsid: the tree under the runner's pid is the
# session's. These functions find that tree and end it.

_PR_SET_CHILD_SUBREAPER = 36
# A tree is walked again until it stops growing; a process that keeps forking faster
# than SIGSTOP reaches its children is still cut off after this many rounds.
FREEZE_ROUNDS = 50


def set_child_subreaper() -> None:
    """Orphans of this process's descendants re-parent to it instead of to init."""
    _libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def _read(path: str, size: int = 4096) -> bytes:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return b""
    try:
        return os.read(fd, size)
    except OSError:
        return b""
    finally:
        os.close(fd)


@functools.cache
def _has_children_files() -> bool:
    # /proc/<pid>/task/<tid>/children needs CONFIG_PROC_CHILDREN (most distribution kernels).
    pid = os.getpid()
    return os.path.exists(f"/proc/{pid}/task/{pid}/children")


def _children(pid: int) -> list[int]:
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return []
    found: list[int] = []
    for tid in tasks:
        found.extend(int(p) for p in _read(f"/proc/{pid}/task/{tid}/children", 1 << 20).split())
    return found


def _parent_map(root: int) -> dict[int, list[int]]:
    """Children by parent, from every /proc/<pid>/stat that can be below ``root``.

    Descendants get pids after their ancestor's, so only pids above ``root`` are read,
    unless the pid counter wrapped since (then all are).
    """
    wrapped = int(_read("/proc/sys/kernel/ns_last_pid", 64) or b"0") < root
    tree: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit() or (int(name) <= root and not wrapped):
            continue
        stat = _read(f"/proc/{name}/stat", 512)
        end = stat.rfind(b")")
        if end < 0:
            continue
        ppid = int(stat[end + 4 : stat.index(b" ", end + 4)])
        tree.setdefault(ppid, []).append(int(name))
    return tree


def children(pid: int) -> list[int]:
    """The direct children of ``pid``."""
    if _has_children_files():
        return _children(pid)
    return _parent_map(pid).get(pid, [])


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (parents before their children); [] when it has none."""
    if _has_children_files():
        step: Callable[[int], list[int]] = _children
    else:
        tree = _parent_map(pid)
        step = lambda p: tree.get(p, [])  # noqa: E731
    found: list[int] = []
    seen = {pid}
    todo = [pid]
    while todo:
        for child in step(todo.pop()):
            if child not in seen:
                seen.add(child)
                found.append(child)
                todo.append(child)
    return found


def _signal(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, sig)


def freeze_tree(pid: int, *, root: bool = True) -> list[int]:
    """SIGSTOP ``pid`` (unless ``root`` is false) and everything below it; return the pids below.

    Walked again until no new pid shows up: a stopped process cannot fork, so whatever
    a process forked before it was stopped appears in the next walk.
    """
    if root:
        _signal(pid, signal.SIGSTOP)
    frozen: list[int] = []
    seen: set[int] = set()
    for _ in range(FREEZE_ROUNDS):
        new = [p for p in descendants(pid) if p not in seen]
        if not new:
            break
        for p in new:
            _signal(p, signal.SIGSTOP)
        seen.update(new)
        frozen.extend(new)
    return frozen


def kill_tree(pid: int, *, root: bool = True) -> list[int]:
    """SIGKILL ``pid`` and every process below it, including daemons that left its group.

    The whole tree is frozen and collected first: killing the root first would re-parent
    its orphans away from it before they are found. Process groups led by a member of
    the tree are killed too; groups the tree merely joined (akd's own) are not. With
    ``root`` false, ``pid`` itself (the caller, a runner ending its own tree) is spared.
    Returns the pids killed below ``pid``.
    """
    below = freeze_tree(pid, root=root)
    members = {pid, *below} if root else set(below)  # the spared root's group is its own
    for p in below:
        _signal(p, signal.SIGKILL)
    for group in {_pgid(p) for p in below} & members:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(group, signal.SIGKILL)
    if root:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)
        _signal(pid, signal.SIGKILL)
    return below


def _pgid(pid: int) -> int:
    try:
        return os.getpgid(pid)
    except OSError:
        return -1


def tree_usage(pid: int) -> tuple[int, int]:
    """(live processes, resident bytes) of ``pid`` and everything below it.

    Resident memory is RSS from ``/proc/<pid>/statm``: pages shared between the
    processes (a fork's inherited heap) count once per process, so it errs high.
    Zombies (all-zero statm) count for neither.
    """
    count, pages = 0, 0
    for p in (pid, *descendants(pid)):
        fields = _read(f"/proc/{p}/statm", 256).split()
        if len(fields) > 1 and fields[0] != b"0":
            count += 1
            pages += int(fields[1])
    return count, pages * _PAGE_SIZE


_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")

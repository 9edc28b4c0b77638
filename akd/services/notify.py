"""In-process change notifications, so API calls can wait for a session without polling."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


class Notifier:
    """Wakes every waiter on each session state change; waiters re-check their condition."""

    def __init__(self) -> None:
        self._cond = asyncio.Condition()
        self.generation = 0

    def changed(self) -> None:
        self.generation += 1
        asyncio.get_running_loop().create_task(self._wake())

    async def _wake(self) -> None:
        async with self._cond:
            self._cond.notify_all()

    async def next_change(self, seen: int, timeout: float) -> bool:
        """Wait (at most ``timeout`` s) until the generation moves past ``seen``; True if it did."""

        async def changed() -> bool | None:
            return True if self.generation != seen else None

        return bool(await self.wait_for(changed, max(0.0, timeout)))

    async def wait_for(self, check: Callable[[], Awaitable[T | None]], timeout: float) -> T | None:
        """Re-run ``check`` after every change until it returns a value or time runs out."""
        deadline = time.monotonic() + timeout
        while True:
            seen = self.generation
            result = await check()
            if result is not None:
                return result
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            async with self._cond:
                if self.generation != seen:
                    continue
                try:
                    await asyncio.wait_for(self._cond.wait(), min(remaining, 1.0))
                except TimeoutError:
                    pass

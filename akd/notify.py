"""In-process change notifications, so API calls can wait for a session without polling."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")

# Waiters re-check their condition at least this often, change or not.
RECHECK_SECONDS = 1.0


class Notifier:
    """Wakes every waiter on each session state change; waiters re-check their condition.

    Each waiter parks on a future of its own that ``changed()`` resolves on the spot, so
    a waiter runs in the very next turn of the event loop (no lock, no extra task).
    Called on the event loop's thread only.
    """

    def __init__(self) -> None:
        self.generation = 0
        self._waiters: set[asyncio.Future[None]] = set()

    def changed(self) -> None:
        self.generation += 1
        waiters, self._waiters = self._waiters, set()
        for fut in waiters:
            if not fut.done():
                fut.set_result(None)

    async def next_change(self, seen: int, timeout: float) -> bool:
        """Wait (at most ``timeout`` s) until the generation moves past ``seen``; True if it did."""

        async def changed() -> bool | None:
            return True if self.generation != seen else None

        return bool(await self.wait_for(changed, max(0.0, timeout)))

    async def wait_for(self, check: Callable[[], Awaitable[T | None]], timeout: float) -> T | None:
        """Re-run ``check`` after every change until it returns a value or time runs out."""
        loop = asyncio.get_running_loop()
        deadline = time.monotonic() + timeout
        while True:
            seen = self.generation
            result = await check()
            if result is not None:
                return result
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            if self.generation != seen:
                continue  # changed while ``check`` ran
            fut: asyncio.Future[None] = loop.create_future()
            self._waiters.add(fut)
            timer = loop.call_later(min(remaining, RECHECK_SECONDS), _expire, fut)
            try:
                await fut
            finally:
                timer.cancel()
                self._waiters.discard(fut)


def _expire(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)

"""Event quotas at intake: how many webhook events (and bytes) akd stores per minute.

Unauthenticated webhooks once filled a 40 MB filesystem in 1.2 s. Two guards stand in
front of the event store, both in memory so the webhook's hot path gains no SQL:

- sliding one-minute windows of event counts and stored bytes, one per trigger and one
  for all webhooks (``[events]`` settings): over a limit the caller gets 429 with a
  ``Retry-After`` of the seconds until the window has room again;
- a free-space reserve (``[events] min_free_mb``): below it new events get 503, so the
  sessions already running keep the room they need to finish.

A window is 60 one-second buckets with running totals: recording an event is a few
integer operations; only a refusal walks the buckets (to compute ``Retry-After``).
"""

from __future__ import annotations

import logging
import math
import os
import time
from pathlib import Path

from akd.config import EventsConfig
from akd.errors import ResourceExhausted, Unavailable

log = logging.getLogger(__name__)

MIB = 1024 * 1024
# The window is BUCKETS buckets of one second each.
BUCKETS = 60
# Free space is asked of the OS at most this often (statvfs, ~1.5 us); in between the
# estimate goes down by the size of each accepted event, times what SQLite writes for it:
# the WAL frame, and the same page again when the checkpoint copies it into the database
# (measured on the 96 MiB tmpfs of tests/e2e/test_store_safety.py: a flood overshot the
# reserve by about its own size when counted once).
DISK_BYTES_PER_STORED_BYTE = 2
FREE_SPACE_INTERVAL = 0.25


class SlidingWindow:
    """Events and bytes over the last ``BUCKETS`` seconds, in one-second buckets."""

    __slots__ = ("_counts", "_second", "_sizes", "count", "refusing", "size")

    def __init__(self) -> None:
        self._counts = [0] * BUCKETS
        self._sizes = [0] * BUCKETS
        self.count = 0
        self.size = 0
        self._second = 0
        # Whether the last event was refused (a refusal is logged once per run of them).
        self.refusing = False

    def advance(self, now: float) -> None:
        """Empty the buckets that fell out of the window by ``now``."""
        second = int(now)
        gone = second - self._second
        if gone <= 0:
            return
        if gone >= BUCKETS:
            self._counts = [0] * BUCKETS
            self._sizes = [0] * BUCKETS
            self.count = self.size = 0
        else:
            for s in range(self._second + 1, second + 1):
                i = s % BUCKETS
                self.count -= self._counts[i]
                self.size -= self._sizes[i]
                self._counts[i] = self._sizes[i] = 0
        self._second = second

    def wait(self, now: float, size: int, max_events: int, max_bytes: int) -> float:
        """Seconds until one more event of ``size`` bytes fits (0: it fits now).

        Call ``advance(now)`` first. A limit of 0 means no limit; an event larger than
        ``max_bytes`` on its own never fits: the answer is the whole window.
        """
        count_over = max_events > 0 and self.count + 1 > max_events
        size_over = max_bytes > 0 and self.size + size > max_bytes
        if not count_over and not size_over:
            return 0.0
        if max_bytes > 0 and size > max_bytes:
            return float(BUCKETS)
        freed_count = freed_size = 0
        for s in range(self._second - BUCKETS + 1, self._second + 1):
            i = s % BUCKETS
            freed_count += self._counts[i]
            freed_size += self._sizes[i]
            fits_count = max_events <= 0 or self.count - freed_count + 1 <= max_events
            fits_size = max_bytes <= 0 or self.size - freed_size + size <= max_bytes
            if fits_count and fits_size:
                return max(s + BUCKETS - now, 0.0)  # bucket s leaves the window then
        return float(BUCKETS)

    def add(self, size: int) -> None:
        """Record one event of ``size`` bytes in the current second (after ``advance``)."""
        i = self._second % BUCKETS
        self._counts[i] += 1
        self._sizes[i] += size
        self.count += 1
        self.size += size

    @property
    def idle_since(self) -> int:
        """The last second the window was advanced to."""
        return self._second


class EventQuota:
    """The intake guards of one daemon: ``admit()`` before an event is stored."""

    def __init__(self, config: EventsConfig, data_dir: Path) -> None:
        self.config = config
        self.data_dir = data_dir
        self._trigger_limits = (config.trigger_events_per_minute, int(config.trigger_mb_per_minute * MIB))
        self._total_limits = (config.total_events_per_minute, int(config.total_mb_per_minute * MIB))
        self._reserve = int(config.min_free_mb * MIB)
        self._total = SlidingWindow()
        self._triggers: dict[str, SlidingWindow] = {}
        self._next_prune = 0.0
        self._free = 0
        self._free_checked = -math.inf
        self._disk_low = False

    def admit(self, trigger_id: str, size: int, now: float | None = None) -> None:
        """Count an event of ``size`` stored bytes for ``trigger_id``, or refuse it.

        Raises ``Unavailable`` (503) under the free-space reserve and ``ResourceExhausted``
        (429, with ``Retry-After``) over a quota; a refused event is not counted.
        """
        now = time.monotonic() if now is None else now
        self._check_free_space(now, size * DISK_BYTES_PER_STORED_BYTE)
        window = self._window(trigger_id, now)
        self._total.advance(now)
        self._check(window, now, size, self._trigger_limits, f"trigger {trigger_id}", "trigger")
        self._check(self._total, now, size, self._total_limits, "all webhooks", "total")
        window.add(size)
        self._total.add(size)
        self._free -= size * DISK_BYTES_PER_STORED_BYTE

    def _window(self, trigger_id: str, now: float) -> SlidingWindow:
        if now >= self._next_prune:  # windows of triggers quiet for a minute hold nothing
            self._triggers = {k: w for k, w in self._triggers.items() if w.idle_since > now - BUCKETS}
            self._next_prune = now + BUCKETS
        window = self._triggers.get(trigger_id)
        if window is None:
            window = self._triggers[trigger_id] = SlidingWindow()
        window.advance(now)
        return window

    def _check(
        self, window: SlidingWindow, now: float, size: int, limits: tuple[int, int], whom: str, setting: str
    ) -> None:
        wait = window.wait(now, size, *limits)
        if wait <= 0:
            window.refusing = False
            return
        retry_after = max(1, math.ceil(wait))
        max_events, max_bytes = limits
        what = (
            f"{max_events} events per minute ([events] {setting}_events_per_minute)"
            if max_events > 0 and window.count + 1 > max_events
            else f"{max_bytes / MIB:g} MiB of events per minute ([events] {setting}_mb_per_minute)"
        )
        if not window.refusing:
            log.warning("webhook events for %s are over the quota of %s: refused with 429 for now", whom, what)
            window.refusing = True
        raise ResourceExhausted(
            f"too many webhook events: the quota for {'this trigger' if setting == 'trigger' else whom} is {what}; "
            f"retry in {retry_after} s",
            retry_after=retry_after,
        )

    def _check_free_space(self, now: float, size: int) -> None:
        if self._reserve <= 0:
            return
        if now >= self._free_checked + FREE_SPACE_INTERVAL or self._free - size < self._reserve:
            try:
                self._free = free_bytes(self.data_dir)
            except OSError as exc:
                raise Unavailable(f"cannot tell the free space of akd's data dir {self.data_dir}: {exc}") from exc
            self._free_checked = now
        if self._free - size >= self._reserve:
            if self._disk_low:
                log.info("the disk of %s has room again: new events are accepted", self.data_dir)
                self._disk_low = False
            return
        if not self._disk_low:
            log.warning(
                "the disk of %s has %.1f MiB free, under the [events] min_free_mb reserve of %g MiB: new events "
                "get 503 until disk space is freed", self.data_dir, self._free / MIB, self.config.min_free_mb,
            )  # fmt: skip
            self._disk_low = True
        raise Unavailable(
            f"akd's disk is nearly full ({self._free / MIB:.0f} MiB free; {self.config.min_free_mb:g} MiB are kept "
            "for running sessions): free disk space, then retry: nothing was accepted"
        )


def free_bytes(path: Path) -> int:
    """Bytes an unprivileged process may still write on the filesystem of ``path``."""
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize

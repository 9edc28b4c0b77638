"""Retry policies for journaled calls.

Each attempt is its own journaled step and each wait between attempts a durable
sleep, so a retried call replays exactly as it ran, crash or no crash.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field


@dataclass(frozen=True)
class RetryPolicy:
    """``maximum_attempts`` includes the first one; 0 means no limit."""

    maximum_attempts: int = 3
    initial_interval: float = 1.0
    backoff_coefficient: float = 2.0
    maximum_interval: float = 100.0
    non_retryable: tuple[type[BaseException], ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if self.maximum_attempts < 0 or self.initial_interval < 0 or self.backoff_coefficient < 1:
            raise ValueError("RetryPolicy needs maximum_attempts >= 0, initial_interval >= 0, backoff >= 1")

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        return float(min(self.initial_interval * self.backoff_coefficient ** (attempt - 1), self.maximum_interval))

    def should_retry(self, exc: BaseException, attempt: int) -> bool:
        from akd.runner.errors import AutoKittehError

        if isinstance(exc, (AutoKittehError, *self.non_retryable)):
            return False
        return self.maximum_attempts == 0 or attempt < self.maximum_attempts


_stack: list[RetryPolicy] = []


def current() -> RetryPolicy | None:
    return _stack[-1] if _stack else None


@contextlib.contextmanager
def retry_policy(policy: RetryPolicy | None = None, **kwargs: object) -> Iterator[RetryPolicy]:
    """Retry every journaled call made inside the block under ``policy``.

    Example::

        with autokitteh.retry_policy(maximum_attempts=5, initial_interval=0.5):
            requests.get(url)
    """
    chosen = policy or RetryPolicy(**kwargs)  # type: ignore[arg-type]
    _stack.append(chosen)
    try:
        yield chosen
    finally:
        _stack.pop()

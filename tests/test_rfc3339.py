"""The API's timestamp format, cached per second, agrees with datetime's own."""

from __future__ import annotations

import random
from datetime import UTC, datetime

from akd.api.common import rfc3339


def reference(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def test_matches_datetime_on_random_and_edge_times() -> None:
    rng = random.Random(3)
    samples = [rng.uniform(0, 4_000_000_000) for _ in range(20_000)]
    samples += [1795444840.0, 1795444840.9999996, 1795444840.0000004, 1795444840.1234565, 0.0005, 59.9999999]
    samples += [1795444840 + i / 1000 for i in range(2000)]  # every millisecond of two seconds
    for t in samples:
        assert rfc3339(t) == reference(t), t


def test_none_stays_none() -> None:
    assert rfc3339(None) is None

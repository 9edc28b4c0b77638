"""akd.services.quota: the sliding windows of the event quotas and the free-space reserve.

Times are passed explicitly (``now``), so each case states the clock it runs at; the
free-space cases use the real filesystem of the test's temp dir.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from akd.config import EventsConfig
from akd.errors import ResourceExhausted, Unavailable
from akd.services.quota import MIB, EventQuota, SlidingWindow, free_bytes

T0 = 1_000.0  # a monotonic clock reading


def quota(tmp_path: Path, **settings: float) -> EventQuota:
    base = {
        "trigger_events_per_minute": 0, "trigger_mb_per_minute": 0.0, "total_events_per_minute": 0,
        "total_mb_per_minute": 0.0, "min_free_mb": 0.0,
    }  # fmt: skip
    return EventQuota(EventsConfig(**{**base, **settings}), tmp_path)  # type: ignore[arg-type]


def refused(q: EventQuota, trigger: str, size: int, now: float) -> ResourceExhausted:
    with pytest.raises(ResourceExhausted) as info:
        q.admit(trigger, size, now)
    return info.value


def test_count_limit_per_trigger_refuses_with_retry_after(tmp_path: Path) -> None:
    q = quota(tmp_path, trigger_events_per_minute=5)
    for _ in range(5):
        q.admit("trg_a", 100, T0 + 0.5)
    err = refused(q, "trg_a", 100, T0 + 0.5)
    assert err.status == 429 and err.code == "resource_exhausted"
    assert err.retry_after == 60 and err.headers == {"Retry-After": "60"}
    assert "5 events per minute" in err.message and "trigger_events_per_minute" in err.message
    q.admit("trg_b", 100, T0 + 0.5)  # another trigger has its own window


def test_the_window_slides_and_retry_after_is_when_room_comes_back(tmp_path: Path) -> None:
    q = quota(tmp_path, trigger_events_per_minute=5)
    for _ in range(3):
        q.admit("trg_a", 1, T0)
    for _ in range(2):
        q.admit("trg_a", 1, T0 + 30)
    assert refused(q, "trg_a", 1, T0 + 40).retry_after == 20  # the three of T0 leave at T0 + 60
    refused(q, "trg_a", 1, T0 + 59.9)
    for _ in range(3):
        q.admit("trg_a", 1, T0 + 60)
    assert refused(q, "trg_a", 1, T0 + 60).retry_after == 30  # now the two of T0 + 30 are the oldest
    for _ in range(5):
        q.admit("trg_a", 1, T0 + 200)  # a quiet minute empties the window


def test_refused_events_are_not_counted(tmp_path: Path) -> None:
    q = quota(tmp_path, trigger_events_per_minute=2)
    q.admit("trg_a", 1, T0)
    q.admit("trg_a", 1, T0 + 10)
    for i in range(50):
        refused(q, "trg_a", 1, T0 + 20 + i * 0.1)
    q.admit("trg_a", 1, T0 + 61)  # only the event of T0 left the window
    assert refused(q, "trg_a", 1, T0 + 61).retry_after == 9


def test_byte_limit_per_trigger(tmp_path: Path) -> None:
    q = quota(tmp_path, trigger_mb_per_minute=1)
    q.admit("trg_a", 600 * 1024, T0)
    err = refused(q, "trg_a", 600 * 1024, T0 + 1)
    assert "1 MiB of events per minute" in err.message and "trigger_mb_per_minute" in err.message
    assert err.retry_after == 59
    q.admit("trg_a", 400 * 1024, T0 + 1)  # what still fits is taken
    assert refused(q, "trg_a", 2 * MIB, T0 + 300).retry_after == 60  # never fits: the whole window


def test_total_limits_cover_all_triggers(tmp_path: Path) -> None:
    q = quota(tmp_path, trigger_events_per_minute=5, total_events_per_minute=8)
    for _ in range(5):
        q.admit("trg_a", 1, T0)
    for _ in range(3):
        q.admit("trg_b", 1, T0)
    for trigger in ("trg_b", "trg_c"):
        err = refused(q, trigger, 1, T0 + 1)
        assert "all webhooks" in err.message and "total_events_per_minute" in err.message
    q = quota(tmp_path, total_mb_per_minute=1)
    q.admit("trg_a", MIB, T0)
    assert "total_mb_per_minute" in refused(q, "trg_b", 1, T0).message


def test_zero_means_no_limit(tmp_path: Path) -> None:
    q = quota(tmp_path)
    for i in range(20_000):
        q.admit(f"trg_{i % 3}", 64 * 1024, T0 + i / 1000)


def test_the_defaults_allow_a_benchmark_sized_burst(tmp_path: Path) -> None:
    q = EventQuota(EventsConfig(min_free_mb=0), tmp_path)
    for i in range(6000):  # 6,000 events of 40 KiB in a minute, to one trigger
        q.admit("trg_a", 40 * 1024, T0 + i * 0.01)
    refused(q, "trg_a", 1, T0 + 59)


def test_free_space_reserve_refuses_new_events_with_503(tmp_path: Path) -> None:
    free_mb = free_bytes(tmp_path) / MIB
    q = quota(tmp_path, min_free_mb=free_mb + 1024)
    with pytest.raises(Unavailable) as info:
        q.admit("trg_a", 100, T0)
    assert info.value.status == 503 and "free disk space" in info.value.message
    assert "nothing was accepted" in info.value.message
    quota(tmp_path, min_free_mb=1).admit("trg_a", 100, T0)  # this disk has 1 MiB to spare


def test_window_wait_is_zero_when_it_fits() -> None:
    w = SlidingWindow()
    w.advance(T0)
    assert w.wait(T0, 10, 1, 100) == 0.0
    w.add(10)
    assert w.wait(T0, 10, 1, 100) == 60.0
    assert w.wait(T0, 10, 0, 100) == 0.0

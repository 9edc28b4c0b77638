"""The short full-disk soak of the default test run (the full one: python -m tests.soak.disk_soak)."""

from __future__ import annotations

import pytest

from tests.soak.disk_soak import NoTmpfs, disk_soak

pytestmark = pytest.mark.e2e


@pytest.mark.timeout(600)
def test_short_full_disk_soak() -> None:
    try:
        report = disk_soak(sessions=16, faults=3, hold=3.0, timeout=300)
    except NoTmpfs as exc:
        pytest.skip(f"needs a tmpfs (root): {exc}")
    assert report.acknowledged == report.sessions and report.completed == report.acknowledged, report
    assert report.lost_events == 0 and report.missing_effects == 0, report
    assert report.lost_prints == 0 and report.duplicated_prints == 0, report
    # A step whose journal write failed waits for storage instead of running again.
    assert report.max_repeats_per_session <= report.faults, report
    assert report.ok, report

"""The short crash soak of the default test run (the full one: python -m tests.soak.soak)."""

from __future__ import annotations

import pytest

from tests.soak.soak import soak

pytestmark = pytest.mark.e2e


@pytest.mark.timeout(600)
def test_short_crash_soak() -> None:
    report = soak(sessions=12, kills=3, seed=11, timeout=300)
    assert report.completed == report.sessions, report
    assert report.missing_effects == 0, report
    assert report.lost_prints == 0 and report.duplicated_prints == 0, report
    assert report.undispatched_events == 0, report
    # Only a step in flight at a kill may run twice: at most one per session per kill,
    # and never without a kill in between.
    assert report.excess_repeats == 0 and report.unexplained_repeats == 0, report

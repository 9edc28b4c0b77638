"""The short retention soak of the default test run (the full one: python -m tests.soak.retention_soak)."""

from __future__ import annotations

import pytest

from tests.soak.retention_soak import retention_soak, summary

pytestmark = pytest.mark.e2e


@pytest.mark.timeout(300)
def test_akd_store_stays_bounded_under_compressed_traffic() -> None:
    report = retention_soak(duration=45, rate=4, window=6, sample=1.5)
    info = summary(report)
    assert report.accepted == report.sent > 0, info
    # Retention really ran: far fewer sessions stored than were sent...
    assert 0 < report.steady_stored_max <= report.stored_limit < report.sent, info
    # ...and akd's own files (akd.db with its WAL, logs) stopped growing.
    assert report.akd_bounded(), info

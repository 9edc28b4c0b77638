"""akd on Postgres while Postgres is stopped and started again (issue 19, step 5).

While the server is down akd answers 503 to new events and stores nothing; a session in
the middle of its steps holds its step's outcome until the write lands, so when the
server is back it finishes with every step run once.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.harness import Akd, wait_for
from tests.e2e.marking import marking_project
from tests.pgserver import PgServer, find_bin_dir, pg_server

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(find_bin_dir() is None, reason="initdb is not installed (dev.py test installs postgresql)"),
]


@pytest.fixture
def pg() -> Iterator[PgServer]:
    with pg_server() as server:
        yield server


def test_postgres_stopped_and_started_again(pg: PgServer, tmp_path: Path) -> None:
    akd = Akd(tmp_path / "data")
    akd.env["AKD_STORE_URL"] = pg.new_database()
    marks = tmp_path / "marks.txt"
    project = marking_project(tmp_path / "p", "outage", marks)
    try:
        akd.up()
        hook = akd.deploy(project)["webhooks"]["go"]
        res = httpx.post(hook, json={"steps": 8, "pause": 0.3}, timeout=10)
        assert res.status_code == 202
        event = res.headers["AutoKitteh-Event-ID"]
        sid = wait_for(lambda: akd.api("GET", f"/events/{event}").json().get("session_ids"), 30)[0]
        wait_for(lambda: marks.exists() and len(marks.read_text().splitlines()) >= 2, 30, what="two steps")
        pg.stop()
        refused = httpx.post(hook, json={"steps": 1}, timeout=30)
        assert refused.status_code == 503, refused.text
        assert "Postgres" in refused.json()["error"]["message"]
        time.sleep(2)  # the outage lasts a while: the session's next step waits for the store
        pg.start()
        done = akd.wait_session(sid, timeout=90)
        assert done["state"] == "completed", done
        lines = marks.read_text().splitlines()
        assert lines == [f"{sid} {i}" for i in range(8)], lines  # held in memory, not run again
        assert akd.prints(sid) == [f"after step {i}" for i in range(8)]
        log = akd.api("GET", f"/sessions/{sid}/log").json()
        records = log["records"] if isinstance(log, dict) else log
        assert any(r["kind"] == "storage" for r in records), "no record of the wait for storage"
        # Back to normal; the refused event was never stored.
        again = httpx.post(hook, json={"steps": 1}, timeout=10)
        assert again.status_code == 202
        assert len(akd.sessions(project="outage", limit=100)) == 2
    finally:
        akd.down()

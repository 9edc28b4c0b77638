"""Retention sweeps, on a real SQLite database."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from akd.services.retention import sweep
from akd.store.db import Database, SqliteDatabase

DAY = 86400.0


async def _populate(db: Database, now: float) -> None:
    async with db.tx() as conn:
        for i, (state, age) in enumerate([("completed", 40), ("error", 31), ("stopped", 45), ("running", 90),
                                          ("completed", 5)]):  # fmt: skip
            t = now - age * DAY
            sid, eid = f"ses_{i}", f"evt_{i}"
            await conn.execute(
                "INSERT INTO sessions (session_id, project_id, build_id, event_id, entrypoint, durable, state,"
                " created_at, updated_at, ended_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
                (sid, "prj", "bld", eid, "p.py:f", 1, state, t, t, None if state == "running" else t),
            )
            await conn.execute(
                "INSERT INTO events (event_id, source, data, state, created_at) VALUES (?,?,?,?,?)",
                (eid, "webhook", b"", "dispatched", t),
            )
            await conn.execute(
                "INSERT INTO session_log (session_id, kind, t, data) VALUES (?,?,?,?)", (sid, "print", t, "{}")
            )
            await conn.execute(
                "INSERT INTO journal (session_id, seq, kind, name, outcome, t) VALUES (?,?,?,?,?,?)",
                (sid, 0, "step", "x", b"", t),
            )
        await conn.execute(
            "INSERT INTO events (event_id, source, data, state, created_at) VALUES ('evt_orphan','webhook',x'',"
            "'skipped',?)", (now - 50 * DAY,),
        )  # fmt: skip


async def _run(path: Path) -> tuple[list[str], list[str], int, int]:
    db = SqliteDatabase(path)
    await db.open()
    now = time.time()
    await _populate(db, now)
    swept = await sweep(db, days=30, now=now)
    sessions = [r["session_id"] for r in await db.fetchall("SELECT session_id FROM sessions ORDER BY 1")]
    events = [r["event_id"] for r in await db.fetchall("SELECT event_id FROM events ORDER BY 1")]
    logs = (await db.fetchone("SELECT COUNT(*) AS n FROM session_log"))["n"]  # type: ignore[index]
    journal = (await db.fetchone("SELECT COUNT(*) AS n FROM journal"))["n"]  # type: ignore[index]
    await db.close()
    assert (swept.sessions, swept.events) == (3, 4)
    return sessions, events, logs, journal


def test_sweep_deletes_only_old_finished_sessions_and_their_records(tmp_path: Path) -> None:
    sessions, events, logs, journal = asyncio.run(_run(tmp_path / "akd.db"))
    # The running session stays however old; the recent one stays; their events stay.
    assert sessions == ["ses_3", "ses_4"]
    assert events == ["evt_3", "evt_4"]
    assert (logs, journal) == (2, 2)


def test_logs_past_the_cap_are_cut_and_appending_writers_carry_on(tmp_path: Path) -> None:
    from akd.services.retention import cap_logs

    logs = tmp_path / "logs"
    logs.mkdir()
    big, small = logs / "akd.log", logs / "temporal.log"
    small.write_text("short\n")
    with big.open("ab") as writer:  # a daemon's stdout: O_APPEND, kept open
        writer.write(b"old line\n" * 2000)
        writer.flush()
        assert cap_logs(logs, max_bytes=1024) == ["akd.log"]
        writer.write(b"new line\n")
        writer.flush()
    assert (logs / "akd.log.1").read_bytes() == b"old line\n" * 2000
    assert big.read_bytes() == b"new line\n"  # written at the new end, no hole of zeros
    assert small.read_text() == "short\n" and not (logs / "temporal.log.1").exists()
    assert cap_logs(logs, max_bytes=0) == []  # 0 never cuts


def test_cached_code_older_than_the_window_is_pruned(tmp_path: Path) -> None:
    import os

    from akd.services.retention import prune_files

    cache = tmp_path / "cache" / "code"
    (cache / "ab").mkdir(parents=True)
    old, fresh = cache / "ab" / "old", cache / "ab" / "fresh"
    old.write_bytes(b"x")
    fresh.write_bytes(b"y")
    now = time.time()
    os.utime(old, (now - 40 * 86400, now - 40 * 86400))
    assert prune_files(cache, before=now - 30 * 86400) == 1
    assert not old.exists() and fresh.exists()
    assert prune_files(tmp_path / "missing", before=now) == 0

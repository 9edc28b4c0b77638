"""Flow control in-process: admission of queued sessions, dedupe/rate-limit windows and
debounce replacement on a real SQLite database (the e2e module drives a real daemon)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

from akd.models import Concurrency, Dedupe, FlowControl, RateLimit
from akd.services.flow import Candidate, decide, duration_text
from akd.store import flow as flow_store
from akd.store import sessions as sessions_store
from akd.store.db import Database, SqliteDatabase
from akd.store.sessions import NewSession
from akd.store.states import SessionState

T = TypeVar("T")


def _run(tmp_path: Path, scenario: Callable[[Database], Awaitable[T]]) -> T:
    async def main() -> T:
        db = SqliteDatabase(tmp_path / "akd.db")
        await db.open()
        try:
            return await scenario(db)
        finally:
            await db.close()

    return asyncio.run(main())


def _session(n: int, key: str = "", trigger: str = "trg_a") -> NewSession:
    return NewSession(
        session_id=f"ses_{n:02d}", project_id="prj_p", deployment_id="dep_d", build_id="bld_b", trigger_id=trigger,
        event_id=f"evt_{n:02d}", entrypoint="a.py:f", durable=False, state=SessionState.QUEUED, flow_key=key,
        flow_limit=2,
    )  # fmt: skip


async def _states(db: Database) -> dict[str, str]:
    rows = await db.fetchall("SELECT session_id, state FROM sessions ORDER BY session_id")
    return {r["session_id"]: r["state"] for r in rows}


def test_queued_sessions_are_admitted_oldest_event_first_up_to_the_limit_per_key(tmp_path: Path) -> None:
    async def scenario(db: Database) -> tuple[list[str], list[str], dict[str, str]]:
        async with db.tx() as conn:
            # inserted out of event order: admission follows the events, not the inserts
            await sessions_store.insert_sessions(conn, [_session(n) for n in (3, 1, 2)] + [_session(4, key="k")])
            first = await sessions_store.admit_queued(conn)
        await sessions_store.finish(db, "ses_01", "completed")
        async with db.tx() as conn:
            second = await sessions_store.admit_queued(conn)
        return first, second, await _states(db)

    first, second, states = _run(tmp_path, scenario)
    assert sorted(first) == ["ses_01", "ses_02", "ses_04"]  # two of the "" key, one of "k"
    assert second == ["ses_03"]
    assert states == {"ses_01": "completed", "ses_02": "created", "ses_03": "created", "ses_04": "created"}


def test_dedupe_and_rate_limit_windows(tmp_path: Path) -> None:
    flow = FlowControl(dedupe=Dedupe(key="k", window=60.0), rate_limit=RateLimit(limit=2, period=10.0))

    def cand(n: int, key: str) -> Candidate:
        return Candidate(_session(n), "t", flow, {"dedupe": key, "rate_limit": ""})

    async def scenario(db: Database) -> list[list[str]]:
        reasons = []
        for n, key, now in ((1, "a", 100.0), (2, "a", 101.0), (3, "b", 102.0), (4, "c", 103.0), (5, "d", 111.0)):
            async with db.tx() as conn:
                decision = await decide(conn, [cand(n, key)], f"evt_{n:02d}", now)
            reasons.append(decision.reasons)
        await flow_store.forget_marks(db, 1000.0)
        async with db.tx() as conn:
            left = await flow_store.marks_since(conn, "trg_a", "dedupe", "a", 0.0)
        return [*reasons, left]

    one, two, three, four, five, left = _run(tmp_path, scenario)
    assert one == [] and three == []
    assert two == ["deduplicated: trigger t already had key 'a' from evt_01 within 1m"]
    assert four == ["throttled: trigger t allows 2 event(s) per 10s"]  # evt_01 and evt_03 are in the window
    assert five == []  # 10 s after evt_01: the window slid past it
    assert left == []  # expired marks are forgotten


def test_a_newer_event_replaces_the_waiting_debounce_and_an_older_one_loses(tmp_path: Path) -> None:
    async def scenario(db: Database) -> list[tuple[str, str] | None]:
        async with db.tx() as conn:
            return [
                await flow_store.replace_debounce(conn, "trg_a", "k", "evt_02", 10.0),
                await flow_store.replace_debounce(conn, "trg_a", "k", "evt_03", 11.0),
                await flow_store.replace_debounce(conn, "trg_a", "k", "evt_01", 12.0),  # a late, older event
                await flow_store.replace_debounce(conn, "trg_a", "other", "evt_04", 12.0),
            ]

    assert _run(tmp_path, scenario) == [None, ("evt_02", "evt_03"), ("evt_01", "evt_03"), None]


def test_a_concurrency_limit_queues_the_candidate_in_its_group(tmp_path: Path) -> None:
    flow = FlowControl(concurrency=Concurrency(limit=3, key="data.user"))
    base = _session(1)
    plain = NewSession(**{**base.__dict__, "state": "created", "flow_key": None, "flow_limit": None})

    async def scenario(db: Database) -> list[NewSession]:
        async with db.tx() as conn:
            decision = await decide(conn, [Candidate(plain, "t", flow, {"concurrency": "alice"})], "evt_01", 1.0)
        return decision.news

    (queued,) = _run(tmp_path, scenario)
    assert (queued.state, queued.flow_key, queued.flow_limit) == (SessionState.QUEUED, "alice", 3)


def test_durations_read_like_the_manifest() -> None:
    assert [duration_text(s) for s in (5, 60, 90, 3600, 5400, 0.25)] == ["5s", "1m", "1m30s", "1h", "1h30m", "0.25s"]

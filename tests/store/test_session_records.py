"""Session rows read back as typed, frozen ``SessionRecord``s, on a real SQLite file."""

from __future__ import annotations

import asyncio
import dataclasses
import pickle
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import pytest

from akd.store import projects as projects_store
from akd.store import sessions
from akd.store.db import Database, SqliteDatabase
from akd.store.sessions import NewSession, SessionRecord
from akd.store.states import SessionState

T = TypeVar("T")


def _run(tmp_path: Path, scenario: Callable[[Database], Awaitable[T]]) -> T:
    async def main() -> T:
        db = SqliteDatabase(tmp_path / "akd.db")
        await db.open()
        try:
            async with db.tx() as conn:
                await projects_store.upsert_project(conn, "prj_a", "alpha", "", "")
            return await scenario(db)
        finally:
            await db.close()

    return asyncio.run(main())


async def _insert(db: Database, session_id: str, project_id: str = "prj_a", *, durable: bool = True) -> None:
    async with db.tx() as conn:
        await sessions.insert_sessions(conn, [NewSession(
            session_id, project_id, "dep_1", "bld_1", "trg_1", f"evt_{session_id}", "main.py:run", durable=durable,
            inputs=pickle.dumps({"n": 1}), memo='{"k": "v"}', flow_key="acme", flow_limit=2,
        )])  # fmt: skip


def test_a_finished_session_reads_back_with_every_column_typed(tmp_path: Path) -> None:
    async def scenario(db: Database) -> tuple[SessionRecord | None, set[str]]:
        await _insert(db, "ses_1")
        await sessions.set_running(db, "ses_1", "node-a")
        await sessions.begin_attempt(db, "ses_1", "test")
        await sessions.finish(db, "ses_1", SessionState.COMPLETED, return_value={"ok": True})
        columns = {str(r["name"]) for r in await db.fetchall("PRAGMA table_info(sessions)")}
        return await sessions.get(db, "ses_1"), columns

    got, columns = _run(tmp_path, scenario)
    assert isinstance(got, SessionRecord)
    # Every column of the table (the later ALTERs too), plus the joined project name.
    assert {f.name for f in dataclasses.fields(SessionRecord)} == columns | {"project"}
    assert got.state is SessionState.COMPLETED
    assert got.durable is True
    assert got.worker == "node-a"
    assert isinstance(got.inputs, bytes) and pickle.loads(got.inputs) == {"n": 1}
    assert (got.project, got.project_id, got.entrypoint, got.memo) == ("alpha", "prj_a", "main.py:run", '{"k": "v"}')
    assert (got.attempt, got.steps, got.flow_key, got.flow_limit) == (2, 0, "acme", 2)
    assert got.return_value == '{"ok": true}' and got.error is None and got.waiting is None
    assert got.stop_reason is None and got.restart_of == ""
    times = (got.created_at, got.updated_at, got.started_at, got.ended_at)
    assert all(isinstance(t, float) for t in times)
    assert got.created_at <= (got.started_at or 0) <= (got.ended_at or 0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        got.state = SessionState.ERROR  # type: ignore[misc]


def test_a_new_session_has_no_times_of_running_and_its_wait_as_json_text(tmp_path: Path) -> None:
    async def scenario(db: Database) -> SessionRecord | None:
        await _insert(db, "ses_1", durable=False)
        await sessions.set_waiting(db, "ses_1", {"kind": "sleep", "until": 5.0})
        return await sessions.get(db, "ses_1")

    got = _run(tmp_path, scenario)
    assert got is not None
    assert got.state is SessionState.CREATED and got.durable is False
    assert got.started_at is None and got.ended_at is None and got.return_value is None
    assert got.waiting == '{"kind": "sleep", "until": 5.0}'


def test_every_read_of_whole_sessions_returns_records(tmp_path: Path) -> None:
    async def scenario(db: Database) -> tuple[SessionRecord | None, list[SessionRecord], list[SessionRecord]]:
        await _insert(db, "ses_1")
        await _insert(db, "ses_2", project_id="prj_gone")  # its project is not stored
        await sessions.set_running(db, "ses_1", "node-a")
        latest = await sessions.latest_for_project(db, "prj_a")
        return latest, await sessions.list_sessions(db), await sessions.unfinished(db)

    latest, listed, unfinished = _run(tmp_path, scenario)
    assert latest is not None and latest.session_id == "ses_1" and latest.project == "alpha"
    assert [(s.session_id, s.project) for s in listed] == [("ses_2", ""), ("ses_1", "alpha")]
    assert all(isinstance(s, SessionRecord) for s in listed + unfinished)
    # Recovery reads them without the project name; their states are the enum.
    assert {(s.session_id, s.state, s.project) for s in unfinished} == {
        ("ses_1", SessionState.RUNNING, ""),
        ("ses_2", SessionState.CREATED, ""),
    }
    assert all(type(s.state) is SessionState for s in unfinished)


def test_a_session_resumed_on_another_akd_names_its_new_worker(tmp_path: Path) -> None:
    async def scenario(db: Database) -> list[str | None]:
        await _insert(db, "ses_1")
        seen = []
        for node in ("node-a", "node-a", "node-b"):
            await sessions.set_running(db, "ses_1", node)
            got = await sessions.get(db, "ses_1")
            assert got is not None and got.state is SessionState.RUNNING
            seen.append(got.worker)
        log = await sessions.list_log(db, "ses_1")
        assert sum(1 for r in log if r["kind"] == "state") == 2  # created, then running once (not three times)
        return seen

    assert _run(tmp_path, scenario) == ["node-a", "node-a", "node-b"]

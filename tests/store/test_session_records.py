"""Session rows read back as typed, frozen ``SessionRecord``s, on a real SQLite file."""

from __future__ import annotations

import dataclasses
import pickle
from pathlib import Path

import pytest

from akd.store import sessions
from akd.store.db import Database
from akd.store.sessions import NewSession, SessionRecord
from akd.store.states import SessionState
from tests.store.util import OnSqlite

_run = OnSqlite(projects=(("prj_a", "alpha", ""),))


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
        assert sum(1 for r in log if r.kind == "state") == 2  # created, then running once (not three times)
        return seen

    assert _run(tmp_path, scenario) == ["node-a", "node-a", "node-b"]


def test_a_node_that_lost_its_session_writes_nothing_more_of_it(tmp_path: Path) -> None:
    """The fence of several akd nodes: steps, journaled calls and the end of a session are
    stored only while the writing node is the one that runs it (the last ``set_running``)."""

    async def scenario(db: Database) -> tuple[list[str], list[int], SessionRecord | None]:
        await _insert(db, "ses_1")
        await sessions.set_running(db, "ses_1", "node-a")
        await sessions.record_step(db, "ses_1", 0, "step", "mark", b"0", [], worker="node-a")
        assert await sessions.moved_from(db, "ses_1", "node-a") is None
        await sessions.set_running(db, "ses_1", "node-b")  # node-a stalled; Temporal gave it to node-b
        refused = []
        with pytest.raises(sessions.SessionMoved) as step:
            await sessions.record_step(db, "ses_1", 1, "step", "mark", b"a", [], worker="node-a")
        refused.append(str(step.value))
        with pytest.raises(sessions.SessionMoved):
            async with db.tx() as conn:  # a journaled SDK call: its change rolls back with it
                await conn.execute("INSERT INTO kv (project_id, key, value, updated_at) VALUES ('prj_a','k','v',0)")
                await sessions.journal_insert(conn, "ses_1", 1, "call", "set_value", b"a", worker="node-a")
        with pytest.raises(sessions.SessionMoved):
            await sessions.finish(db, "ses_1", SessionState.COMPLETED, worker="node-a")
        refused.append(str(await sessions.moved_from(db, "ses_1", "node-a")))
        assert await db.fetchall("SELECT * FROM kv") == []
        await sessions.record_step(db, "ses_1", 1, "step", "mark", b"b", [], worker="node-b")
        assert await sessions.finish(db, "ses_1", SessionState.COMPLETED, worker="node-b")
        assert not await sessions.finish(db, "ses_1", SessionState.COMPLETED, worker="node-b")  # once
        refused.append(str(await sessions.moved_from(db, "gone", "node-a")))
        seqs = [int(r["seq"]) for r in await db.fetchall("SELECT seq FROM journal WHERE session_id='ses_1'")]
        blobs = await db.fetchall("SELECT outcome FROM journal WHERE session_id='ses_1' AND seq=1")
        assert bytes(blobs[0][0]) == b"b"
        return refused, seqs, await sessions.get(db, "ses_1")

    refused, seqs, row = _run(tmp_path, scenario)
    assert refused[:2] == ["session ses_1 is now run by akd node 'node-b', not by 'node-a'"] * 2
    assert refused[2] == "session gone was deleted"
    assert seqs == [0, 1]
    assert row is not None and row.state is SessionState.COMPLETED and row.steps == 2 and row.worker == "node-b"


def test_a_segment_of_an_older_workflow_task_cannot_take_the_session_back(tmp_path: Path) -> None:
    """Temporal handed a task to node-a (stalled), then a newer one to node-b; node-a, thawed,
    starts the segment of its older task: the session stays with node-b."""

    async def scenario(db: Database) -> tuple[str, SessionRecord | None]:
        await _insert(db, "ses_1")
        await sessions.set_running(db, "ses_1", "node-a", 100.0)
        await sessions.set_running(db, "ses_1", "node-b", 107.5)  # took over
        with pytest.raises(sessions.SessionMoved) as stale:
            await sessions.set_running(db, "ses_1", "node-a", 102.5)
        await sessions.set_running(db, "ses_1", "node-b", 107.5)  # a retry in the same task
        await sessions.set_running(db, "ses_1", "node-a", 120.0)  # a newer task: node-a's again
        return str(stale.value), await sessions.get(db, "ses_1")

    message, row = _run(tmp_path, scenario)
    assert message == (
        "session ses_1 is now run by akd node 'node-b', not by 'node-a' (a newer segment of it started there)"
    )
    assert row is not None and row.worker == "node-a" and row.worker_epoch == 120.0

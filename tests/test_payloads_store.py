"""akd.store.payloads on a real SQLite file: saved payloads and a trigger's recent events."""

from __future__ import annotations

import asyncio
import pickle
from pathlib import Path

from akd.store import events as events_store
from akd.store import payloads
from akd.store import projects as projects_store
from akd.store.db import Database, SqliteDatabase


async def _db_with_project(path: Path) -> Database:
    db = SqliteDatabase(path)
    await db.open()
    async with db.tx() as conn:
        await projects_store.upsert_project(conn, "prj_1", "one", "", "")
    return db


def test_save_replaces_lists_by_name_and_deletes(tmp_path: Path) -> None:
    async def scenario() -> None:
        db = await _db_with_project(tmp_path / "akd.db")
        try:
            assert await payloads.save(db, "prj_1", "hook", "b", '{"x": 1}') is True
            assert await payloads.save(db, "prj_1", "hook", "a", "{}") is True
            assert await payloads.save(db, "prj_1", "hook", "b", '{"x": 2}') is False  # replaced
            assert await payloads.save(db, "prj_1", "other", "b", '{"y": 1}') is True  # per trigger
            listed = await payloads.list_saved(db, "prj_1", "hook")
            assert [(p.name, p.data) for p in listed] == [("a", "{}"), ("b", '{"x": 2}')]
            b = await payloads.get_saved(db, "prj_1", "hook", "b")
            assert b is not None and b.updated_at >= b.created_at
            assert await payloads.delete(db, "prj_1", "hook", "b") is True
            assert await payloads.delete(db, "prj_1", "hook", "b") is False
            assert await payloads.get_saved(db, "prj_1", "hook", "b") is None
            # Deleting the project takes its payloads along (ON DELETE CASCADE).
            await db.execute("DELETE FROM projects WHERE project_id='prj_1'")
            assert await payloads.list_saved(db, "prj_1", "other") == []
        finally:
            await db.close()

    asyncio.run(scenario())


def test_recent_is_the_triggers_last_events_newest_first(tmp_path: Path) -> None:
    async def scenario() -> None:
        db = await _db_with_project(tmp_path / "akd.db")
        try:
            for n in range(12):
                await events_store.ingest_event(db, events_store.NewEvent(
                    event_id=f"evt_{n:02d}", project_id="prj_1", trigger_id="trg_1", trigger_name="hook",
                    event_type="post", source="webhook", data=pickle.dumps({"n": n, "raw": b"\xff"}),
                ))  # fmt: skip
            await events_store.ingest_event(db, events_store.NewEvent(
                event_id="evt_zz", project_id="prj_1", trigger_id="trg_2", trigger_name="other",
                event_type="", source="manual", data=pickle.dumps({}),
            ))  # fmt: skip
            found = await payloads.recent(db, "prj_1", "hook")
            assert [r.data["n"] for r in found] == list(range(11, 1, -1))  # the last 10
            assert found[0].data["raw"] == b"\xff" and found[0].event_type == "post"
            assert [r.event_id for r in await payloads.recent(db, "prj_1", "other")] == ["evt_zz"]
        finally:
            await db.close()

    asyncio.run(scenario())

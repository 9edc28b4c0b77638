"""``ingest_event``, the one way events are stored, on a real SQLite file; and the outbox's doorbell."""

from __future__ import annotations

import asyncio
import pickle
from pathlib import Path

from akd.outbox import Outbox
from akd.store import connections as connections_store
from akd.store import events
from akd.store import projects as projects_store
from akd.store.db import Database, SqliteDatabase
from akd.store.events import Ingested, NewEvent


async def _db(path: Path) -> Database:
    db = SqliteDatabase(path)
    await db.open()
    async with db.tx() as conn:
        await projects_store.upsert_project(conn, "prj_a", "alpha", "", "")
    return db


def _hook(**kw: object) -> NewEvent:
    fields: dict[str, object] = {"project_id": "prj_a", "trigger_id": "trg_1", "trigger_name": "hook",
                                 "event_type": "post", "source": "webhook", "data": pickle.dumps({"n": 1})}  # fmt: skip
    fields.update(kw)
    return NewEvent(**fields)  # type: ignore[arg-type]


def test_a_new_event_is_stored_pending_with_a_fresh_id(tmp_path: Path) -> None:
    async def scenario() -> None:
        db = await _db(tmp_path / "akd.db")
        try:
            first, second = _hook(), _hook()
            assert first.event_id != second.event_id and first.event_id.startswith("evt_")
            assert await events.ingest_event(db, first) == Ingested(first.event_id, duplicate=False)
            row = await events.get_event(db, first.event_id)
            assert row is not None and row.state == "pending" and row.trigger_name == "hook"
            assert pickle.loads(row.data) == {"n": 1}
            assert [r.event_id for r in await events.pending_events(db)] == [first.event_id]
        finally:
            await db.close()

    asyncio.run(scenario())


def test_a_derived_id_stored_twice_is_one_event(tmp_path: Path) -> None:
    async def scenario() -> None:
        db = await _db(tmp_path / "akd.db")
        try:
            tick = _hook(event_id="evt_tick_1", event_type="tick", source="schedule")
            assert not (await events.ingest_event(db, tick)).duplicate
            assert await events.ingest_event(db, tick) == Ingested("evt_tick_1", duplicate=True)
            assert len(await events.pending_events(db)) == 1
        finally:
            await db.close()

    asyncio.run(scenario())


def test_a_vendors_retried_delivery_names_the_first_one(tmp_path: Path) -> None:
    async def scenario() -> None:
        db = await _db(tmp_path / "akd.db")
        try:
            async with db.tx() as conn:
                spec = connections_store.DeclaredConnection("gh", "github", ())
                await connections_store.sync(conn, "prj_a", [spec], lambda: "con_1")
            delivery = {"trigger_id": None, "trigger_name": "gh", "connection_id": "con_1", "source": "github",
                        "delivery_id": "d-1", "raw": pickle.dumps({"headers": {}, "body": b"{}"})}  # fmt: skip
            first = await events.ingest_event(db, _hook(**delivery))
            again = await events.ingest_event(db, _hook(**delivery))
            assert not first.duplicate and again == Ingested(first.event_id, duplicate=True)
            other = await events.ingest_event(db, _hook(**{**delivery, "delivery_id": "d-2"}))
            assert not other.duplicate
            assert len(await events.pending_events(db)) == 2
        finally:
            await db.close()

    asyncio.run(scenario())


def test_the_outbox_keeps_what_it_heard_before_anyone_listened() -> None:
    heard: list[str] = []
    outbox = Outbox()
    outbox.announce("evt_1")
    outbox.listen(heard.append)
    outbox.announce("evt_2")
    assert heard == ["evt_1", "evt_2"]

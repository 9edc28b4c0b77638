"""The store reads the web UI's pages use, on a real SQLite file: event pages, the sessions
an event started, print tails, per-project counts and the stats page's buckets."""

from __future__ import annotations

import pickle
from pathlib import Path

from akd.store import events, project_data, session_lists, sessions, stats
from akd.store.db import Database
from akd.store.sessions import LogRecord, NewSession
from akd.store.states import SessionState
from tests.store.util import OnSqlite

_run = OnSqlite(projects=(("prj_a", "alpha", ""), ("prj_b", "beta", "")))


async def _event(db: Database, event_id: str, project_id: str = "prj_a") -> None:
    await events.ingest_event(db, events.NewEvent(
        event_id=event_id, project_id=project_id, trigger_id="trg_1", trigger_name="hook", event_type="post",
        source="webhook", data=pickle.dumps({}),
    ))  # fmt: skip


async def _session(db: Database, session_id: str, project_id: str = "prj_a", event_id: str = "") -> None:
    # One session per (event, trigger): each of an event's sessions here comes from its own trigger.
    async with db.tx() as conn:
        await sessions.insert_sessions(conn, [NewSession(
            session_id, project_id, "dep_1", "bld_1", f"trg_{session_id}" if event_id else "", event_id,
            "main.py:run", durable=True,
        )])  # fmt: skip


async def _backdate(db: Database, session_id: str, created_at: float) -> None:
    """Sessions are created "now"; the stats reads need them spread over time."""
    await db.execute("UPDATE sessions SET created_at=? WHERE session_id=?", (created_at, session_id))


# -- events ------------------------------------------------------------------------------


def test_event_pages_walk_back_by_id_with_project_names_and_session_counts(tmp_path: Path) -> None:
    async def scenario(db: Database) -> tuple[list[events.EventPage], events.EventPage]:
        for n in range(events.EVENT_PAGE_SIZE + 3):
            await _event(db, f"evt_{n:03d}")
        await _event(db, "evt_zzz", project_id="prj_b")
        await _session(db, "ses_1", event_id="evt_052")
        await _session(db, "ses_2", event_id="evt_052")
        first = await events.event_page(db, "prj_a")
        second = await events.event_page(db, "prj_a", before=first.older)
        return [first, second], await events.event_page(db)

    (first, second), everything = _run(tmp_path, scenario)
    assert len(first.items) == events.EVENT_PAGE_SIZE
    assert first.items[0] == events.EventListItem(
        "evt_052", "post", "hook", "webhook", "pending", first.items[0].created_at, "alpha", 2
    )
    assert first.older == "evt_003"  # the last id shown: there are older ones
    assert [e.event_id for e in second.items] == ["evt_002", "evt_001", "evt_000"]
    assert second.older == ""  # the last page
    assert all(e.n_sessions == 0 for e in second.items)
    assert everything.items[0].event_id == "evt_zzz" and everything.items[0].project == "beta"


def test_an_event_page_of_nothing_is_empty(tmp_path: Path) -> None:
    page = _run(tmp_path, lambda db: events.event_page(db, "prj_a"))
    assert page == events.EventPage([], older="")


def test_started_sessions_are_the_events_own_by_id_with_their_times(tmp_path: Path) -> None:
    async def scenario(db: Database) -> list[events.EventSession]:
        await _event(db, "evt_1")
        await _event(db, "evt_2")
        await _session(db, "ses_b", event_id="evt_1")
        await _session(db, "ses_a", event_id="evt_1")
        await _session(db, "ses_c", event_id="evt_2")
        await sessions.set_running(db, "ses_b", "node-a")
        await sessions.finish(db, "ses_b", SessionState.COMPLETED)
        return await events.started_sessions(db, "evt_1")

    found = _run(tmp_path, scenario)
    assert [(s.session_id, s.state, s.entrypoint) for s in found] == [
        ("ses_a", "created", "main.py:run"), ("ses_b", "completed", "main.py:run"),
    ]  # fmt: skip
    a, b = found
    assert a.started_at is None and a.ended_at is None
    assert b.started_at is not None and b.ended_at is not None and b.created_at <= b.started_at <= b.ended_at


# -- prints --------------------------------------------------------------------------------


async def _prints(db: Database, session_id: str, texts: list[str]) -> None:
    async with db.tx() as conn:
        await sessions.append_log(conn, session_id, [LogRecord("print", {"text": t}, t=100.0 + i)
                                                     for i, t in enumerate(texts)])  # fmt: skip
        await sessions.append_log(conn, session_id, [LogRecord("step", {"name": "s"}), LogRecord("print", {})])


def test_print_tail_is_the_last_prints_oldest_first_and_counts_them_all(tmp_path: Path) -> None:
    async def scenario(db: Database) -> tuple[tuple[list[project_data.PrintLine], int], ...]:
        await _session(db, "ses_1")
        await _session(db, "ses_2")
        await _prints(db, "ses_1", ["one", "two", "<b>three</b>", "four"])
        await _prints(db, "ses_2", ["other"])
        return await project_data.print_tail(db, "ses_1", 3), await project_data.print_tail(db, "ses_1", 10)

    (cut, total), (whole, whole_total) = _run(tmp_path, scenario)
    assert [p.text for p in cut] == ["<b>three</b>", "four", ""]  # a print without text shows as ""
    assert total == 5  # counted beyond the tail shown
    assert [p.text for p in whole] == ["one", "two", "<b>three</b>", "four", ""] and whole_total == 5
    assert whole[0].t == 100.0 and [p.id for p in whole] == sorted(p.id for p in whole)


def test_prints_after_continue_from_a_cursor_in_batches(tmp_path: Path) -> None:
    async def scenario(db: Database) -> tuple[list[project_data.PrintLine], ...]:
        await _session(db, "ses_1")
        await _prints(db, "ses_1", ["a", "b", "c"])
        first = await project_data.prints_after(db, "ses_1", 0, 2)
        rest = await project_data.prints_after(db, "ses_1", first[-1].id, 2)
        return first, rest, await project_data.prints_after(db, "ses_1", rest[-1].id, 2)

    first, rest, none = _run(tmp_path, scenario)
    assert [p.text for p in first] == ["a", "b"]
    assert [p.text for p in rest] == ["c", ""]
    assert none == []


# -- counts and stats ------------------------------------------------------------------------


def test_counts_by_project_group_every_projects_sessions_by_state(tmp_path: Path) -> None:
    async def scenario(db: Database) -> dict[str, dict[str, int]]:
        for sid, project in (("ses_1", "prj_a"), ("ses_2", "prj_a"), ("ses_3", "prj_a"), ("ses_4", "prj_b")):
            await _session(db, sid, project)
        await sessions.set_running(db, "ses_1", "node-a")
        await sessions.finish(db, "ses_3", SessionState.ERROR, error={"message": "boom"})
        return await stats.counts_by_project(db)

    assert _run(tmp_path, scenario) == {"prj_a": {"running": 1, "created": 1, "error": 1}, "prj_b": {"created": 1}}


def test_stats_reads_bucket_sessions_by_creation_and_time_the_ended_ones(tmp_path: Path) -> None:
    async def scenario(db: Database) -> tuple[object, ...]:
        for sid, project, t in (("ses_0", "prj_a", 900.0), ("ses_1", "prj_a", 1000.0), ("ses_2", "prj_a", 1005.0),
                                ("ses_3", "prj_a", 1012.0), ("ses_4", "prj_b", 1030.0)):  # fmt: skip
            await _session(db, sid, project)
            await _backdate(db, sid, t)
        await sessions.finish(db, "ses_2", SessionState.STOPPED)  # never started: timed from creation
        await db.execute("UPDATE sessions SET ended_at=1007.5 WHERE session_id='ses_2'")
        await sessions.finish(db, "ses_3", SessionState.COMPLETED)
        await db.execute("UPDATE sessions SET started_at=1013, ended_at=1016 WHERE session_id='ses_3'")
        return (
            await stats.first_session_since(db, 950.0), await stats.first_session_since(db, 950.0, "prj_b"),
            await stats.first_session_since(db, 2000.0),
            sorted(await stats.state_buckets(db, 1000.0, 10.0), key=lambda b: (b.bucket, b.state)),
            await stats.state_buckets(db, 1000.0, 10.0, "prj_b"),
            sorted(await stats.durations(db, 1000.0, "prj_a"), key=lambda p: p.created_at),
        )  # fmt: skip

    first, first_b, none, buckets, buckets_b, durations = _run(tmp_path, scenario)
    assert (first, first_b, none) == (1000.0, 1030.0, None)
    assert buckets == [
        stats.StateBucket(0, "created", 1), stats.StateBucket(0, "stopped", 1), stats.StateBucket(1, "completed", 1),
        stats.StateBucket(3, "created", 1),
    ]  # fmt: skip
    assert buckets_b == [stats.StateBucket(3, "created", 1)]
    assert durations == [stats.DurationPoint(1005.0, 2.5), stats.DurationPoint(1012.0, 3.0)]


def test_the_session_list_shows_the_error_of_failed_and_stopped_sessions_only(tmp_path: Path) -> None:
    async def scenario(db: Database) -> dict[str, str]:
        for sid in ("ses_1", "ses_2", "ses_3"):
            await _session(db, sid)
        await sessions.finish(db, "ses_1", SessionState.ERROR, error={"type": "ValueError", "message": "bad"})
        await sessions.finish(db, "ses_2", SessionState.STOPPED, error={"message": "stopped by hand"})
        await sessions.finish(db, "ses_3", SessionState.COMPLETED)
        await db.execute("UPDATE sessions SET error='\"left over\"' WHERE session_id='ses_3'")
        page = await session_lists.session_page(db, session_lists.SessionFilter(project_id="prj_a"))
        return {item.session_id: item.error for item in page.items}

    assert _run(tmp_path, scenario) == {"ses_1": "ValueError: bad", "ses_2": "stopped by hand", "ses_3": ""}


def test_a_footprint_counts_queued_sessions_as_live_as_the_delete_refusal_does(tmp_path: Path) -> None:
    async def scenario(db: Database) -> project_data.Footprint:
        for sid in ("ses_1", "ses_2", "ses_3", "ses_4"):
            await _session(db, sid)
        await db.execute("UPDATE sessions SET state='queued' WHERE session_id='ses_1'")
        await sessions.set_running(db, "ses_2", "node-a")
        await sessions.finish(db, "ses_3", SessionState.COMPLETED)
        return await project_data.footprint(db, "prj_a")

    f = _run(tmp_path, scenario)
    assert (f.sessions, f.live_sessions) == (4, 3)  # queued, running and created; not the completed one

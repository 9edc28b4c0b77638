"""The catalog stores (projects, builds, deployments, triggers, vars) on a real SQLite file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from akd.store import builds, deployments, triggers
from akd.store import projects as projects_store
from akd.store import sessions as sessions_store
from akd.store import vars as vars_store
from akd.store.db import Database
from akd.store.states import ORDER, SessionState
from tests.store.util import OnSqlite

_run = OnSqlite(projects=(("prj_1", "one", "/src/one"),))  # each scenario's database holds ``prj_1``, named ``one``


def _plain(name: str, value: str, description: str = "") -> vars_store.VarValue:
    return vars_store.VarValue(name, value.encode(), False, False, description)


def _fields(**changed: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "type": "webhook", "call": "main.py:on", "event_type": "", "filter": "", "is_sync": 0, "is_durable": 1,
        "schedule": "", "timezone": "", "connection": "",
    }  # fmt: skip
    return {**base, **changed}


async def _deployment(db: Database, deployment_id: str, build_id: str, *, active: bool = True) -> None:
    async with db.tx() as conn:
        if await projects_store.get_build(db, build_id) is None:
            await builds.insert_build(conn, builds.NewBuild(build_id, "prj_1", "d" * 64, 10, "version: v2", None))
        await deployments.insert_deployment(conn, deployment_id, "prj_1", build_id)
        if active:
            await deployments.activate(conn, "prj_1", deployment_id)


async def _session(db: Database, session_id: str, deployment_id: str, state: SessionState) -> None:
    new = sessions_store.NewSession(
        session_id, "prj_1", deployment_id, "bld_1", "trg_1", f"evt_{session_id}", "main.py:on", False, state=state
    )
    async with db.tx() as conn:
        await sessions_store.insert_sessions(conn, [new])


async def _state(db: Database, deployment_id: str) -> str | None:
    async with db.tx() as conn:
        return await deployments.state_in_tx(conn, deployment_id)


def test_vars_by_hand_survive_manifest_writes(tmp_path: Path) -> None:
    async def scenario(db: Database) -> None:
        async with db.tx() as conn:
            await vars_store.put_manifest_var(conn, "prj_1", _plain("B", "from manifest", "b"), 100.0)
            await vars_store.put_manifest_var(conn, "prj_1", _plain("OLD", "gone soon"), 100.0)
            await vars_store.put_user_var(conn, "prj_1", _plain("A", "by hand"))
            await vars_store.put_manifest_var(conn, "prj_1", _plain("A", "manifest wants this"), 200.0)
            await vars_store.drop_manifest_vars_except(conn, "prj_1", ["B"])
        listed = await vars_store.project_vars(db, "prj_1")
        assert [(v.name, v.value, v.origin) for v in listed] == [
            ("A", b"by hand", "user"),
            ("B", b"from manifest", "manifest"),
        ]
        b = await vars_store.find_var(db, "prj_1", "B")
        assert b == vars_store.VarRecord("prj_1", "B", b"from manifest", False, "b", "manifest", 100.0, False)
        assert await vars_store.find_var(db, "prj_1", "OLD") is None

    _run(tmp_path, scenario)


def test_a_user_var_is_replaced_whole_and_deleted_once(tmp_path: Path) -> None:
    async def scenario(db: Database) -> None:
        async with db.tx() as conn:
            await vars_store.put_user_var(conn, "prj_1", _plain("TOKEN", "t1", "first"))
            await vars_store.put_user_var(conn, "prj_1", vars_store.VarValue("TOKEN", b"gAAAA", True, True, ""))
            seen = await vars_store.var_in_tx(conn, "prj_1", "TOKEN")
        assert seen is not None
        assert (seen.value, seen.secret, seen.encrypted, seen.description) == (b"gAAAA", True, True, "")
        assert await vars_store.delete_var(db, "prj_1", "TOKEN") is True
        assert await vars_store.delete_var(db, "prj_1", "TOKEN") is False
        async with db.tx() as conn:
            assert await vars_store.var_in_tx(conn, "prj_1", "TOKEN") is None

    _run(tmp_path, scenario)


def test_dropping_manifest_vars_with_none_kept_drops_them_all(tmp_path: Path) -> None:
    async def scenario(db: Database) -> None:
        async with db.tx() as conn:
            await vars_store.put_manifest_var(conn, "prj_1", _plain("X", "1"), 1.0)
            await vars_store.put_user_var(conn, "prj_1", _plain("Y", "2"))
            await vars_store.drop_manifest_vars_except(conn, "prj_1", [])
        assert [v.name for v in await vars_store.project_vars(db, "prj_1")] == ["Y"]

    _run(tmp_path, scenario)


def test_triggers_are_written_and_read_back_as_records(tmp_path: Path) -> None:
    async def scenario(db: Database) -> None:
        async with db.tx() as conn:
            await triggers.insert_trigger(conn, "trg_b", "prj_1", "hook", _fields(), "slug1", 10.0)
            await triggers.insert_trigger(
                conn, "trg_a", "prj_1", "cron", _fields(type="schedule", schedule="@daily"), None, 10.0
            )
            await triggers.update_trigger(conn, "trg_b", _fields(is_sync=1, filter="x > 1"), "slug1", 20.0)
            in_tx = await triggers.triggers_in_tx(conn, "prj_1")
        read = await triggers.project_triggers(db, "prj_1")
        assert read == in_tx and [t.name for t in read] == ["cron", "hook"]
        hook = read[1]
        assert (hook.trigger_id, hook.slug, hook.filter) == ("trg_b", "slug1", "x > 1")
        assert (hook.is_sync, hook.is_durable) == (True, True)
        assert (hook.created_at, hook.updated_at) == (10.0, 20.0)
        assert [hook.value_of(k) for k in triggers.FIELDS] == list(_fields(is_sync=1, filter="x > 1").values())
        with pytest.raises(KeyError):
            hook.value_of("slug")  # not a manifest field
        async with db.tx() as conn:
            await triggers.delete_trigger(conn, "trg_a")
        assert [t.name for t in await triggers.project_triggers(db, "prj_1")] == ["hook"]

    _run(tmp_path, scenario)


def test_builds_carry_their_project_name_newest_first(tmp_path: Path) -> None:
    async def scenario(db: Database) -> None:
        async with db.tx() as conn:
            await projects_store.upsert_project(conn, "prj_2", "two", "", "")
            await builds.insert_build(conn, builds.NewBuild("bld_1", "prj_1", "a" * 64, 5, "m1", None))
            await builds.insert_build(conn, builds.NewBuild("bld_2", "prj_1", "b" * 64, 6, "m2", "req"))
            await builds.insert_build(conn, builds.NewBuild("bld_3", "prj_2", "c" * 64, 7, "m3", None))
        assert [b.build_id for b in await builds.builds_listed(db, "prj_1")] == ["bld_2", "bld_1"]
        assert {b.build_id for b in await builds.builds_listed(db)} == {"bld_1", "bld_2", "bld_3"}
        found = await builds.build_found(db, "bld_2")
        assert found is not None and (found.project, found.requirements, found.size) == ("one", "req", 6)
        assert await builds.build_found(db, "bld_9") is None

    _run(tmp_path, scenario)


def test_activating_drains_a_busy_deployment_and_ends_an_idle_one(tmp_path: Path) -> None:
    async def scenario(db: Database) -> None:
        await _deployment(db, "dep_1", "bld_1")
        await _deployment(db, "dep_2", "bld_1", active=False)
        assert (await _state(db, "dep_1"), await _state(db, "dep_2")) == ("active", "inactive")
        await _session(db, "ses_q", "dep_1", SessionState.QUEUED)  # queued counts as live
        async with db.tx() as conn:
            await deployments.activate(conn, "prj_1", "dep_2")
        assert (await _state(db, "dep_1"), await _state(db, "dep_2")) == ("draining", "active")
        async with db.tx() as conn:
            await deployments.deactivate(conn, "dep_1")  # not active: left as it is
            await deployments.deactivate(conn, "dep_2")  # active and idle: ends
        assert (await _state(db, "dep_1"), await _state(db, "dep_2")) == ("draining", "inactive")
        assert await deployments.deployment_ids_of_build(db, "bld_1") == ["dep_1", "dep_2"]
        async with db.tx() as conn:
            await deployments.delete_deployment(conn, "dep_2")
        assert await _state(db, "dep_2") is None

    _run(tmp_path, scenario)


def test_deployment_rows_count_their_sessions_per_state(tmp_path: Path) -> None:
    async def scenario(db: Database) -> None:
        await _deployment(db, "dep_1", "bld_1")
        states = [SessionState.RUNNING, SessionState.RUNNING, SessionState.ERROR, SessionState.QUEUED]
        for n, state in enumerate(states):
            await _session(db, f"ses_{n}", "dep_1", state)
        row = await deployments.deployment_counted(db, "dep_1")
        assert row is not None and row.project == "one"
        counts = {s.value: row.session_counts[s.value] for s in ORDER}
        assert counts == {"queued": 1, "created": 0, "running": 2, "completed": 0, "error": 1, "stopped": 0}
        active = await deployments.active_counted(db, "prj_1")
        assert active == row
        await _deployment(db, "dep_2", "bld_1")  # dep_1 drains: its sessions are live
        listed = await deployments.deployments_listed(db, "prj_1")
        assert {r.deployment_id: r.session_counts["running"] for r in listed} == {"dep_1": 2, "dep_2": 0}
        assert [r.deployment_id for r in await deployments.deployments_listed(db, state="draining")] == ["dep_1"]
        assert await deployments.deployments_listed(db, "prj_1", "inactive") == []
        assert await deployments.deployment_counted(db, "dep_9") is None

    _run(tmp_path, scenario)


def test_a_project_is_found_by_name_or_id_and_counts_live_sessions(tmp_path: Path) -> None:
    async def scenario(db: Database) -> None:
        by_name = await projects_store.project_by_name_or_id(db, "one")
        by_id = await projects_store.project_by_name_or_id(db, "prj_1")
        assert by_name is not None and by_id is not None and by_name.root_dir == by_id.root_dir == "/src/one"
        assert await projects_store.project_by_name_or_id(db, "nope") is None
        await _deployment(db, "dep_1", "bld_1")
        for n, state in enumerate(ORDER):
            await _session(db, f"ses_{n}", "dep_1", state)
        async with db.tx() as conn:
            assert await projects_store.live_session_count(conn, "prj_1") == 3  # queued, created, running
            assert await projects_store.live_session_count(conn, "prj_2") == 0

    _run(tmp_path, scenario)


def test_deleting_a_project_takes_what_it_owns_and_nothing_else(tmp_path: Path) -> None:
    async def scenario(db: Database) -> None:
        async with db.tx() as conn:
            await projects_store.upsert_project(conn, "prj_2", "two", "", "")
            await vars_store.put_user_var(conn, "prj_1", _plain("A", "1"))
            await vars_store.put_user_var(conn, "prj_2", _plain("A", "2"))
            await triggers.insert_trigger(conn, "trg_1", "prj_1", "hook", _fields(), "s1", 1.0)
        await _deployment(db, "dep_1", "bld_1")
        await _session(db, "ses_1", "dep_1", SessionState.COMPLETED)
        async with db.tx() as conn:
            await projects_store.delete_project_rows(conn, "prj_1")
        assert await projects_store.project_by_id(db, "prj_1") is None
        assert await projects_store.project_by_id(db, "prj_2") is not None
        assert await vars_store.project_vars(db, "prj_1") == [] and await triggers.project_triggers(db, "prj_1") == []
        assert await builds.builds_listed(db, "prj_1") == [] and await _state(db, "dep_1") is None
        assert await db.fetchall("SELECT 1 FROM sessions UNION ALL SELECT 1 FROM session_log") == []
        assert [v.value for v in await vars_store.project_vars(db, "prj_2")] == [b"2"]

    _run(tmp_path, scenario)

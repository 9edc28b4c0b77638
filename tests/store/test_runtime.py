"""The store functions behind the SDK's requests and dispatch (key-value entries,
subscriptions, the inbox, session and catalog lookups), on a real SQLite database."""

from __future__ import annotations

from pathlib import Path

from akd.store import flow as flow_store
from akd.store import inbox, kv, published, runtime_lookups, subscriptions
from akd.store import sessions as sessions_store
from akd.store.db import Database
from akd.store.flow import TriggerTarget
from akd.store.runtime_lookups import LiveDeployment
from akd.store.sessions import NewSession
from akd.store.states import SessionState
from akd.store.subscriptions import Subscription
from tests.store.util import OnSqlite

_run = OnSqlite()


def _session(session_id: str, event_id: str = "", trigger_id: str = "trg_t") -> NewSession:
    return NewSession(
        session_id=session_id, project_id="prj_p", deployment_id="dep_d", build_id="bld_b", trigger_id=trigger_id,
        event_id=event_id, entrypoint="a.py:f", durable=True,
    )  # fmt: skip


async def _set_state(db: Database, session_id: str, state: str, created_at: float) -> None:
    await db.execute("UPDATE sessions SET state=?, created_at=? WHERE session_id=?", (state, created_at, session_id))


# -- key-value entries ------------------------------------------------------------------


def test_kv_put_get_overwrite_delete_and_sorted_keys(tmp_path: Path) -> None:
    async def scenario(db: Database) -> tuple[list[str | None], list[str], list[str]]:
        async with db.tx() as conn:
            await kv.put(conn, "prj_a", "b", '{"x": 1}')
            await kv.put(conn, "prj_a", "a", "1")
            await kv.put(conn, "prj_b", "c", "2")  # another project's key is not listed
            await kv.put(conn, "prj_a", "a", "[2]")  # an overwrite keeps one row
            seen = [await kv.get(conn, "prj_a", k) for k in ("a", "b", "z")]
            before = await kv.keys(conn, "prj_a")
            await kv.delete(conn, "prj_a", "b")
            await kv.delete(conn, "prj_a", "missing")  # deleting nothing is no error
            seen.append(await kv.get(conn, "prj_a", "b"))
            return seen, before, await kv.keys(conn, "prj_a")

    seen, before, after = _run(tmp_path, scenario)
    assert seen == ["[2]", '{"x": 1}', None, None]
    assert before == ["a", "b"]
    assert after == ["a"]


def test_kv_put_keeps_a_published_key_published_and_delete_unpublishes(tmp_path: Path) -> None:
    async def scenario(db: Database) -> tuple[str | None, str | None]:
        async with db.tx() as conn:
            await kv.put(conn, "prj_a", "k", '"v1"')
            assert await published.set_published(conn, "prj_a", "k", True)
            await kv.put(conn, "prj_a", "k", '"v2"')
        kept = await published.published_value(db, "prj_a", "k")
        async with db.tx() as conn:
            await kv.delete(conn, "prj_a", "k")
            await kv.put(conn, "prj_a", "k", '"v3"')
        return kept, await published.published_value(db, "prj_a", "k")

    kept, after_delete = _run(tmp_path, scenario)
    assert kept == '"v2"'
    assert after_delete is None  # a key set again after a delete starts private


def test_kv_writes_roll_back_with_their_transaction(tmp_path: Path) -> None:
    async def scenario(db: Database) -> list[str]:
        try:
            async with db.tx() as conn:
                await kv.put(conn, "prj_a", "k", "1")
                raise RuntimeError("the journal write failed")
        except RuntimeError:
            pass
        async with db.tx() as conn:
            return await kv.keys(conn, "prj_a")

    assert _run(tmp_path, scenario) == []


# -- subscriptions and the inbox --------------------------------------------------------


def test_subscriptions_active_on_a_source_until_deactivated(tmp_path: Path) -> None:
    async def scenario(db: Database) -> tuple[list[Subscription], list[bool], list[Subscription]]:
        async with db.tx() as conn:
            await subscriptions.add(conn, "sub_1", "ses_a", "prj_p", "hook", "")
            await subscriptions.add(conn, "sub_2", "ses_b", "prj_p", "hook", 'data.x == "y"')
            await subscriptions.add(conn, "sub_3", "ses_a", "prj_p", "other", "")
            await subscriptions.add(conn, "sub_4", "ses_a", "prj_q", "hook", "")
        first = await subscriptions.active_on(db, "prj_p", "hook")
        async with db.tx() as conn:
            results = [
                await subscriptions.deactivate(conn, "sub_1", "ses_b"),  # not this session's
                await subscriptions.deactivate(conn, "sub_1", "ses_a"),
                await subscriptions.deactivate(conn, "sub_1", "ses_a"),  # already ended
            ]
        return first, results, await subscriptions.active_on(db, "prj_p", "hook")

    first, results, after = _run(tmp_path, scenario)
    assert sorted(first, key=lambda s: s.sub_id) == [
        Subscription("sub_1", "ses_a", "hook", ""),
        Subscription("sub_2", "ses_b", "hook", 'data.x == "y"'),
    ]
    assert results == [False, True, False]
    assert after == [Subscription("sub_2", "ses_b", "hook", 'data.x == "y"')]


def test_inbox_take_gives_the_oldest_unread_payload_once(tmp_path: Path) -> None:
    async def scenario(db: Database) -> tuple[list[bool], list[bytes | None]]:
        async with db.tx() as conn:
            new = [
                await inbox.deliver(conn, "ses_a", "event", "sub_1", b"first", source_id="evt_1"),
                await inbox.deliver(conn, "ses_a", "event", "sub_1", b"again", source_id="evt_1"),  # same source
                await inbox.deliver(conn, "ses_a", "event", "sub_2", b"second", source_id="evt_2"),
                await inbox.deliver(conn, "ses_a", "signal", "sub_1", b"a signal"),
            ]
        async with db.tx() as conn:
            taken = [
                await inbox.take(conn, "ses_a", "event", ["sub_2", "sub_1"]),
                await inbox.take(conn, "ses_a", "event", ["sub_1"]),
                await inbox.take(conn, "ses_a", "event", ["sub_2"]),
                await inbox.take(conn, "ses_b", "signal", ["sub_1"]),  # another session's inbox
                await inbox.take(conn, "ses_a", "signal", ["sub_1"]),
            ]
        return new, taken

    new, taken = _run(tmp_path, scenario)
    assert new == [True, False, True, True]
    assert taken == [b"first", None, b"second", None, b"a signal"]


def test_sessions_with_unread_counts_only_started_sessions(tmp_path: Path) -> None:
    async def scenario(db: Database) -> list[str]:
        async with db.tx() as conn:
            await sessions_store.insert_sessions(conn, [_session(f"ses_{n}") for n in "abcd"])
            for n in "abcd":
                await inbox.deliver(conn, f"ses_{n}", "signal", "go", b"x")
            await inbox.take(conn, "ses_d", "signal", ["go"])  # read: nothing waits for it
        await _set_state(db, "ses_b", SessionState.RUNNING, 0.0)
        await _set_state(db, "ses_c", SessionState.COMPLETED, 0.0)
        return await inbox.sessions_with_unread(db)

    assert sorted(_run(tmp_path, scenario)) == ["ses_a", "ses_b"]


# -- session lookups ----------------------------------------------------------------------


def test_session_exists_and_sessions_of_an_event(tmp_path: Path) -> None:
    async def scenario(db: Database) -> tuple[list[bool], list[str], list[str], list[str]]:
        async with db.tx() as conn:
            two = [_session("ses_2", "evt_a", "trg_x"), _session("ses_1", "evt_a", "trg_y")]
            await sessions_store.insert_sessions(conn, two)
            await sessions_store.insert_sessions(conn, [_session("ses_3", "evt_b")])
            found = [await sessions_store.exists(conn, "ses_1"), await sessions_store.exists(conn, "ses_9")]
        await _set_state(db, "ses_2", SessionState.RUNNING, 0.0)
        every = await sessions_store.ids_of_event(db, "evt_a")
        created = await sessions_store.ids_of_event(db, "evt_a", SessionState.CREATED)
        return found, every, created, await sessions_store.ids_of_event(db, "evt_none")

    found, every, created, none = _run(tmp_path, scenario)
    assert found == [True, False]
    assert sorted(every) == ["ses_1", "ses_2"]
    assert created == ["ses_1"]
    assert none == []


def test_created_before_gives_old_created_sessions_oldest_first_up_to_the_limit(tmp_path: Path) -> None:
    async def scenario(db: Database) -> tuple[list[str], list[str]]:
        async with db.tx() as conn:
            await sessions_store.insert_sessions(conn, [_session(f"ses_{n}") for n in "abcde"])
        for name, state, at in (("a", "created", 30.0), ("b", "created", 10.0), ("c", "running", 5.0),
                                ("d", "created", 20.0), ("e", "created", 100.0)):  # fmt: skip
            await _set_state(db, f"ses_{name}", state, at)
        return await sessions_store.created_before(db, 50.0, 10), await sessions_store.created_before(db, 50.0, 2)

    every, limited = _run(tmp_path, scenario)
    assert every == ["ses_b", "ses_d", "ses_a"]  # not the running one, not the one too recent
    assert limited == ["ses_b", "ses_d"]


# -- catalog lookups ------------------------------------------------------------------------


async def _catalog(db: Database) -> None:
    async with db.tx() as conn:
        for project in ("one", "two"):
            await conn.execute("INSERT INTO projects VALUES (?,?,'','',0,0)", (f"prj_{project}", project))
        for build, project in (("bld_1", "one"), ("bld_2", "one"), ("bld_3", "two")):
            await conn.execute(
                "INSERT INTO builds (build_id, project_id, digest, size, manifest, created_at) VALUES (?,?,'d',0,?,0)",
                (build, f"prj_{project}", f"manifest of {build}"),
            )
        for dep, build, project, state in (("dep_1", "bld_1", "one", "draining"), ("dep_2", "bld_2", "one", "active"),
                                           ("dep_3", "bld_3", "two", "inactive")):  # fmt: skip
            await conn.execute("INSERT INTO deployments VALUES (?,?,?,?,0,0)", (dep, f"prj_{project}", build, state))


def test_build_manifest_and_active_deployment_by_project_name(tmp_path: Path) -> None:
    async def scenario(db: Database) -> tuple[list[str | None], list[LiveDeployment | None]]:
        await _catalog(db)
        async with db.tx() as conn:
            texts = [await runtime_lookups.build_manifest(conn, b) for b in ("bld_2", "bld_9")]
            names = ("one", "two", "nobody")
            return texts, [await runtime_lookups.active_deployment_named(conn, n) for n in names]

    texts, deployments = _run(tmp_path, scenario)
    assert texts == ["manifest of bld_2", None]
    assert deployments == [LiveDeployment("dep_2", "bld_2", "prj_one"), None, None]  # "two" has only an inactive one


async def _triggers(db: Database) -> None:
    async with db.tx() as conn:
        for trg, project, name, kind, connection, call, durable in (
            ("trg_a", "one", "hook", "webhook", "", "a.py:on_hook", 1),
            ("trg_b", "one", "slack_b", "connection", "slack", "a.py:on_b", 0),
            ("trg_c", "one", "slack_a", "connection", "slack", "", 1),
            ("trg_d", "one", "gh", "connection", "github", "a.py:on_gh", 1),
            ("trg_e", "two", "slack_e", "connection", "slack", "a.py:on_e", 1),
        ):
            await conn.execute(
                "INSERT INTO triggers (trigger_id, project_id, name, type, connection, call, is_durable, event_type,"
                " filter, created_at, updated_at) VALUES (?,?,?,?,?,?,?,'post','data.x == 1',0,0)",
                (trg, f"prj_{project}", name, kind, connection, call, durable),
            )


def test_trigger_targets_carry_the_active_deployment(tmp_path: Path) -> None:
    async def scenario(db: Database) -> tuple[list[TriggerTarget | None], list[list[str]]]:
        await _catalog(db)
        await _triggers(db)
        one = [await flow_store.active_trigger(db, t) for t in ("trg_a", "trg_e", "trg_nope")]
        names = [
            [t.name for t in await flow_store.connection_targets(db, p, c)]
            for p, c in (("prj_one", "slack"), ("prj_one", "github"), ("prj_two", "slack"), ("prj_one", "jira"))
        ]
        return one, names

    one, names = _run(tmp_path, scenario)
    assert one == [
        TriggerTarget("trg_a", "prj_one", "hook", "a.py:on_hook", "post", "data.x == 1", True, "dep_2", "bld_2"),
        None,  # project "two" has no active deployment
        None,
    ]
    assert names == [["slack_a", "slack_b"], ["gh"], [], []]

"""The Postgres store backend against a real Postgres (tests/pgserver.py): migrations,
transactions, rows, the SQLite dialect translation, and a server that goes away."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import TypeVar

import psycopg
import pytest

from akd.config import load_config
from akd.errors import InvalidArgument, Unavailable
from akd.store.db import SqliteDatabase, Store, open_database
from akd.store.migrations import MIGRATIONS
from akd.store.pg import schema
from akd.store.pg.database import PgDatabase
from akd.store.pg.dialect import UnsupportedSql, translate
from tests.pgserver import PgServer, pg_server
from tests.store.util import run_scenario

T = TypeVar("T")
KV = "INSERT INTO kv (project_id, key, value, updated_at) VALUES (?, ?, ?, ?)"


def _server() -> Iterator[PgServer]:
    try:
        with pg_server() as server:
            yield server
    except LookupError as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="module")
def pg() -> Iterator[PgServer]:
    yield from _server()


@pytest.fixture
def own_pg() -> Iterator[PgServer]:
    """A server of the test's own, for tests that stop it."""
    yield from _server()


def _run(url: str, scenario: Callable[[PgDatabase], Awaitable[T]]) -> T:
    return run_scenario(PgDatabase(url), scenario)


def _columns_on_postgres(url: str) -> dict[str, list[tuple[str, bool]]]:
    with psycopg.connect(url) as conn:
        found = conn.execute(
            "SELECT table_name, column_name, is_nullable FROM information_schema.columns"
            " WHERE table_schema = 'public' ORDER BY table_name, ordinal_position"
        ).fetchall()
    out: dict[str, list[tuple[str, bool]]] = {}
    for table, column, nullable in found:
        out.setdefault(table, []).append((column, nullable == "YES"))
    return out


def _columns_on_sqlite(path: Path) -> dict[str, list[tuple[str, bool]]]:
    async def migrate() -> None:
        db = SqliteDatabase(path)
        await db.open()
        await db.close()

    asyncio.run(migrate())
    conn = sqlite3.connect(path)
    try:
        names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        # SQLite lets a primary-key column be NULL unless declared NOT NULL; Postgres never does.
        return {n: [(c[1], not c[3] and not c[5]) for c in conn.execute(f"PRAGMA table_info({n})")] for n in names}
    finally:
        conn.close()


def test_migrations_build_the_sqlite_schema_once_and_a_second_run_is_a_no_op(pg: PgServer, tmp_path: Path) -> None:
    url = pg.new_database()

    async def apply_twice() -> tuple[list[str], list[str], list[str]]:
        conn = await psycopg.AsyncConnection.connect(url, autocommit=True)
        try:
            first, second = await schema.apply_migrations(conn), await schema.apply_migrations(conn)
            cur = await conn.execute("SELECT name FROM _migrations ORDER BY name")
            return first, second, [r[0] for r in await cur.fetchall()]
        finally:
            await conn.close()

    first, second, recorded = asyncio.run(apply_twice())
    names = [name for name, _ in MIGRATIONS]
    assert first == names and second == [] and recorded == sorted(names)
    assert _columns_on_postgres(url) == _columns_on_sqlite(tmp_path / "akd.db")


def test_opening_twice_applies_nothing_new(pg: PgServer) -> None:
    url = pg.new_database()
    _run(url, lambda db: db.execute(KV, ("p", "k", "1", 0)))

    async def count(db: PgDatabase) -> tuple[int, int]:
        migrations = await db.fetchone("SELECT COUNT(*) AS n FROM _migrations")
        kv = await db.fetchone("SELECT COUNT(*) AS n FROM kv")
        assert migrations is not None and kv is not None
        return migrations["n"], kv["n"]

    assert _run(url, count) == (len(MIGRATIONS), 1)


def test_a_transaction_commits_or_rolls_back_as_a_whole(pg: PgServer) -> None:
    async def scenario(db: PgDatabase) -> list[str]:
        async with db.tx() as conn:
            await conn.execute(KV, ("p", "a", "1", 0))
            await conn.execute(KV, ("p", "b", "1", 0))
        with pytest.raises(RuntimeError):
            async with db.tx() as conn:
                await conn.execute(KV, ("p", "c", "1", 0))
                await conn.execute("UPDATE kv SET value = '2' WHERE key = 'a'")
                raise RuntimeError("abandon")
        with pytest.raises(psycopg.errors.UniqueViolation):
            async with db.tx() as conn:
                await conn.execute(KV, ("p", "d", "1", 0))
                await conn.execute(KV, ("p", "a", "1", 0))  # the key exists: the whole tx goes
        rows = await db.fetchall("SELECT key, value FROM kv ORDER BY key")
        return [f"{r['key']}={r['value']}" for r in rows]

    assert _run(pg.new_database(), scenario) == ["a=1", "b=1"]


def test_rows_read_like_sqlite_rows(pg: PgServer) -> None:
    async def scenario(db: PgDatabase) -> None:
        await db.execute(KV, ("p", "k", "v", 1.5))
        row = await db.fetchone("SELECT project_id, key AS Key, value, updated_at FROM kv")
        assert row is not None
        assert (row[0], row["key"], row["KEY"], row[-1]) == ("p", "k", "k", 1.5)
        assert row.keys() == ["project_id", "key", "value", "updated_at"]  # unquoted names fold to lower case
        assert dict(zip(row.keys(), row, strict=True)) == {"project_id": "p", "key": "k", "value": "v",
                                                           "updated_at": 1.5}  # fmt: skip
        assert tuple(row) == ("p", "k", "v", 1.5) and len(row) == 4
        with pytest.raises(IndexError):
            row["nope"]
        assert await db.fetchone("SELECT * FROM kv WHERE key = ?", ("none",)) is None

    _run(pg.new_database(), scenario)


def test_cursors_give_rows_one_by_one_and_row_counts(pg: PgServer) -> None:
    async def scenario(db: PgDatabase) -> tuple[int, int, list[str], int]:
        async with db.tx() as conn:
            many = (await conn.executemany(KV, [("p", f"k{i}", "1", 0) for i in range(3)])).rowcount
            async with conn.execute("SELECT key FROM kv ORDER BY key") as cur:
                first = await cur.fetchone()
                rest = await cur.fetchall()
            updated = (await conn.execute("UPDATE kv SET value = '2' WHERE key != ?", ("k0",))).rowcount
        assert first is not None
        return many, updated, [first["key"], *(r["key"] for r in rest)], await db.execute("DELETE FROM kv")

    assert _run(pg.new_database(), scenario) == (3, 2, ["k0", "k1", "k2"], 3)


def test_placeholders_and_percent_signs(pg: PgServer) -> None:
    async def scenario(db: PgDatabase) -> list[str]:
        await db.execute(KV, ("p", "50%", "what?", 0))
        await db.execute(KV, ("p", "a?b", "x", 0))
        rows = await db.fetchall(
            "SELECT key FROM kv WHERE (key LIKE '%\\%' ESCAPE '\\' OR key = 'a?b') AND project_id = ? ORDER BY key",
            ("p",),
        )
        return [r["key"] for r in rows]

    assert _run(pg.new_database(), scenario) == ["50%", "a?b"]
    assert translate("SELECT '?' || ? FROM t WHERE a LIKE 'x%'") == "SELECT '?' || %s FROM t WHERE a LIKE 'x%%'"


def test_blob_literals_become_bytea(pg: PgServer) -> None:
    sql = "INSERT INTO oauth_apps (integration, client_id, client_secret, updated_at) VALUES (?, ?, x'00ff', 0)"

    async def scenario(db: PgDatabase) -> list[bytes]:
        await db.execute(sql, ("github", "id"))
        return [r["client_secret"] for r in await db.fetchall("SELECT client_secret FROM oauth_apps")]

    assert _run(pg.new_database(), scenario) == [b"\x00\xff"]
    with pytest.raises(UnsupportedSql, match="not a blob literal"):
        translate("SELECT x'abc'")


def test_insert_or_ignore_keeps_the_first_row(pg: PgServer) -> None:
    async def scenario(db: PgDatabase) -> tuple[int, int, str]:
        sql = "INSERT OR IGNORE INTO revoked_ui_cookies (digest, expires_at) VALUES (?, ?)"
        first, again = await db.execute(sql, ("d", 1.0)), await db.execute(sql, ("d", 2.0))
        row = await db.fetchone("SELECT expires_at FROM revoked_ui_cookies")
        assert row is not None
        return first, again, str(row[0])

    assert _run(pg.new_database(), scenario) == (1, 0, "1.0")


def test_insert_or_replace_replaces_the_whole_row(pg: PgServer) -> None:
    into = "INSERT OR REPLACE INTO oauth_apps (integration, client_id, client_secret"
    sql = f"{into}, scopes, updated_at) VALUES (?,?,?,?,?)"
    partial = f"{into}, updated_at) VALUES (?,?,?,?)"

    async def scenario(db: PgDatabase) -> list[tuple[str, str, bytes, str]]:
        await db.execute(sql, ("github", "one", b"s1", "repo", 1.0))
        replaced = await db.fetchall("SELECT * FROM oauth_apps")
        await db.execute(sql, ("github", "two", b"s2", "user", 2.0))
        await db.execute(partial, ("github", "three", b"s3", 3.0))  # scopes: back to its default
        rows = [*replaced, *await db.fetchall("SELECT * FROM oauth_apps")]
        return [(r["integration"], r["client_id"], r["client_secret"], r["scopes"]) for r in rows]

    assert _run(pg.new_database(), scenario) == [("github", "one", b"s1", "repo"), ("github", "three", b"s3", "")]


def test_insert_or_replace_is_refused_where_an_upsert_is_not_the_same() -> None:
    with pytest.raises(UnsupportedSql, match="unique keys besides"):
        translate("INSERT OR REPLACE INTO sessions (session_id, project_id) VALUES (?, ?)")
    with pytest.raises(UnsupportedSql, match="json_extract"):
        translate("SELECT json_extract(data, '$[0]') FROM session_log")


def test_functions_flags_and_sums_come_back_as_on_sqlite(pg: PgServer) -> None:
    async def scenario(db: PgDatabase) -> tuple[object, ...]:
        async with db.tx() as conn:
            for i, text in enumerate(("one", "two")):
                await conn.execute(
                    "INSERT INTO session_log (session_id, kind, t, data) VALUES (?, 'print', ?, ?)",
                    ("s1", float(i), f'{{"text": "{text}", "n": {i}}}'),
                )
            await conn.execute("UPDATE kv SET published = ? WHERE key = ?", (True, "none"))
            await conn.execute(KV, ("p", "k", "1", 0))
            await conn.execute("UPDATE kv SET published = ?", (True,))
        logs = await db.fetchall("SELECT id, json_extract(data, '$.text') AS text FROM session_log ORDER BY id")
        joined = await db.fetchone("SELECT group_concat(session_id, ';') AS ids, IFNULL(NULL, 7) AS n FROM session_log")
        sums = await db.fetchone("SELECT SUM(id) AS ids, SUM(t) AS ts, (SELECT published FROM kv) f FROM session_log")
        assert joined is not None and sums is not None
        return [(r["id"], r["text"]) for r in logs], joined["ids"], joined["n"], sums["ids"], sums["ts"], sums["f"]

    logs, ids, seven, id_sum, t_sum, flag = _run(pg.new_database(), scenario)
    assert logs == [(1, "one"), (2, "two")]  # ids grow from 1, as SQLite's rowids
    assert (ids, seven, id_sum, t_sum, flag) == ("s1;s1", 7, 3, 1.0, 1)
    assert type(id_sum) is int and type(flag) is int


def test_subqueries_in_from_get_the_alias_postgres_wants(pg: PgServer) -> None:
    async def scenario(db: PgDatabase) -> str | None:
        for key in ("b", "a", "c"):
            await db.execute(KV, ("p", key, "1", 0))
        row = await db.fetchone("SELECT (SELECT group_concat(key) FROM (SELECT key FROM kv ORDER BY key)) AS keys")
        assert row is not None
        return row["keys"]  # type: ignore[no-any-return]

    assert _run(pg.new_database(), scenario) == "a,b,c"
    assert translate("SELECT * FROM (SELECT 1) x") == "SELECT * FROM (SELECT 1) x"  # one it has stays


def test_text_for_a_bytes_column_is_refused_not_converted(pg: PgServer) -> None:
    async def scenario(db: PgDatabase) -> None:
        with pytest.raises(psycopg.errors.DatatypeMismatch):
            await db.execute(
                "INSERT INTO oauth_apps (integration, client_id, client_secret, updated_at) VALUES (?,?,?,?)",
                ("github", "id", "\\x41", 0.0),
            )
        await db.execute(KV, ("p", "still", "usable", 0))  # the failed transaction left nothing behind

    _run(pg.new_database(), scenario)


def test_a_stopped_server_gives_unavailable_and_akd_recovers_when_it_is_back(own_pg: PgServer) -> None:
    url = own_pg.new_database()

    async def scenario(db: PgDatabase) -> list[str]:
        await db.execute(KV, ("p", "before", "1", 0))
        assert await db.fetchone("SELECT 1") is not None  # the readers are connected too
        own_pg.stop()
        with pytest.raises(Unavailable, match="Postgres"):
            await db.fetchall("SELECT key FROM kv")
        with pytest.raises(Unavailable):
            await db.execute(KV, ("p", "lost", "1", 0))
        with pytest.raises(Unavailable):
            async with db.tx() as conn:
                await conn.execute(KV, ("p", "lost", "1", 0))
        own_pg.start()
        await _eventually(lambda: db.execute(KV, ("p", "after", "1", 0)))
        return [r["key"] for r in await _eventually(lambda: db.fetchall("SELECT key FROM kv ORDER BY key"))]

    assert _run(url, scenario) == ["after", "before"]


async def _eventually(attempt: Callable[[], Awaitable[T]], timeout: float = 10.0) -> T:
    """``attempt()`` until it stops raising ``Unavailable``, within ``timeout`` seconds."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        try:
            return await attempt()
        except Unavailable:
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.05)


def test_opening_a_database_on_a_server_that_is_down_is_unavailable(own_pg: PgServer) -> None:
    url = own_pg.new_database()
    own_pg.stop()
    with pytest.raises(Unavailable, match=f"127.0.0.1:{own_pg.port}/"):
        asyncio.run(PgDatabase(url).open())


def test_the_store_url_picks_the_backend(tmp_path: Path) -> None:
    sqlite: Store = open_database("", tmp_path / "akd.db")
    postgres: Store = open_database("postgresql://akd@127.0.0.1:1/akd", tmp_path / "akd.db")
    assert isinstance(sqlite, SqliteDatabase) and sqlite.path == tmp_path / "akd.db"
    assert isinstance(postgres, PgDatabase) and postgres.where == "127.0.0.1:1/akd"
    assert isinstance(open_database("postgres://h/db", tmp_path), PgDatabase)
    with pytest.raises(InvalidArgument, match="not a Postgres URL"):
        open_database("mysql://h/db", tmp_path)


def test_the_store_url_setting_takes_postgres_urls_only(tmp_path: Path) -> None:
    toml = tmp_path / "akd.toml"
    toml.write_text('[store]\nurl = "postgres://akd@db.internal/akd"\n')
    assert load_config(toml, environ={}).store.url == "postgres://akd@db.internal/akd"
    assert load_config(data_dir=tmp_path / "none", environ={}).store.url == ""  # SQLite by default
    env = {"AKD_STORE_URL": "postgresql://akd@127.0.0.1/akd"}
    assert load_config(data_dir=tmp_path / "none", environ=env).store.url == env["AKD_STORE_URL"]
    with pytest.raises(InvalidArgument, match=r"\[store\] url: expected empty .* got 'mysql'"):
        load_config(data_dir=tmp_path / "none", environ={"AKD_STORE_URL": "mysql://h/db"})


def test_one_akd_claims_a_pending_event_and_another_skips_it(pg: PgServer) -> None:
    """Two handles on one database stand for two akd nodes dispatching the same event."""
    url = pg.new_database()

    async def scenario(first: PgDatabase) -> list[bool]:
        second = PgDatabase(url)
        await second.open()
        try:
            async with first.tx() as conn:
                await conn.execute("INSERT INTO projects VALUES ('prj_1','p','','',0,0)")
            from akd.store.events import NewEvent, claim_pending, ingest_event, mark_dispatched

            await ingest_event(first, NewEvent("prj_1", "post", "webhook", b"", event_id="evt_1"))
            seen = []
            async with first.tx() as mine:
                seen.append(await claim_pending(mine, "evt_1"))
                async with second.tx() as theirs:  # while the first holds it
                    seen.append(await claim_pending(theirs, "evt_1"))
                await mark_dispatched(mine, "evt_1", "", 1.0)
            async with second.tx() as theirs:  # after the first committed
                seen.append(await claim_pending(theirs, "evt_1"))
            return seen
        finally:
            await second.close()

    assert _run(url, scenario) == [True, False, False]


def test_a_stalled_node_inside_a_transaction_loses_its_locks_and_recovers(pg: PgServer) -> None:
    """An akd frozen between two statements of a transaction (a stopped process, a stalled
    machine) must not block the other nodes for ever: the server ends the transaction once
    it has sat idle long enough, its row lock goes, and the stalled handle, going on, gets
    ``Unavailable`` (a storage stall: akd tries the write again) and then works again."""
    url = pg.new_database()

    async def scenario(stalled: PgDatabase) -> tuple[float, list[str], str]:
        other = PgDatabase(url, name="akd other")
        await other.open()
        try:
            await stalled.execute(KV, ("p", "k", "before", 0))
            names = [r[0] for r in await other.fetchall("SELECT application_name FROM pg_stat_activity")]
            stuck: list[str] = []
            async with stalled.tx() as conn:  # holds the row's lock, then stalls
                await conn.execute("UPDATE kv SET value='stalled' WHERE key='k'")
                start = asyncio.get_running_loop().time()
                await other.execute("UPDATE kv SET value='other' WHERE key='k'")  # waits for the lock
                waited = asyncio.get_running_loop().time() - start
                with pytest.raises(Unavailable, match="Postgres") as caught:
                    await conn.execute("UPDATE kv SET value='late' WHERE key='k'")
                stuck.append(type(caught.value.__cause__).__name__)
                raise _Abandon
        except _Abandon:
            pass
        finally:
            await other.close()
        await stalled.execute("UPDATE kv SET value=value || '+again' WHERE key='k'")  # connects anew
        value = (await stalled.fetchone("SELECT value FROM kv WHERE key='k'"))["value"]  # type: ignore[index]
        assert stuck == ["IdleInTransactionSessionTimeout"], stuck
        assert "akd other" in names and "akd stalled" in names, names  # who is who in pg_stat_activity
        return waited, names, str(value)

    async def main() -> tuple[float, list[str], str]:
        db = PgDatabase(url, name="akd stalled", idle_in_transaction=1.0)
        await db.open()
        try:
            return await scenario(db)
        finally:
            await db.close()

    waited, _, value = asyncio.run(main())
    assert 0.9 <= waited < 30, waited  # released by the server's timeout, not by the stalled handle
    assert value == "other+again"


class _Abandon(Exception):
    """Leaves a transaction whose connection the server has already ended."""

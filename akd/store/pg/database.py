"""The database handle on Postgres (psycopg 3, async), with the SQLite handle's surface.

The stores call the same methods as on ``akd.store.db.Database``: ``tx()`` for a write
transaction, ``fetchall``/``fetchone``/``fetch_page``/``fetchall_bulk`` for reads and
``execute`` for one write. Statements are written for SQLite and translated on the way
(``akd.store.pg.dialect``); rows read like ``sqlite3.Row`` (``akd.store.pg.rows``).

- One *writer* connection runs transactions, under an asyncio lock as on SQLite, so the
  statements of two transactions of this process never interleave on it.
- A few *reader* connections in autocommit mode run reads, each statement its own
  snapshot (no read transaction outlives the call). Postgres answers them off the loop,
  so long reads need no thread of their own here.

A lost server (stopped, restarted, network gone) fails every statement with
``Unavailable`` (503) and rolls back the transaction it was in; the next statement
connects again, so akd recovers by itself when the server is back.

A stalled akd (its machine frozen, the process stopped) must not hold row locks the
other nodes wait on: the server ends any of akd's transactions left idle for
``IDLE_IN_TRANSACTION_SECONDS``, which releases its locks. akd's own transactions never
pause between statements for anywhere near that long; if one ever does, it fails as a
lost connection does (a storage stall: the write is tried again).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Generator, Iterable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, NoReturn

import psycopg
from psycopg import AsyncConnection
from psycopg.conninfo import conninfo_to_dict

from akd.errors import Unavailable
from akd.store.pg import rows, schema
from akd.store.pg.dialect import translate
from akd.store.pg.rows import PgRow
from akd.store.stalls import Stalls, StoreUnreachable

if TYPE_CHECKING:
    from akd.store.db import RowLike, Store

log = logging.getLogger(__name__)

READERS = 4
CONNECT_TIMEOUT = 5
IDLE_IN_TRANSACTION_SECONDS = 5.0
# What a lost server or connection raises (OperationalError also covers a server that
# refuses work it could do later: shutting down, out of disk, a serialization retry; the
# server ending a transaction left idle too long is one too).
_LOST = (psycopg.OperationalError, psycopg.InterfaceError, psycopg.errors.IdleInTransactionSessionTimeout)


class PgCursor:
    """An executed statement: its rows (read at once) and its row count."""

    __slots__ = ("_next", "_rows", "rowcount")

    def __init__(self, rows: list[RowLike], rowcount: int) -> None:
        self._rows = rows
        self._next = 0
        self.rowcount = rowcount

    @property
    def lastrowid(self) -> None:
        return None  # no rowid on Postgres; no store reads it

    async def fetchone(self) -> RowLike | None:
        if self._next >= len(self._rows):
            return None
        self._next += 1
        return self._rows[self._next - 1]

    async def fetchall(self) -> list[RowLike]:
        rest, self._next = self._rows[self._next :], len(self._rows)
        return rest

    async def close(self) -> None:
        self._rows = []


class _Executed:
    """What ``PgConnection.execute`` returns: await it for the cursor, or ``async with`` it."""

    __slots__ = ("_run",)

    def __init__(self, run: Any) -> None:
        self._run = run  # the coroutine that runs the statement

    def __await__(self) -> Generator[Any, None, PgCursor]:
        result: PgCursor = yield from self._run.__await__()
        return result

    async def __aenter__(self) -> PgCursor:
        cursor: PgCursor = await self._run
        return cursor

    async def __aexit__(self, *exc: object) -> None:
        pass


class PgConnection:
    """The writer inside ``PgDatabase.tx()``, with the SQLite writer's statement methods."""

    dialect = "postgres"

    def __init__(self, raw: AsyncConnection[PgRow], where: str) -> None:
        self.raw = raw
        self._where = where

    def execute(self, sql: str, params: Iterable[Any] = ()) -> _Executed:
        return _Executed(run_statement(self.raw, sql, params, self._where))

    def executemany(self, sql: str, seq: Iterable[Iterable[Any]]) -> _Executed:
        return _Executed(self._executemany(sql, seq))

    async def _executemany(self, sql: str, seq: Iterable[Iterable[Any]]) -> PgCursor:
        try:
            async with self.raw.cursor() as cur:
                await cur.executemany(translate(sql), [tuple(p) for p in seq])
                return PgCursor([], cur.rowcount)
        except _LOST as exc:
            lost(exc, self._where)

    async def execute_fetchall(self, sql: str, params: Iterable[Any] = ()) -> list[RowLike]:
        return await (await self.execute(sql, params)).fetchall()


async def run_statement(conn: AsyncConnection[PgRow], sql: str, params: Iterable[Any], where: str) -> PgCursor:
    """One statement, its rows read at once; a lost connection raises ``Unavailable``."""
    try:
        cur = await conn.execute(translate(sql), tuple(params))
        found: list[RowLike] = list(await cur.fetchall()) if cur.description is not None else []
        return PgCursor(found, cur.rowcount)
    except _LOST as exc:
        lost(exc, where)


def lost(exc: Exception, where: str) -> NoReturn:
    raise StoreUnreachable(
        f"akd's Postgres database {where} cannot be used ({str(exc).strip() or type(exc).__name__}); nothing was "
        "accepted. akd reconnects by itself when the server is back"
    ) from exc


def _params(url: str) -> dict[str, Any] | None:
    try:
        return conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return None


def describe(url: str) -> str:
    """``host:port/dbname`` of a connection URL (never its password)."""
    info = _params(url)
    if info is None:
        return "(unparsable URL)"
    return f"{info.get('host', 'localhost')}:{info.get('port', 5432)}/{info.get('dbname', '')}"


class PgDatabase:
    def __init__(
        self,
        url: str,
        readers: int = READERS,
        *,
        name: str = "akd",
        idle_in_transaction: float = IDLE_IN_TRANSACTION_SECONDS,
    ) -> None:
        self.url = url
        self.where = describe(url)
        # Connection settings: the name pg_stat_activity shows (unless the URL gives one)
        # and how long the server lets one of akd's transactions sit idle.
        named = "application_name" in (_params(url) or {})
        self._settings: dict[str, Any] = {} if named else {"application_name": name}
        self._idle_ms = max(1, round(idle_in_transaction * 1000))
        self._writer: AsyncConnection[PgRow] | None = None
        self._readers: asyncio.Queue[AsyncConnection[PgRow] | None] = asyncio.Queue()
        self._reader_count = readers
        self._lock = asyncio.Lock()
        self._open = False
        # Sessions whose writes wait for storage right now (see akd.store.stalls).
        self.stalls = Stalls()

    async def _connect(self) -> AsyncConnection[PgRow]:
        try:
            conn = await AsyncConnection.connect(
                self.url,
                autocommit=True,
                row_factory=rows.ROW_FACTORY,
                connect_timeout=CONNECT_TIMEOUT,
                **self._settings,
            )
            await conn.execute(f"SET idle_in_transaction_session_timeout = {self._idle_ms}")
        except _LOST as exc:
            lost(exc, self.where)
        rows.configure(conn)
        return conn

    async def open(self) -> None:
        """Connect and apply pending migrations before anything else."""
        writer = await self._connect()
        try:
            applied = await schema.apply_migrations(writer)
        except _LOST as exc:
            await writer.close()
            lost(exc, self.where)
        if applied:
            log.info("applied migrations to %s: %s", self.where, ", ".join(applied))
        self._writer = writer
        for _ in range(self._reader_count):
            self._readers.put_nowait(None)  # connected on first use
        self._open = True

    async def close(self) -> None:
        self._open = False
        async with self._lock:
            if self._writer is not None:
                await self._writer.close()
                self._writer = None
        while not self._readers.empty():
            conn = self._readers.get_nowait()
            if conn is not None:
                await conn.close()

    async def _usable(self, conn: AsyncConnection[PgRow] | None) -> AsyncConnection[PgRow]:
        """``conn`` if it still works, else a new connection (the old one is closed)."""
        if not self._open:
            raise Unavailable("the database is closed")
        if conn is not None and not conn.closed and not conn.broken:
            return conn
        if conn is not None:
            await conn.close()
        return await self._connect()

    @asynccontextmanager
    async def tx(self) -> AsyncIterator[PgConnection]:
        """A write transaction (BEGIN ... COMMIT, ROLLBACK on error)."""
        async with self._lock:
            self._writer = conn = await self._usable(self._writer)
            await run_statement(conn, "BEGIN", (), self.where)
            try:
                yield PgConnection(conn, self.where)
            except BaseException:
                await self._rollback(conn)
                raise
            await run_statement(conn, "COMMIT", (), self.where)

    async def _rollback(self, conn: AsyncConnection[PgRow]) -> None:
        try:
            await conn.execute("ROLLBACK")
        except psycopg.Error:
            # The connection is gone or in an unknown state: the server rolls back what it
            # holds when the connection ends; the next transaction connects anew.
            await conn.close()

    async def execute(self, sql: str, params: Iterable[Any] = ()) -> int:
        """One write statement in its own transaction; returns the row count."""
        async with self.tx() as conn:
            return (await conn.execute(sql, params)).rowcount

    async def fetchall(self, sql: str, params: Iterable[Any] = ()) -> list[RowLike]:
        """A read on one of the reader connections."""
        if not self._open:
            raise Unavailable("the database is closed")
        conn = await self._readers.get()
        try:
            conn = await self._usable(conn)
            return await (await run_statement(conn, sql, params, self.where)).fetchall()
        except asyncio.CancelledError:
            # Cancelled mid-statement, the connection may still owe a result: use a new one.
            if conn is not None:
                await conn.close()
            raise
        finally:
            await self._give_back(conn)

    async def _give_back(self, conn: AsyncConnection[PgRow] | None) -> None:
        if not self._open and conn is not None:
            await conn.close()  # the database was closed while this read ran
            conn = None
        self._readers.put_nowait(conn)

    async def fetchone(self, sql: str, params: Iterable[Any] = ()) -> RowLike | None:
        found = await self.fetchall(sql, params)
        return found[0] if found else None

    async def fetch_page(self, sql: str, params: Iterable[Any], limit: int) -> list[RowLike]:
        """A page of at most ``limit`` rows (any length: Postgres reads it off the loop)."""
        return await self.fetchall(sql, params)

    async def fetchall_bulk(self, sql: str, params: Iterable[Any] = ()) -> list[RowLike]:
        """A read that may touch many rows: the same as ``fetchall`` here."""
        return await self.fetchall(sql, params)


if TYPE_CHECKING:
    _BACKEND: type[Store] = PgDatabase  # mypy checks that it offers the stores' whole surface

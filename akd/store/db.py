"""The database handle: one serialised writer, one reader, WAL mode.

Writes go through ``Database.tx()``, which holds an asyncio lock for the whole
transaction, so concurrent coroutines never interleave statements of two transactions
on the one writer connection.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiosqlite

from akd.errors import Unavailable
from akd.store.migrations import apply_migrations

log = logging.getLogger(__name__)

Row = sqlite3.Row

_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    # NORMAL in WAL mode survives a process crash (kill -9); only power loss can lose
    # the last transactions, and it never corrupts the file.
    "PRAGMA synchronous=NORMAL",
    "PRAGMA busy_timeout=10000",
    "PRAGMA foreign_keys=ON",
)


class Database:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._writer: aiosqlite.Connection | None = None
        self._reader: aiosqlite.Connection | None = None
        self._lock = asyncio.Lock()

    async def open(self) -> None:
        """Open both connections and apply pending migrations before anything else."""
        try:
            self._writer = await self._connect()
            await apply_migrations(self._writer)
            self._reader = await self._connect()
        except sqlite3.OperationalError as exc:
            raise Unavailable(f"cannot open the database {self.path}: {exc}") from exc

    async def _connect(self) -> aiosqlite.Connection:
        conn = await aiosqlite.connect(self.path, isolation_level=None)
        conn.row_factory = sqlite3.Row
        for pragma in _PRAGMAS:
            await conn.execute(pragma)
        return conn

    async def close(self) -> None:
        for conn in (self._reader, self._writer):
            if conn is not None:
                await conn.close()
        self._reader = self._writer = None

    @asynccontextmanager
    async def tx(self) -> AsyncIterator[aiosqlite.Connection]:
        """A write transaction (BEGIN IMMEDIATE ... COMMIT, ROLLBACK on error)."""
        conn = self._writer
        if conn is None:
            raise Unavailable("the database is closed")
        async with self._lock:
            try:
                await conn.execute("BEGIN IMMEDIATE")
                yield conn
            except BaseException:
                # Also after a cancellation that hit BEGIN itself: aiosqlite runs statements in
                # order on its thread, so this ROLLBACK follows whatever did start.
                await asyncio.shield(self._rollback(conn))
                raise
            await asyncio.shield(conn.execute("COMMIT"))

    @staticmethod
    async def _rollback(conn: aiosqlite.Connection) -> None:
        try:
            await conn.execute("ROLLBACK")
        except sqlite3.OperationalError:
            pass  # no transaction was open

    async def execute(self, sql: str, params: Iterable[Any] = ()) -> int:
        """One write statement in its own transaction; returns the row count."""
        async with self.tx() as conn:
            cur = await conn.execute(sql, tuple(params))
            return cur.rowcount

    async def fetchall(self, sql: str, params: Iterable[Any] = ()) -> list[Row]:
        conn = self._reader
        if conn is None:
            raise Unavailable("the database is closed")
        async with conn.execute(sql, tuple(params)) as cur:
            return list(await cur.fetchall())

    async def fetchone(self, sql: str, params: Iterable[Any] = ()) -> Row | None:
        conn = self._reader
        if conn is None:
            raise Unavailable("the database is closed")
        async with conn.execute(sql, tuple(params)) as cur:
            row: Row | None = await cur.fetchone()
            return row

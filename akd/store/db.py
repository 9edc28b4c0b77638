"""The database handle: SQLite in WAL mode, used directly from the event loop.

Statements run synchronously on the loop thread. A point query or a small write
transaction takes a few microseconds there, where a hop to a worker thread and back
(what aiosqlite does per statement) costs ~130 us of CPU and a GIL hand-over each time;
a session makes about twenty of them. Three connections:

- the *writer*, for transactions (``tx()``), which hold an asyncio lock so coroutines
  never interleave statements of two transactions;
- the *reader*, for ``fetchall``/``fetchone``: every statement is stepped to its end at
  once, so no read transaction (and no stale snapshot) outlives the call;
- a *bulk* connection on its own thread, for reads that may touch many rows
  (``fetchall_bulk``: prints, logs, statistics), so they never stall the loop.

WAL checkpoints (the only step that writes the main file and syncs) run on a background
thread instead of inside whichever commit crosses the threshold.

The connection object handed out by ``tx()`` keeps the small async surface the stores
use (``await conn.execute(...)``, ``async with conn.execute(...) as cur``,
``await cur.fetchone()``), so transaction code reads the same as before.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
from collections.abc import AsyncIterator, Generator, Iterable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from akd.errors import Unavailable
from akd.store.migrations import apply_migrations
from akd.store.stalls import Stalls

log = logging.getLogger(__name__)

Row = sqlite3.Row

_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    # NORMAL in WAL mode survives a process crash (kill -9); only power loss can lose
    # the last transactions, and it never corrupts the file.
    "PRAGMA synchronous=NORMAL",
    "PRAGMA busy_timeout=10000",
    "PRAGMA foreign_keys=ON",
    # After a checkpoint the WAL file is cut back to this size (bounded data dir).
    "PRAGMA journal_size_limit=67108864",
)
# Pages up to this many rows are read on the loop; longer ones on the bulk thread.
SMALL_PAGE = 200
# The checkpointer looks every CHECKPOINT_INTERVAL seconds and checkpoints once the WAL
# has grown past CHECKPOINT_BYTES (SQLite's own default is ~4 MB).
CHECKPOINT_BYTES = 4 * 1024 * 1024
CHECKPOINT_INTERVAL = 0.5
# The loop must never sleep inside SQLite: the writer gets SQLITE_BUSY at once (another
# process holding the write lock, e.g. a tool) and waits for it here, asynchronously.
WRITE_LOCK_TIMEOUT = 10.0


class Cursor:
    """An executed statement, with aiosqlite's awaitable accessors."""

    __slots__ = ("_cur",)

    def __init__(self, cur: sqlite3.Cursor) -> None:
        self._cur = cur

    @property
    def rowcount(self) -> int:
        return self._cur.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cur.lastrowid

    async def fetchone(self) -> Row | None:
        row: Row | None = self._cur.fetchone()
        return row

    async def fetchall(self) -> list[Row]:
        return self._cur.fetchall()

    async def close(self) -> None:
        self._cur.close()


class _Executed:
    """What ``Connection.execute`` returns: await it for the cursor, or ``async with`` it."""

    __slots__ = ("_cursor",)

    def __init__(self, cur: sqlite3.Cursor) -> None:
        self._cursor = Cursor(cur)

    def __await__(self) -> Generator[Any, None, Cursor]:
        if False:  # pragma: no cover - makes this a generator; nothing is awaited
            yield
        return self._cursor

    async def __aenter__(self) -> Cursor:
        return self._cursor

    async def __aexit__(self, *exc: object) -> None:
        await self._cursor.close()


class Connection:
    """The writer inside ``Database.tx()``: statements run at once, on the loop thread."""

    def __init__(self, raw: sqlite3.Connection) -> None:
        self.raw = raw

    def execute(self, sql: str, params: Iterable[Any] = ()) -> _Executed:
        return _Executed(self.raw.execute(sql, tuple(params)))

    def executemany(self, sql: str, seq: Iterable[Iterable[Any]]) -> _Executed:
        return _Executed(self.raw.executemany(sql, (tuple(p) for p in seq)))

    async def execute_fetchall(self, sql: str, params: Iterable[Any] = ()) -> list[Row]:
        return self.raw.execute(sql, tuple(params)).fetchall()

    async def executescript(self, script: str) -> None:
        self.raw.executescript(script)

    async def commit(self) -> None:
        self.raw.commit()


def _connect(path: Path) -> sqlite3.Connection:
    # check_same_thread=False: opened on one thread, used on another (the bulk thread,
    # the checkpointer); each connection is still only used by one thread at a time.
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    for pragma in _PRAGMAS:
        conn.execute(pragma)
    return conn


class Database:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._writer: Connection | None = None
        self._reader: sqlite3.Connection | None = None
        self._bulk: sqlite3.Connection | None = None
        self._bulk_pool: ThreadPoolExecutor | None = None
        self._lock = asyncio.Lock()
        self._stop = threading.Event()
        self._checkpointer: threading.Thread | None = None
        # Sessions whose writes wait for storage right now (see akd.store.stalls).
        self.stalls = Stalls()

    async def open(self) -> None:
        """Open the connections and apply pending migrations before anything else."""
        try:
            writer = _connect(self.path)
            self._writer = Connection(writer)
            await apply_migrations(self._writer)
            writer.execute("PRAGMA wal_autocheckpoint=0")  # the checkpointer thread does it
            writer.execute("PRAGMA busy_timeout=0")  # see WRITE_LOCK_TIMEOUT
            self._reader = _connect(self.path)
            # WAL readers wait only in rare recovery moments; never long on the loop.
            self._reader.execute("PRAGMA busy_timeout=200")
            self._bulk = _connect(self.path)
        except sqlite3.OperationalError as exc:
            await self.close()
            raise Unavailable(f"cannot open the database {self.path}: {exc}") from exc
        self._bulk_pool = ThreadPoolExecutor(1, thread_name_prefix="akd-db-bulk")
        self._stop.clear()
        self._checkpointer = threading.Thread(target=self._checkpoint_loop, name="akd-db-checkpoint", daemon=True)
        self._checkpointer.start()

    def _checkpoint_loop(self) -> None:
        wal = Path(f"{self.path}-wal")
        try:
            conn = _connect(self.path)
        except sqlite3.Error as exc:
            log.warning("the WAL checkpointer cannot open the database: %s", exc)
            return
        try:
            while not self._stop.wait(CHECKPOINT_INTERVAL):
                try:
                    if wal.exists() and wal.stat().st_size >= CHECKPOINT_BYTES:
                        conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                except (sqlite3.Error, OSError) as exc:
                    log.warning("WAL checkpoint failed (will retry): %s", exc)
            try:
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
            except sqlite3.Error:
                pass  # busy at shutdown; the next open recovers the WAL
        finally:
            conn.close()

    async def close(self) -> None:
        self._stop.set()
        if self._checkpointer is not None:
            await asyncio.to_thread(self._checkpointer.join, 10)
            self._checkpointer = None
        if self._bulk_pool is not None:
            self._bulk_pool.shutdown(wait=True)
            self._bulk_pool = None
        for conn in (self._bulk, self._reader, self._writer.raw if self._writer else None):
            if conn is not None:
                conn.close()
        self._bulk = self._reader = None
        self._writer = None

    @asynccontextmanager
    async def tx(self) -> AsyncIterator[Connection]:
        """A write transaction (BEGIN IMMEDIATE ... COMMIT, ROLLBACK on error)."""
        async with self._lock:
            conn = self._writer
            if conn is None:
                raise Unavailable("the database is closed")
            await _begin(conn.raw)
            try:
                yield conn
            except BaseException:
                _rollback(conn.raw)
                raise
            try:
                conn.raw.execute("COMMIT")
            except BaseException:
                _rollback(conn.raw)
                raise

    async def execute(self, sql: str, params: Iterable[Any] = ()) -> int:
        """One write statement in its own transaction; returns the row count."""
        async with self.tx() as conn:
            return conn.raw.execute(sql, tuple(params)).rowcount

    async def fetchall(self, sql: str, params: Iterable[Any] = ()) -> list[Row]:
        """A read that touches few rows (point lookups, short pages), run at once."""
        conn = self._reader
        if conn is None:
            raise Unavailable("the database is closed")
        return conn.execute(sql, tuple(params)).fetchall()

    async def fetchone(self, sql: str, params: Iterable[Any] = ()) -> Row | None:
        rows = await self.fetchall(sql, params)
        return rows[0] if rows else None

    async def fetch_page(self, sql: str, params: Iterable[Any], limit: int) -> list[Row]:
        """A page of at most ``limit`` rows: short ones (a live tail) at once, long ones in bulk."""
        return await (self.fetchall if limit <= SMALL_PAGE else self.fetchall_bulk)(sql, params)

    async def fetchall_bulk(self, sql: str, params: Iterable[Any] = ()) -> list[Row]:
        """A read that may touch many rows, on the bulk thread so the loop stays free."""
        conn, pool = self._bulk, self._bulk_pool
        if conn is None or pool is None:
            raise Unavailable("the database is closed")
        args = tuple(params)
        return await asyncio.get_running_loop().run_in_executor(pool, lambda: conn.execute(sql, args).fetchall())


async def _begin(conn: sqlite3.Connection) -> None:
    """BEGIN IMMEDIATE, waiting (without blocking the loop) while another process writes."""
    deadline = asyncio.get_running_loop().time() + WRITE_LOCK_TIMEOUT
    delay = 0.001
    while True:
        try:
            conn.execute("BEGIN IMMEDIATE")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
            if asyncio.get_running_loop().time() + delay > deadline:
                raise
        await asyncio.sleep(delay)
        delay = min(delay * 2, 0.05)


def _rollback(conn: sqlite3.Connection) -> None:
    try:
        conn.execute("ROLLBACK")
    except sqlite3.OperationalError:
        pass  # no transaction was open (BEGIN itself failed)

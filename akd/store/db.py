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

The files are watched: a database deleted or replaced under the running daemon goes on
working through the open descriptors, so akd would acknowledge events into a file no
one will open again (after ``rm akd.db``, 5 webhooks got 202 and a restart found no
projects). Every transaction checks the file's device and inode against the ones opened
just before it commits (a stat, ~2 us), the checkpointer checks the database and its WAL
on its cadence, and while one is gone every write fails with ``Unavailable`` (503)
naming the file.

The connection object handed out by ``tx()`` keeps the small async surface the stores
use (``await conn.execute(...)``, ``async with conn.execute(...) as cur``,
``await cur.fetchone()``), so transaction code reads the same as before.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
import threading
from collections.abc import AsyncIterator, Generator, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, overload

from akd.errors import InvalidArgument, Unavailable
from akd.store.migrations import apply_migrations
from akd.store.stalls import Stalls

if TYPE_CHECKING:
    from akd.store.pg.database import PgDatabase

log = logging.getLogger(__name__)

SqliteRow = sqlite3.Row

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
    """What ``SqliteConnection.execute`` returns: await it for the cursor, or ``async with`` it."""

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


class SqliteConnection:
    """The writer inside ``SqliteDatabase.tx()``: statements run at once, on the loop thread."""

    dialect = "sqlite"

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


def file_identity(path: Path) -> tuple[int, int] | None:
    """(device, inode) of ``path``; None when it does not exist."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return st.st_dev, st.st_ino


class SqliteDatabase:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.wal_path = Path(f"{path}-wal")
        # (device, inode) of the database and its WAL as opened.
        self._identities: dict[Path, tuple[int, int] | None] = {}
        # What became of one of them ("" while both are the files opened).
        self._lost = ""
        self._writer: SqliteConnection | None = None
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
            self._writer = SqliteConnection(writer)
            await apply_migrations(self._writer)
            writer.execute("PRAGMA wal_autocheckpoint=0")  # the checkpointer thread does it
            writer.execute("PRAGMA busy_timeout=0")  # see WRITE_LOCK_TIMEOUT
            self._reader = _connect(self.path)
            # WAL readers wait only in rare recovery moments; never long on the loop.
            self._reader.execute("PRAGMA busy_timeout=200")
            self._bulk = _connect(self.path)
            self._identities = {p: file_identity(p) for p in (self.path, self.wal_path)}
            self._lost = ""
            checkpoint_conn = _connect(self.path)
        except sqlite3.OperationalError as exc:
            await self.close()
            raise Unavailable(f"cannot open the database {self.path}: {exc}") from exc
        self._bulk_pool = ThreadPoolExecutor(1, thread_name_prefix="akd-db-bulk")
        self._stop.clear()
        self._checkpointer = threading.Thread(
            target=self._checkpoint_loop, args=(checkpoint_conn,), name="akd-db-checkpoint", daemon=True
        )
        self._checkpointer.start()

    def _checkpoint_loop(self, conn: sqlite3.Connection) -> None:
        wal = self.wal_path
        try:
            while not self._stop.wait(CHECKPOINT_INTERVAL):
                if self._changed(self.path, self.wal_path):
                    continue  # nothing to checkpoint into; writes fail until the file is back
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

    def _changed(self, *paths: Path) -> str:
        """What became of the first of ``paths`` that is not the file opened ("" if none).

        The first change is logged; a file put back (the same inode again) is too.
        """
        for path in paths:
            opened, now = self._identities.get(path), file_identity(path)
            if opened is None or now == opened:
                continue
            what = "deleted" if now is None else f"replaced by another file (inode {now[1]}, was {opened[1]})"
            if not self._lost:
                log.error(
                    "the database file %s was %s under the running akd: every write (events, sessions) now "
                    "fails with 503; stop akd and put the file back (or restore it from a backup)", path, what,
                )  # fmt: skip
            self._lost = f"{path} was {what}"
            return self._lost
        if self._lost and self.wal_path in paths:  # only a look at both files clears it
            log.warning("the database file is back as opened (it had been: %s): writes are accepted again", self._lost)
            self._lost = ""
        return ""

    def _check_files(self) -> None:
        """Raise ``Unavailable`` while a file is gone: the database itself (one stat) and,
        once something was lost, the WAL too (only a check of both may clear the state)."""
        paths = (self.path, self.wal_path) if self._lost else (self.path,)
        if lost := self._changed(*paths):
            raise Unavailable(
                f"akd's database file {lost} while akd was running; nothing was accepted. Stop akd, put the "
                "file back (or restore it from a backup) and start akd again"
            )

    @asynccontextmanager
    async def tx(self) -> AsyncIterator[SqliteConnection]:
        """A write transaction (BEGIN IMMEDIATE ... COMMIT, ROLLBACK on error).

        Refused while the database file is gone; a transaction whose file was deleted or
        replaced meanwhile is rolled back and raises ``Unavailable`` (not acknowledged).
        """
        async with self._lock:
            conn = self._writer
            if conn is None:
                raise Unavailable("the database is closed")
            if self._lost:
                self._check_files()
            await _begin(conn.raw)
            try:
                yield conn
                self._check_files()
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


# The surface every backend offers the stores (SQLite here, Postgres in akd.store.pg).
class RowLike(Protocol):
    """A result row as ``sqlite3.Row``: by index, column name or slice; its column names;
    its values in order."""

    @overload
    def __getitem__(self, key: int | str, /) -> Any: ...

    @overload
    def __getitem__(self, key: slice, /) -> tuple[Any, ...]: ...

    def keys(self) -> list[str]: ...

    def __iter__(self) -> Iterator[Any]: ...

    def __len__(self) -> int: ...


class CursorLike(Protocol):
    @property
    def rowcount(self) -> int: ...

    async def fetchone(self) -> RowLike | None: ...

    async def fetchall(self) -> list[RowLike]: ...


class ExecutedLike(Protocol):
    """An executed statement: awaited for its cursor, or used as ``async with``."""

    def __await__(self) -> Generator[Any, None, CursorLike]: ...

    async def __aenter__(self) -> CursorLike: ...

    async def __aexit__(self, *exc: object) -> None: ...


class TxLike(Protocol):
    """The connection inside ``tx()``."""

    dialect: str  # "sqlite" or "postgres", for the few statements that differ in meaning

    def execute(self, sql: str, params: Iterable[Any] = ()) -> ExecutedLike: ...

    def executemany(self, sql: str, seq: Iterable[Iterable[Any]]) -> ExecutedLike: ...

    async def execute_fetchall(self, sql: str, params: Iterable[Any] = ()) -> list[RowLike]: ...


class Store(Protocol):
    """A database handle, whichever backend: what ``open_database`` returns."""

    stalls: Stalls

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    def tx(self) -> AbstractAsyncContextManager[TxLike]: ...

    async def execute(self, sql: str, params: Iterable[Any] = ()) -> int: ...

    async def fetchall(self, sql: str, params: Iterable[Any] = ()) -> list[RowLike]: ...

    async def fetchone(self, sql: str, params: Iterable[Any] = ()) -> RowLike | None: ...

    async def fetch_page(self, sql: str, params: Iterable[Any], limit: int) -> list[RowLike]: ...

    async def fetchall_bulk(self, sql: str, params: Iterable[Any] = ()) -> list[RowLike]: ...


POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def open_database(url: str, sqlite_path: Path, name: str = "akd") -> SqliteDatabase | PgDatabase:
    """The backend ``[store] url`` names: empty = SQLite at ``sqlite_path``, else Postgres
    (its connections named ``name`` on the server).

    Not opened yet (call ``open()``). psycopg is imported only for Postgres.
    """
    if not url:
        return SqliteDatabase(sqlite_path)
    if not url.startswith(POSTGRES_SCHEMES):
        raise InvalidArgument(f"[store] url: not a Postgres URL: {url.split(':', 1)[0]}://...")
    from akd.store.pg.database import PgDatabase

    return PgDatabase(url, name=name)


# What the stores, and everything above them, are typed with: either backend.
Row = RowLike
Database = Store
Connection = TxLike

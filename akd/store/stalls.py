"""Writes that wait for storage: which sessions are held because the disk refused a write.

Kept in memory on purpose: the database that would record the stall is the thing that
cannot be written. A session listed here is alive; its runner holds the outcome of its
last step until the write lands (so the step never runs twice while akd stays up).
"""

from __future__ import annotations

import errno
import sqlite3
import time
from dataclasses import dataclass

from akd.errors import Unavailable

# SQLite's words for a write the storage refused (SQLITE_FULL, SQLITE_IOERR, SQLITE_READONLY).
_SQLITE_STORAGE = ("database or disk is full", "disk i/o error", "readonly database", "read-only")
_OS_STORAGE = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EIO}


class StoreUnreachable(Unavailable):
    """The store's server cannot be reached (Postgres stopped, restarting, network gone)."""


def is_storage_error(exc: BaseException) -> bool:
    """Whether ``exc`` says the storage (not the query) refused the write; worth retrying
    later: a full or read-only disk under SQLite, an unreachable Postgres."""
    if isinstance(exc, StoreUnreachable):
        return True
    if isinstance(exc, sqlite3.OperationalError):
        text = str(exc).lower()
        return any(words in text for words in _SQLITE_STORAGE)
    return isinstance(exc, OSError) and exc.errno in _OS_STORAGE


@dataclass(frozen=True)
class Stall:
    session_id: str
    what: str  # what waits to be stored: "step 3", "prints", "the session's end", ...
    reason: str  # the storage error as the OS or SQLite gave it
    since: float


class Stalls:
    """The sessions held for storage right now, by session id."""

    def __init__(self) -> None:
        self._by_session: dict[str, Stall] = {}

    def mark(self, session_id: str, what: str, reason: str) -> None:
        self._by_session[session_id] = Stall(session_id, what, reason, time.time())

    def clear(self, session_id: str) -> None:
        self._by_session.pop(session_id, None)

    def get(self, session_id: str) -> Stall | None:
        return self._by_session.get(session_id)

    def __len__(self) -> int:
        return len(self._by_session)

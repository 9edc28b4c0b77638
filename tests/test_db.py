"""The database handle: statements on the loop, but the loop never waits inside SQLite."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from pathlib import Path

from akd.store.db import SqliteDatabase


def test_a_foreign_write_lock_does_not_stall_the_loop(tmp_path: Path) -> None:
    async def scenario() -> tuple[int, float]:
        db = SqliteDatabase(tmp_path / "akd.db")
        await db.open()
        try:
            other = sqlite3.connect(tmp_path / "akd.db", isolation_level=None, check_same_thread=False)
            other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
            ticks = 0

            async def ticker() -> None:
                nonlocal ticks
                while True:
                    await asyncio.sleep(0.01)
                    ticks += 1

            tick_task = asyncio.create_task(ticker())
            threading.Timer(0.5, lambda: other.execute("COMMIT")).start()
            t0 = time.monotonic()
            await db.execute("INSERT INTO kv (project_id, key, value, updated_at) VALUES ('p', 'k', '1', 0)")
            waited = time.monotonic() - t0
            tick_task.cancel()
            other.close()
            row = await db.fetchone("SELECT COUNT(*) AS n FROM kv")
            assert row is not None and row["n"] == 1
            return ticks, waited
        finally:
            await db.close()

    ticks, waited = asyncio.run(scenario())
    assert waited >= 0.4  # the insert really waited for the foreign lock...
    assert ticks >= 10  # ...while the loop kept running other coroutines


def test_reads_see_every_commit_even_with_reads_interleaved(tmp_path: Path) -> None:
    async def scenario() -> list[int]:
        db = SqliteDatabase(tmp_path / "akd.db")
        await db.open()
        seen: list[int] = []
        try:
            for i in range(50):
                reader = asyncio.create_task(db.fetchall("SELECT key FROM kv"))
                await db.execute(
                    "INSERT INTO kv (project_id, key, value, updated_at) VALUES ('p', ?, '1', 0)", (f"k{i}",)
                )
                await reader
                row = await db.fetchone("SELECT COUNT(*) AS n FROM kv")
                assert row is not None
                seen.append(row["n"])
        finally:
            await db.close()
        return seen

    assert asyncio.run(scenario()) == list(range(1, 51))


def test_bulk_reads_run_off_the_loop_and_agree_with_the_reader(tmp_path: Path) -> None:
    async def scenario() -> tuple[int, int]:
        db = SqliteDatabase(tmp_path / "akd.db")
        await db.open()
        try:
            async with db.tx() as conn:
                await conn.executemany(
                    "INSERT INTO kv (project_id, key, value, updated_at) VALUES ('p', ?, '1', 0)",
                    [(f"k{i}",) for i in range(5000)],
                )
            bulk = await db.fetchall_bulk("SELECT key FROM kv")
            small = await db.fetchall("SELECT key FROM kv")
            return len(bulk), len(small)
        finally:
            await db.close()

    assert asyncio.run(scenario()) == (5000, 5000)

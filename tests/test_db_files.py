"""The database file deleted or replaced under an open Database: writes fail, never vanish.

Real SQLite files in a temp dir; the daemon-level behaviour (503 to webhooks, the refusal
to start over with an empty database) is in tests/e2e/test_store_safety.py.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path

import pytest

from akd.daemon import refuse_new_database
from akd.errors import FailedPrecondition, Unavailable
from akd.store.db import SqliteDatabase

INSERT = "INSERT INTO kv (project_id, key, value, updated_at) VALUES ('p', ?, '1', 0)"


def test_a_deleted_database_refuses_writes_naming_the_file(tmp_path: Path) -> None:
    async def scenario() -> None:
        db = SqliteDatabase(tmp_path / "akd.db")
        await db.open()
        try:
            await db.execute(INSERT, ("before",))
            (tmp_path / "akd.db").unlink()
            for key in ("after1", "after2"):
                with pytest.raises(Unavailable) as info:
                    await db.execute(INSERT, (key,))
                assert str(tmp_path / "akd.db") in info.value.message and "deleted" in info.value.message
        finally:
            await db.close()

    asyncio.run(scenario())


def test_a_replaced_database_refuses_writes_until_the_file_is_back(tmp_path: Path) -> None:
    path = tmp_path / "akd.db"

    async def scenario() -> None:
        db = SqliteDatabase(path)
        await db.open()
        try:
            await db.execute(INSERT, ("before",))
            os.link(path, tmp_path / "original.db")
            shutil.copyfile(path, tmp_path / "copy.db")
            os.replace(tmp_path / "copy.db", path)  # same name, another file
            with pytest.raises(Unavailable) as info:
                await db.execute(INSERT, ("during",))
            assert "replaced by another file" in info.value.message
            os.replace(tmp_path / "original.db", path)  # the opened file is back
            await db.execute(INSERT, ("after",))
            rows = await db.fetchall("SELECT key FROM kv ORDER BY key")
            assert [r["key"] for r in rows] == ["after", "before"]
        finally:
            await db.close()

    asyncio.run(scenario())


def test_the_checkpointer_notices_a_deleted_wal(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    async def scenario() -> None:
        db = SqliteDatabase(tmp_path / "akd.db")
        await db.open()
        try:
            await db.execute(INSERT, ("before",))
            (tmp_path / "akd.db-wal").unlink()  # only the WAL: a commit does not look at it
            deadline = asyncio.get_running_loop().time() + 10
            while "akd.db-wal was deleted under the running akd" not in caplog.text:
                assert asyncio.get_running_loop().time() < deadline, "the deleted WAL went unnoticed"
                await asyncio.sleep(0.05)
            with pytest.raises(Unavailable) as info:
                await db.execute(INSERT, ("after",))
            assert "akd.db-wal was deleted" in info.value.message
        finally:
            await db.close()

    asyncio.run(scenario())


def test_no_silent_new_database_next_to_an_earlier_runs_files(tmp_path: Path) -> None:
    refuse_new_database(tmp_path)  # a fresh data dir
    (tmp_path / "builds").mkdir()
    (tmp_path / "temporal.db").write_bytes(b"")
    with pytest.raises(FailedPrecondition) as info:
        refuse_new_database(tmp_path)
    message = info.value.message
    assert str(tmp_path / "akd.db") in message and "temporal.db and builds" in message
    assert "--allow-new-database" in message
    (tmp_path / "akd.db").write_bytes(b"")
    refuse_new_database(tmp_path)  # the database is there

"""Builds travel through the store (akd.engine.builds, akd.build.pack): an akd without a
build's directory makes it from the store's copy; older builds get their copy at start."""

from __future__ import annotations

import asyncio
import io
import tarfile
from pathlib import Path

import pytest

from akd.build import pack, read_snapshot, unpack
from akd.engine.builds import LocalBuilds, store_missing_files
from akd.errors import BuildError
from akd.store import builds as builds_store
from akd.store import projects as projects_store
from akd.store.builds import NewBuild
from akd.store.db import Database, SqliteDatabase

FILES = {"autokitteh.yaml": b"version: v1\nproject:\n  name: p\n", "program.py": b"def run(e):\n    pass\n",
         "lib/util.py": b"X = 1\n"}  # fmt: skip


def test_pack_is_deterministic_and_unpack_is_its_inverse() -> None:
    assert pack(FILES) == pack(dict(reversed(FILES.items())))
    assert unpack(pack(FILES)) == FILES


def test_unpack_refuses_paths_outside_the_build() -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        info = tarfile.TarInfo("../escape.py")
        info.size = 1
        tar.addfile(info, io.BytesIO(b"x"))
    with pytest.raises(BuildError, match="not a file inside the build"):
        unpack(buf.getvalue())


async def _db_with_build(tmp_path: Path, digest: str) -> Database:
    db = SqliteDatabase(tmp_path / "akd.db")
    await db.open()
    async with db.tx() as conn:
        await projects_store.upsert_project(conn, "prj_1", "p", "", "")
        manifest = FILES["autokitteh.yaml"].decode()
        await builds_store.insert_build(conn, NewBuild("bld_1", "prj_1", digest, 10, manifest, None))
    return db


def test_an_akd_without_the_directory_makes_it_from_the_store(tmp_path: Path) -> None:
    async def scenario() -> None:
        db = await _db_with_build(tmp_path, "d1")
        try:
            async with db.tx() as conn:
                await builds_store.save_files(conn, "d1", pack(FILES))
            build = await projects_store.get_build(db, "bld_1")
            assert build is not None
            await LocalBuilds(db, tmp_path).ensure(build)
            assert read_snapshot(tmp_path / "builds" / "d1", "d1").files == FILES
        finally:
            await db.close()

    asyncio.run(scenario())


def test_a_build_neither_here_nor_in_the_store_says_so(tmp_path: Path) -> None:
    async def scenario() -> None:
        db = await _db_with_build(tmp_path, "d2")
        try:
            build = await projects_store.get_build(db, "bld_1")
            assert build is not None
            with pytest.raises(BuildError, match=r"neither in .* nor in the store"):
                await LocalBuilds(db, tmp_path).ensure(build)
        finally:
            await db.close()

    asyncio.run(scenario())


def test_earlier_builds_get_their_copy_in_the_store(tmp_path: Path) -> None:
    async def scenario() -> None:
        db = await _db_with_build(tmp_path, "d3")
        try:
            root = tmp_path / "builds" / "d3"
            for rel, content in FILES.items():
                (root / rel).parent.mkdir(parents=True, exist_ok=True)
                (root / rel).write_bytes(content)
            assert await store_missing_files(db, tmp_path) == 1
            archive = await builds_store.files_of(db, "d3")
            assert archive is not None and unpack(archive) == FILES
            assert await store_missing_files(db, tmp_path) == 0
        finally:
            await db.close()

    asyncio.run(scenario())

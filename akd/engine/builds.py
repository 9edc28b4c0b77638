"""A build's files and environments on this akd, made from the store when missing.

A deploy writes the snapshot under ``<data_dir>/builds/<digest>``, installs its
environments there, and keeps a copy of the files in the store (``build_files``). An akd
that did not take the deploy (another node on the same Postgres, or a data dir whose
``builds/`` was lost) makes the directory from that copy, and installs the project's
requirements and its vendor layer, before the build's first session runs on it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

from akd.build import Snapshot, normalized_requirements, pack, read_snapshot, unpack, write_snapshot
from akd.errors import BuildError
from akd.manifest import parse_manifest
from akd.store import builds as builds_store
from akd.store.builds import BuildRecord
from akd.store.db import Database
from akd.vendor_layers import Layer, layer_for, layer_home
from akd.venvs import ensure_venv, is_ready

log = logging.getLogger(__name__)


class LocalBuilds:
    """Which builds are ready on this akd (checked once per build and process)."""

    def __init__(self, db: Database, data_dir: Path) -> None:
        self.db = db
        self.data_dir = data_dir
        self._ready: set[str] = set()
        self._locks: dict[str, asyncio.Lock] = {}

    async def ensure(self, build: BuildRecord) -> None:
        """Make ``build``'s directory and environments here unless they are ready."""
        build_id = build.build_id
        if build_id in self._ready:
            return
        async with self._locks.setdefault(build_id, asyncio.Lock()):
            if build_id not in self._ready:
                await self._make(build)
                self._ready.add(build_id)

    async def _make(self, build: BuildRecord) -> None:
        digest, req_hash = build.digest, build.requirements
        root = self.data_dir / "builds" / digest
        if not root.is_dir():
            archive = await builds_store.files_of(self.db, digest)
            if archive is None:
                raise BuildError(f"build {build.build_id}'s files are neither in {root} nor in the store; deploy again")
            files = await asyncio.to_thread(unpack, archive)
            await asyncio.to_thread(write_snapshot, Snapshot(files, digest, build.size), root)
            log.info("build %s made from the store's copy (%d files)", build.build_id, len(files))
        layer = layer_for(parse_manifest(build.manifest))
        own_missing = bool(req_hash) and not is_ready(self.data_dir, req_hash)
        if own_missing or (layer.lines and not is_ready(layer_home(), layer.key)):
            snapshot = await asyncio.to_thread(read_snapshot, root, digest)
            await install_environments(self.data_dir, snapshot, req_hash, layer)


async def store_missing_files(db: Database, data_dir: Path) -> int:
    """Copy into the store the files of builds made before it kept them; how many."""
    stored = 0
    for digest in await builds_store.digests_without_files(db):
        root = data_dir / "builds" / digest
        if root.is_dir():
            archive = pack((await asyncio.to_thread(read_snapshot, root, digest)).files)
            async with db.tx() as conn:
                await builds_store.save_files(conn, digest, archive)
            stored += 1
    return stored


async def install_environments(
    data_dir: Path, snapshot: Snapshot, req_hash: str | None, layer: Layer
) -> tuple[bool, bool]:
    """The project's requirements and its vendor layer, side by side; whether pip ran for each.

    Either failing raises (the other install is stopped): a deploy then writes nothing; a
    layer or environment that got ready meanwhile is kept for next time.
    """
    try:
        async with asyncio.TaskGroup() as group:
            own = group.create_task(_install_requirements(data_dir, snapshot, req_hash))
            vendor = group.create_task(_install_layer(data_dir, layer))
    except ExceptionGroup as failed:
        raise failed.exceptions[0] from None
    return own.result(), vendor.result()


async def _install_requirements(data_dir: Path, snapshot: Snapshot, req_hash: str | None) -> bool:
    if not req_hash:
        return False
    lines = normalized_requirements(snapshot)
    return await ensure_venv(data_dir, req_hash, lines, data_dir / "builds" / snapshot.digest)


async def _install_layer(data_dir: Path, layer: Layer) -> bool:
    started = time.monotonic()
    try:
        installed = await ensure_venv(layer_home(), layer.key, list(layer.lines), data_dir, file="")
    except BuildError as exc:
        raise BuildError(
            f"installing {layer.describe()} failed, so nothing was deployed and the previous deployment"
            " stays active. akd installs them from the package index once per set (check that this machine"
            f" reaches it: pip config list). Lines: {' '.join(layer.lines)}\n{exc.message}"
        ) from None
    if installed:
        elapsed = time.monotonic() - started
        log.info("installed vendor layer %s: %s in %.1f s", layer.key[:12], layer.describe(), elapsed)
    return installed

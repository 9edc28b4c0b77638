"""Retention: finished sessions (with logs, journals, inboxes and their Temporal histories)
and old events are deleted in the background, in small batches so writers are never
blocked for long; log files under ``<data_dir>/logs`` are cut back when they grow past a
size (the previous part kept as ``<name>.1``); cached rewritten user code older than the
window is dropped (a runner that needs it again rewrites it). Together these keep the
data dir bounded (tests/soak/retention_soak.py shows it under a time-compressed day)."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from akd.store import events as events_store
from akd.store import outcomes as outcomes_store
from akd.store import sessions as sessions_store
from akd.store.db import Database

log = logging.getLogger(__name__)

UNREAD_OUTCOMES_SECONDS = 3600.0

# Sessions per delete transaction: writes run on the event loop, so keep each one short.
BATCH = 100


@dataclass
class Swept:
    cutoff: float
    sessions: int = 0
    events: int = 0


# Called with the ids of each batch of deleted sessions (akd drops their workflow histories),
# and with the cutoff time once per sweep (akd drops old schedule-tick workflows).
ForgetSessions = Callable[[list[str]], Awaitable[None]]
ForgetBefore = Callable[[float], Awaitable[None]]


async def sweep(db: Database, days: float, now: float | None = None, forget: ForgetSessions | None = None) -> Swept:
    """Delete what is older than ``days``; returns how much went."""
    cutoff = (now or time.time()) - days * 86400
    swept = Swept(cutoff)
    while True:
        ids = await sessions_store.ended_before(db, cutoff, BATCH)
        if not ids:
            break
        await sessions_store.delete_sessions(db, ids)
        swept.sessions += len(ids)
        if forget is not None:
            try:
                await forget(ids)
            except Exception as exc:  # histories left behind age out with Temporal's own retention
                log.warning("retention: dropping the workflow histories of %d sessions failed: %s", len(ids), exc)
        await asyncio.sleep(0)  # let webhooks and sessions in between batches
    while True:
        count = await events_store.delete_unused_before(db, cutoff, BATCH)
        swept.events += count
        if count < BATCH:
            break
    return swept


def cap_logs(logs_dir: Path, max_bytes: int) -> list[str]:
    """Cut every ``*.log`` past ``max_bytes`` back to empty, its content kept as ``.1``.

    Writers append (O_APPEND) through descriptors they keep open, so the file is copied and
    truncated in place rather than renamed; lines written between the two are lost.
    """
    cut: list[str] = []
    if max_bytes <= 0 or not logs_dir.is_dir():
        return cut
    for path in sorted(logs_dir.glob("*.log")):
        try:
            if path.stat().st_size <= max_bytes:
                continue
            shutil.copyfile(path, path.with_name(path.name + ".1"))
            os.truncate(path, 0)
            cut.append(path.name)
        except OSError as exc:
            log.warning("retention: cannot cut %s back: %s", path, exc)
    return cut


def prune_files(directory: Path, before: float) -> int:
    """Delete the files under ``directory`` last written before ``before``; how many went."""
    removed = 0
    if not directory.is_dir():
        return removed
    for path in directory.rglob("*"):
        try:
            if path.is_file() and path.stat().st_mtime < before:
                path.unlink()
                removed += 1
        except OSError as exc:
            log.warning("retention: cannot remove %s: %s", path, exc)
    return removed


async def run_forever(
    db: Database,
    days: float,
    interval: float,
    *,
    forget: ForgetSessions | None = None,
    forget_before: ForgetBefore | None = None,
    logs_dir: Path | None = None,
    log_max_bytes: int = 0,
    code_cache: Path | None = None,
) -> None:
    """The background task: a sweep at start-up, then every ``interval`` seconds."""
    while True:
        try:
            if days > 0:
                swept = await sweep(db, days, forget=forget)
                if swept.sessions or swept.events:
                    log.info("retention: deleted %d sessions and %d events older than %g days",
                             swept.sessions, swept.events, days)  # fmt: skip
                if forget_before is not None:
                    await forget_before(swept.cutoff)
                if code_cache is not None:
                    await asyncio.to_thread(prune_files, code_cache, swept.cutoff)
            # Sync-webhook outcomes stored for another akd that never read them (it gave up).
            await outcomes_store.forget_before(db, time.time() - UNREAD_OUTCOMES_SECONDS)
            if logs_dir is not None:
                for name in await asyncio.to_thread(cap_logs, logs_dir, log_max_bytes):
                    log.info("retention: %s grew past %d bytes; its content moved to %s.1", name, log_max_bytes, name)
        except Exception:
            log.exception("retention sweep failed")
        await asyncio.sleep(interval)

"""Session control: manual start, stop (graceful or forced), restart, delete."""

from __future__ import annotations

import asyncio
import json
import logging
import pickle
from typing import Any

from temporalio.service import RPCError

from akd.errors import FailedPrecondition, InvalidArgument, NotFound
from akd.ids import new_id
from akd.services.context import AppContext
from akd.store import events as events_store
from akd.store import projects as projects_store
from akd.store import sessions as store
from akd.store.sessions import LogRecord, NewSession, SessionRecord
from akd.store.states import FINAL, SessionState

log = logging.getLogger(__name__)


async def start_manual(ctx: AppContext, project: str, entrypoint: str, inputs: dict[str, Any]) -> str:
    """``akctl session start``: run ``file.py:fn`` of the project's active deployment."""
    file, _, fn = entrypoint.partition(":")
    if not file.endswith(".py") or not fn.isidentifier():
        raise InvalidArgument(f'entrypoint must look like "file.py:function", got {entrypoint!r}')
    prj = await projects_store.project_by_name(ctx.db, project)
    if prj is None:
        raise NotFound(f"project {project!r} not found")
    dep = await projects_store.active_deployment(ctx.db, prj.project_id)
    if dep is None:
        raise FailedPrecondition(f"project {project!r} has no active deployment; deploy it first")
    durable = await _entry_durable(ctx, prj.project_id, entrypoint, dep.build_id)
    return await _create(ctx, NewSession(
        session_id=new_id("ses"), project_id=prj.project_id, deployment_id=dep.deployment_id,
        build_id=dep.build_id, trigger_id="", event_id="", entrypoint=entrypoint, durable=durable,
        inputs=pickle.dumps(inputs),
    ))  # fmt: skip


async def _entry_durable(ctx: AppContext, project_id: str, entrypoint: str, build_id: str) -> bool:
    """A manual run is durable like the trigger that calls the same function, else per manifest version."""
    for trg in await projects_store.triggers_of(ctx.db, project_id):
        if trg.call == entrypoint:
            return bool(trg.is_durable)
    build = await projects_store.get_build(ctx.db, build_id)
    return build is not None and "version: v1" in build.manifest


async def _create(ctx: AppContext, new: NewSession, restart_of: str = "") -> str:
    async with ctx.db.tx() as conn:
        await store.insert_sessions(conn, [new])
        if restart_of:
            await store.set_restart_of(conn, new.session_id, restart_of)
    await ctx.engine.start_session(new.session_id)
    ctx.notifier.changed()
    return new.session_id


async def event_inputs(ctx: AppContext, row: SessionRecord) -> bytes | None:
    """What a new run of ``row`` gets: the event it started from (kept whole), or its inputs."""
    if row.event_id:
        ev = await events_store.get_event(ctx.db, row.event_id)
        if ev is not None:
            return pickle.dumps({"__akd_event__": events_store.payload(ev)})
    return row.inputs


async def restart(ctx: AppContext, row: SessionRecord) -> str:
    """A new session with the same entry point and inputs, on the active deployment's code."""
    dep = await projects_store.active_deployment(ctx.db, row.project_id)
    deployment_id, build_id = (dep.deployment_id, dep.build_id) if dep else (row.deployment_id, row.build_id)
    inputs = await event_inputs(ctx, row)
    return await _create(ctx, NewSession(
        session_id=new_id("ses"), project_id=row.project_id, deployment_id=deployment_id, build_id=build_id,
        trigger_id=row.trigger_id, event_id="", entrypoint=row.entrypoint, durable=row.durable,
        inputs=inputs, memo=row.memo,
    ), restart_of=row.session_id)  # fmt: skip


async def stop(ctx: AppContext, row: SessionRecord, reason: str, force: bool, delay: float) -> None:
    """Cancel the session's workflow; with ``force``, terminate it if still running after ``delay``."""
    sid = row.session_id
    if row.state in FINAL:
        raise FailedPrecondition(f"session {sid} already ended ({row.state}); only running sessions can be stopped")
    reason = reason or "stopped by user"
    async with ctx.db.tx() as conn:
        await store.request_stop(conn, sid, reason, force)
    try:
        await ctx.engine.handle(sid).cancel()
    except RPCError as exc:
        log.info("cancel %s: %s", sid, exc)
        await _mark_stopped(ctx, sid, reason)
        return
    if force:
        asyncio.get_running_loop().create_task(_force_after(ctx, sid, reason, delay))


async def _force_after(ctx: AppContext, sid: str, reason: str, delay: float) -> None:
    async def ended() -> bool | None:
        row = await store.get(ctx.db, sid)
        return True if row is None or row.state in FINAL else None

    if await ctx.notifier.wait_for(ended, delay):
        return
    try:
        await ctx.engine.handle(sid).terminate(reason=reason)
    except RPCError as exc:
        log.info("terminate %s: %s", sid, exc)
    await _mark_stopped(ctx, sid, reason, forced=True)


async def _mark_stopped(ctx: AppContext, sid: str, reason: str, forced: bool = False) -> None:
    ctx.hub.kill(sid)
    await store.finish(
        ctx.db, sid, SessionState.STOPPED, error={"type": "Stopped", "message": reason, "traceback": ""},
        records=[LogRecord("stop", {"reason": reason, "forced": forced})],
    )  # fmt: skip
    ctx.notifier.changed()


async def delete(ctx: AppContext, row: SessionRecord) -> None:
    sid = row.session_id
    if row.state not in FINAL:
        raise FailedPrecondition(f"session {sid} is {row.state}; stop it before deleting it")
    await store.delete_session(ctx.db, sid)


def memo_of(row: SessionRecord) -> dict[str, Any]:
    try:
        memo: dict[str, Any] = json.loads(row.memo or "{}")
        return memo
    except ValueError:
        return {}

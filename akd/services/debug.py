"""Recovery and debugging: rerun a durable session from a step, end a durable sleep
early, send a session a signal, fire a schedule trigger now.

A rerun is a new session on the same build (or the active deployment's) whose journal
is the original's first steps: its runner replays them, so their side effects do not
happen again, and runs live from there. Its log starts with the original's records of
those steps and the prints made before them, then says where the rerun began.
"""

from __future__ import annotations

import io
import pickle
import time
from typing import Any

from akd.errors import FailedPrecondition, InvalidArgument, NotFound
from akd.ids import new_id
from akd.services.context import AppContext
from akd.services.sessions import event_inputs
from akd.store import inbox
from akd.store import projects as projects_store
from akd.store import sessions as store
from akd.store.sessions import LogRecord, NewSession, SessionRecord
from akd.store.states import FINAL
from akd.store.triggers import TriggerRecord


class _Plain(pickle.Unpickler):
    """Unpickles only plain values (a journaled sleep deadline is a float): never a class."""

    def find_class(self, module: str, name: str) -> Any:
        raise pickle.UnpicklingError(f"not a plain value ({module}.{name})")


def _plain(blob: bytes) -> Any:
    return _Plain(io.BytesIO(blob)).load()


async def rerun(ctx: AppContext, row: SessionRecord, from_step: int, *, result: Any = None, edit: bool = False,
                latest: bool = False) -> str:  # fmt: skip
    """A new session replaying ``row``'s steps before ``from_step`` and live from there.

    With ``edit``, step ``from_step`` is journaled too, with ``result`` as its return
    value (the code after it sees that value), and the session is live from the next one.
    """
    sid = row.session_id
    if not row.durable:
        raise FailedPrecondition(
            f"session {sid} is not durable, so it has no journal to rerun from; "
            f"`akctl session restart {sid}` runs it again from the top"
        )
    journal = await store.load_journal(ctx.db, sid)
    last = len(journal) - 1 if edit else len(journal)
    if not 0 <= from_step <= last:
        where = f"steps 0 to {len(journal) - 1}" if journal else "no steps"
        raise InvalidArgument(
            f"session {sid} has {where} in its journal; --from-step must be between 0 and {last}"
            + (" (--edit-result replaces a step that ran)" if edit else "")
        )
    entries = list(journal[:from_step])
    if edit:
        kind, name, _ = journal[from_step]
        if kind != "step":
            raise InvalidArgument(
                f"step {from_step} of {sid} is a {kind} ({name}), not a call whose result can be edited"
            )
        entries.append((kind, name, pickle.dumps((True, result), protocol=pickle.HIGHEST_PROTOCOL)))
    deployment_id, build_id = row.deployment_id, row.build_id
    if latest:
        dep = await projects_store.active_deployment(ctx.db, row.project_id)
        if dep is None:
            raise FailedPrecondition(f"project {row.project} has no active deployment for --latest")
        deployment_id, build_id = dep.deployment_id, dep.build_id
    if await projects_store.get_build(ctx.db, build_id) is None:
        raise FailedPrecondition(f"the build {build_id} of session {sid} is gone; rerun with --latest")
    new = NewSession(
        session_id=new_id("ses"), project_id=row.project_id, deployment_id=deployment_id, build_id=build_id,
        trigger_id=row.trigger_id, event_id="", entrypoint=row.entrypoint, durable=True,
        inputs=await event_inputs(ctx, row), memo=row.memo,
    )  # fmt: skip
    note = LogRecord("rerun", {"of": sid, "from_step": from_step, "replayed": len(entries), "edited": edit},
                     t=time.time())  # fmt: skip
    async with ctx.db.tx() as conn:
        await store.insert_sessions(conn, [new])
        await store.copy_journal(conn, sid, new.session_id, entries, note)
    await ctx.engine.start_session(new.session_id)
    ctx.notifier.changed()
    return new.session_id


async def _current_sleep(ctx: AppContext, row: SessionRecord) -> tuple[int, float] | None:
    """The journal position and deadline of the durable sleep ``row`` is in, if it sleeps."""
    if row.state in FINAL or not row.durable:
        return None
    last = await store.last_journal_entry(ctx.db, row.session_id)
    if last is None or last[1] != "sleep":
        return None
    until = _plain(last[2])
    return (last[0], float(until)) if isinstance(until, (int, float)) and until > time.time() else None


async def sleeping_until(ctx: AppContext, row: SessionRecord) -> float | None:
    """When the durable sleep ``row`` is in ends, or None when it is not sleeping."""
    current = await _current_sleep(ctx, row)
    return None if current is None else current[1]


async def wake(ctx: AppContext, row: SessionRecord) -> dict[str, Any]:
    """End the durable sleep ``row`` is parked in now, as if it had elapsed."""
    sid = row.session_id
    if row.state in FINAL:
        raise FailedPrecondition(f"session {sid} is {row.state}: there is no sleep to end")
    current = await _current_sleep(ctx, row)
    if current is None:
        raise FailedPrecondition(f"session {sid} is not sleeping (only a durable time.sleep() can be woken)")
    seq, until = current
    now = time.time()
    note = LogRecord("wake", {"seq": seq, "until": until, "woken_at": now}, t=now)
    if not await store.move_sleep_deadline(ctx.db, sid, seq, pickle.dumps(now), note):
        raise NotFound(f"the sleep of session {sid} is no longer in its journal")
    await ctx.engine.end_sleep(sid)
    ctx.notifier.changed()
    return {"session_id": sid, "seq": seq, "until": until, "woken_at": now}


async def signal(ctx: AppContext, row: SessionRecord, name: str, payload: Any = None) -> dict[str, Any]:
    """Send ``row`` a signal, as ``autokitteh.signal`` would: its ``next_signal(name)`` gets it."""
    sid = row.session_id
    if not name:
        raise InvalidArgument("a signal needs a name (what the session's next_signal() waits for)")
    if row.state in FINAL:
        raise FailedPrecondition(f"session {sid} is {row.state}: a signal to it would never be read")
    async with ctx.db.tx() as conn:
        await inbox.deliver(conn, sid, "signal", name, pickle.dumps({"name": name, "payload": payload}))
    await ctx.engine.wake(sid)
    ctx.notifier.changed()
    return {"session_id": sid, "name": name, "delivered": True}


async def fire(ctx: AppContext, trigger: TriggerRecord) -> None:
    """Run a schedule trigger now: its schedule's own action, so a real tick event."""
    if trigger.type != "schedule":
        raise InvalidArgument(
            f"trigger {trigger.name} is a {trigger.type} trigger; only schedule triggers fire "
            "(send other triggers an event with `akctl event dispatch`)"
        )
    await ctx.engine.fire_schedule(trigger.trigger_id)

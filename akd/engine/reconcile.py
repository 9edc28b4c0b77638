"""Periodic reconciliation: a session whose workflow was closed outside akd is settled
within seconds, not at the next start.

Anyone who can reach the Temporal frontend (any local user, for the embedded dev
server) can terminate or cancel a session's workflow with the plain ``temporal`` CLI. A
cancel reaches the workflow, which ends the session itself; a terminate never runs akd's
code, so the store would call the session ``running`` until ``Dispatcher.recover`` at
the next start. Every few seconds this asks Temporal, in one visibility query, which
session workflows closed abnormally lately, and settles those the store still calls
live: final state, runner killed, a log record, the parent told.

Normal ends cost nothing here: the store is final before the workflow completes, and
``Completed`` workflows are not even listed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import UTC, datetime

from temporalio.service import RPCError

from akd.engine.worker import Engine
from akd.engine.workflows import SESSION_WORKFLOW
from akd.store import sessions as sessions_store
from akd.store.sessions import LogRecord
from akd.store.states import FINAL, SessionState

log = logging.getLogger(__name__)

RECONCILE_INTERVAL = 3.0
# Each query looks back this far past the previous sweep: a close reaches the visibility
# store a little after it happens, and a slow or failed sweep must not open a gap.
LOOKBACK_SECONDS = 60.0
# Abnormal ends only; a session akd ends itself completes its workflow ("Completed").
_CLOSED = "('Terminated', 'Canceled', 'Failed', 'TimedOut')"


class Reconciler:
    """Runs ``sweep()`` every ``interval`` seconds until stopped."""

    def __init__(self, engine: Engine, interval: float = RECONCILE_INTERVAL) -> None:
        self.engine = engine
        self.ctx = engine.ctx
        self.interval = interval
        self._since = time.time()  # Dispatcher.recover settled what closed before this
        self._task: asyncio.Task[None] | None = None
        self._failing = False

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="reconcile")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.sweep()
            except Exception:
                log.exception("reconciling sessions with Temporal failed")

    async def sweep(self) -> list[str]:
        """Settle live sessions whose workflows closed abnormally; returns their ids."""
        started = time.time()
        live = await sessions_store.unfinished_ids(self.ctx.db)
        if not live:
            self._since = started
            return []
        try:
            closed = await self._closed_since(self._since - LOOKBACK_SECONDS)
        except RPCError as exc:
            self._warn_once(exc)
            return []
        self._failing = False
        self._since = started
        settled = []
        for session_id, status in closed:
            if session_id in live and await self._settle(session_id, status):
                settled.append(session_id)
        return settled

    async def _closed_since(self, since: float) -> list[tuple[str, str]]:
        stamp = datetime.fromtimestamp(since, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        query = f"WorkflowType = '{SESSION_WORKFLOW}' AND ExecutionStatus IN {_CLOSED} AND CloseTime > '{stamp}'"
        found = []
        async for wf in self.engine.client.list_workflows(query):
            if wf.status is not None:
                found.append((wf.id, wf.status.name.lower()))
        return found

    async def _settle(self, session_id: str, status: str) -> bool:
        """Final state first (so the runner's death reads as expected), then the runner."""
        row = await sessions_store.get(self.ctx.db, session_id)
        if row is None or row.state in FINAL:
            return False
        # A stop akd itself asked for (cancel, then terminate with --force) keeps its reason.
        reason = row.stop_reason or f"the workflow was {status} outside akd"
        state = SessionState.STOPPED if status in ("terminated", "canceled") else SessionState.ERROR
        record = LogRecord("stop", {"reason": reason, "workflow": status}, dedupe="workflow-closed")
        error = {"type": "WorkflowClosed", "message": reason, "traceback": ""}
        if not await sessions_store.finish(self.ctx.db, session_id, state, error=error, records=[record]):
            return False
        self.ctx.hub.kill(session_id)
        log.warning("session %s: its workflow was %s outside akd; marked %s", session_id, status, state)
        self.ctx.notifier.changed()
        await self.engine.activities.notify_parent(session_id)
        return True

    def _warn_once(self, exc: RPCError) -> None:
        if not self._failing:
            log.warning("listing closed session workflows failed (will retry): %s", exc)
        self._failing = True

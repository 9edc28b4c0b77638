"""Activities of the session workflow: they hold all the I/O."""

from __future__ import annotations

import asyncio
import json
import logging
import pickle
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from temporalio import activity

from akd.engine import ticks
from akd.engine.builds import LocalBuilds
from akd.engine.outcomes import OutcomeRegistry
from akd.engine.runners import RunnerConn, RunnerHub, runner_base_env
from akd.engine.sdk_calls import SdkCalls
from akd.engine.segment import SegmentAborted, SegmentRun, SegmentSpec
from akd.engine.session_env import OAuthTokens, connection_env
from akd.engine.types import SegmentInput, SegmentResult, StopInput, TickInput
from akd.errors import AkdError
from akd.manifest import parse_manifest
from akd.notify import Notifier
from akd.outbox import Outbox
from akd.store import connections as connections_store
from akd.store import events as events_store
from akd.store import inbox, projects, sessions
from akd.store.builds import BuildRecord
from akd.store.db import Database
from akd.store.sessions import LogRecord, SessionMoved, SessionRecord
from akd.store.states import FINAL, SessionState
from akd.store.vars import list_vars, load_env_vars
from akd.vendor_layers import runner_site_dirs

log = logging.getLogger(__name__)
PARK_SECONDS = 1.0  # a parked segment's timer (see SessionActivities._park)
# A segment whose session another node took over waits this long for Temporal to take the
# segment back (it cancels it once this akd learns its workflow task is gone) before failing.
MOVED_WAIT = 30.0


@dataclass(frozen=True)
class EngineContext:
    """What the engine's parts share, complete when built (the daemon builds it once)."""

    db: Database
    hub: RunnerHub
    builds_dir: Path
    base_url: str
    max_result_bytes: int
    notifier: Notifier
    # Stored events to dispatch are announced here (schedule ticks; akd.outbox).
    outbox: Outbox
    # OAuth token refresh before sessions start and on request (akd.services.oauth.Refresher).
    oauth: OAuthTokens | None
    # A runner's resource limits ([runner] memory_mb, cpu_seconds, ...) and print cap.
    limits: dict[str, int] = field(default_factory=dict)
    max_print_bytes: int = 0
    outcomes: OutcomeRegistry = field(default_factory=OutcomeRegistry)
    # When the previous akd on this data dir was last seen running (akd.heartbeat); 0: unknown.
    down_since: float = 0.0
    # [sessions] replay_each_step: park and replay durable sessions after every journaled step.
    replay_each_step: bool = False
    # This akd's name among several on one store ([server] node); sessions record it.
    node: str = ""

    @property
    def code_cache_dir(self) -> Path:
        """Where runners keep rewritten user code (see akd.runner.hook)."""
        return self.builds_dir.parent / "cache" / "code"


class SessionActivities:
    def __init__(self, ctx: EngineContext, sdk: SdkCalls) -> None:
        self.ctx = ctx
        self.sdk = sdk
        self.builds = LocalBuilds(ctx.db, ctx.builds_dir.parent)
        self._policies: dict[str, dict[str, float]] = {}
        # Live sessions that ran a segment in this process (the others resume after a restart).
        self._ran_here: set[str] = set()
        self._started_at = time.time()

    @activity.defn(name="akd.run_segment")
    async def run_segment(self, inp: SegmentInput) -> SegmentResult:
        try:
            return await self._run_segment(inp)
        except SegmentAborted:
            return self._park(inp.session_id)
        except SessionMoved as exc:
            # This akd stalled (a frozen machine, a stopped process) past Temporal's timeouts
            # and another node runs the session now: this segment's runner is gone and
            # nothing more of it was stored. Retrying here at once would take the session
            # back from the node Temporal gave it to.
            log.warning("%s; this akd's segment of it ends", exc)
            await asyncio.sleep(MOVED_WAIT)
            raise

    def _park(self, session_id: str) -> SegmentResult:
        """akd is stopping: end the segment as a short sleep, so the next akd runs it again.

        The workflow then waits on a timer, its task completes and the worker can stop at
        once; after the restart the timer has fired and a new segment resumes the session
        (a durable one replays its journal, a non-durable one starts over). Failing the
        segment instead had this very worker retry it (a traceback each time) and held
        its shutdown until the drain timed out.
        """
        log.info("session %s parked: akd is stopping; it resumes at the next start", session_id)
        return SegmentResult(kind="sleep", until=time.time() + PARK_SECONDS)

    async def _run_segment(self, inp: SegmentInput) -> SegmentResult:
        row = await sessions.get(self.ctx.db, inp.session_id)
        if row is None:
            return SegmentResult(kind="done", state="deleted")
        if row.state in FINAL:
            return SegmentResult(kind="done", state=row.state, error=json.loads(row.error or "{}"))
        if self.ctx.hub.closing:  # a retry while akd stops would run the code once more, then die
            raise SegmentAborted("akd is shutting down; the session resumes after the restart")
        # Usually the runner was started (and given its spec) while the workflow started.
        spawning = self.ctx.hub.take_prespawned(inp.session_id) or asyncio.ensure_future(
            self.ctx.hub.spawn(inp.session_id)
        )
        try:
            await sessions.set_running(self.ctx.db, inp.session_id, self.ctx.node, inp.epoch)
            self.ctx.notifier.changed()
            conn = await spawning
            spec = conn.prepared or await self._spec(row)
            await self._note_resume(row, spec)
        except BaseException:
            await self.ctx.hub.discard(spawning)
            raise
        try:
            segment = SegmentRun(
                self.ctx.db, self.ctx.hub, self.sdk, self.ctx.notifier, spec, row,
                node=self.ctx.node, replay_each_step=self.ctx.replay_each_step,
            )  # fmt: skip
            result = await segment.run(conn)
        finally:
            self.ctx.notifier.changed()
        if result.kind == "done":
            self._ran_here.discard(inp.session_id)
            if row.parent_id:
                await self.notify_parent(inp.session_id)
        return result

    async def _note_resume(self, row: SessionRecord, spec: SegmentSpec) -> None:
        """A session that had run before this segment says so in its log.

        Non-durable code starts from the top again: a new attempt, counted and logged with
        the reason, whose prints are kept apart from the earlier attempts'. A durable
        session resuming after a restart logs how many steps it replays and how long akd
        was down.
        """
        sid = row.session_id
        first_here = sid not in self._ran_here
        self._ran_here.add(sid)
        if row.state != SessionState.RUNNING:
            return
        down = {"down_from": self.ctx.down_since, "down_to": self._started_at} if self.ctx.down_since else {}
        if not row.durable:
            why = "akd restarted while it ran" if first_here else "its segment failed and was retried"
            if first_here and down:
                why += f" (akd was down for {self._started_at - self.ctx.down_since:.1f} s)"
            why += "; its code runs again from the top"
            spec.init["attempt"] = await sessions.begin_attempt(self.ctx.db, sid, why)
        elif first_here:
            steps = len(spec.payload["journal"])
            async with self.ctx.db.tx() as conn:
                await sessions.append_log(conn, sid, [LogRecord("resume", {"steps": steps, **down}, t=time.time())])

    def preload(self, session_id: str) -> None:
        """Start the runner of a new session's first segment and send it its spec now
        (the workflow start is in flight); it holds before the user's code until the
        segment runs, so nothing of the session runs without its workflow."""
        self.ctx.hub.prespawn(session_id, prepare=self._prepare)

    async def _prepare(self, conn: RunnerConn) -> None:
        row = await sessions.get(self.ctx.db, conn.session_id)
        if row is None or row.state != SessionState.CREATED:
            return  # resumed, not new: its segment reads its spec (and journal) when it runs
        spec = await self._spec(row)
        await conn.send({"op": "init", "hold": True, **spec.init}, pickle.dumps(spec.payload))
        conn.prepared = spec

    async def notify_parent(self, session_id: str) -> None:
        """A child session's end is a signal named after it, for its parent's next_signal()."""
        row = await sessions.get(self.ctx.db, session_id)
        if row is None or not row.parent_id:
            return
        # AutoKitteh's shape: the value only on success, nothing but the flag otherwise.
        ended: dict[str, Any] = {"completed": False}
        if row.state == SessionState.COMPLETED:
            ended = {"completed": True, "value": json.loads(row.return_value) if row.return_value else None}
        payload = {"name": session_id, "payload": ended}
        async with self.ctx.db.tx() as conn:
            await inbox.deliver(conn, row.parent_id, "signal", session_id, pickle.dumps(payload), source_id=session_id)
        await self.sdk.wake(row.parent_id)
        self.ctx.notifier.changed()

    async def _spec(self, row: SessionRecord) -> SegmentSpec:
        build = await projects.get_build(self.ctx.db, row.build_id)
        if build is None:
            raise RuntimeError(f"build {row.build_id} of session {row.session_id} is missing")
        await self.builds.ensure(build)  # made from the store's copy on an akd that lacks it
        journal = await sessions.load_journal(self.ctx.db, row.session_id)
        init = {
            "build_dir": str(self.ctx.builds_dir / build.digest),
            "code_cache": str(self.ctx.code_cache_dir),
            "entrypoint": row.entrypoint,
            "durable": row.durable,
            "env": await self._env(row.project_id, row.session_id),
            "secret_env": await self._secret_env(row.project_id),
            "site_dirs": runner_site_dirs(self.ctx.builds_dir.parent, build.requirements, build.manifest),
            "max_result_bytes": self.ctx.max_result_bytes,
            "limits": self.ctx.limits,
            "max_print_bytes": self.ctx.max_print_bytes,
            "attempt": row.attempt,
            "retry_policy": self._retry_policy(build),
        }
        payload = {"event": await self._event(row), "journal": journal}
        return SegmentSpec(row.session_id, init, payload)

    def _retry_policy(self, build: BuildRecord) -> dict[str, float]:
        """The project's default retry policy (manifest ``project.retry_policy``), per build."""
        cached = self._policies.get(build.build_id)
        if cached is None:
            try:
                cached = parse_manifest(build.manifest).retry_policy
            except AkdError:
                cached = {}
            self._policies[build.build_id] = cached
        return cached

    async def _env(self, project_id: str, session_id: str) -> dict[str, str]:
        env = runner_base_env()
        env.pop("PYTHONPATH", None)
        env.update(await load_env_vars(self.ctx.db, self.ctx.builds_dir.parent, project_id))
        data_dir = self.ctx.builds_dir.parent
        env.update(await connection_env(self.ctx.db, data_dir, project_id, self.ctx.oauth, session_id))
        env["store_public_url"] = f"{self.ctx.base_url}/store/{project_id}"  # AutoKitteh's name
        for trg in await projects.triggers_of(self.ctx.db, project_id):
            if trg.slug:
                env[f"{trg.name}__webhook_url"] = f"{self.ctx.base_url}/webhooks/{trg.slug}"
        return env

    async def _secret_env(self, project_id: str) -> list[str]:
        """Names of the env vars holding secrets (secret project and connection vars): the
        runner masks their values in the step log's args and results."""
        data_dir = self.ctx.builds_dir.parent
        names = [v.name for v in await list_vars(self.ctx.db, data_dir, project_id) if v.secret]
        for conn, stored in (await connections_store.vars_of_project(self.ctx.db, project_id)).items():
            names += [f"{conn}__{var.name}" for var in stored if var.secret]
        return sorted(names)

    async def _event(self, row: SessionRecord) -> dict[str, Any]:
        if row.event_id:
            ev = await events_store.get_event(self.ctx.db, row.event_id)
            if ev is not None:
                return events_store.payload(ev)
        data = pickle.loads(row.inputs) if row.inputs else {}
        if isinstance(data, dict) and "__akd_event__" in data:
            event: dict[str, Any] = data["__akd_event__"]  # a restarted session gets its event again
            return event
        return {"data": data, "event_id": "", "event_type": ""}

    @activity.defn(name="akd.record_tick")
    async def record_tick(self, inp: TickInput) -> None:
        """Store one schedule tick as an event (once per scheduled time) for dispatch."""
        await ticks.record_tick(self.ctx.db, self.ctx.outbox, inp.trigger_id, activity.info().workflow_id or "")

    @activity.defn(name="akd.finish_stopped")
    async def finish_stopped(self, inp: StopInput) -> None:
        """Final state first (so the runner's end reads as the stop), then the runner is stopped."""
        row = await sessions.get(self.ctx.db, inp.session_id)
        reason = inp.reason or (row.stop_reason if row is not None else "") or "stopped"
        await sessions.finish(
            self.ctx.db,
            inp.session_id,
            SessionState.STOPPED,
            error={"type": "Stopped", "message": reason, "traceback": ""},
            records=[LogRecord("stop", {"reason": reason})],
        )
        self.ctx.notifier.changed()
        await self.ctx.hub.stop_runner(inp.session_id)
        await self.notify_parent(inp.session_id)

"""Dispatch: stored events -> matching triggers -> sessions, idempotently.

Sessions are inserted with a unique (event, trigger) key in the same transaction that
marks the event dispatched, and workflow ids are the session ids, so replaying a
dispatch after a crash never starts a session twice and never loses one.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import pickle
import time
from dataclasses import dataclass
from typing import Any

import cel

from akd.engine.worker import Engine
from akd.errors import FailedPrecondition, InvalidArgument, NotFound
from akd.ids import new_id
from akd.outbox import Outbox
from akd.services import flow
from akd.store import events as events_store
from akd.store import flow as flow_store
from akd.store import inbox, subscriptions
from akd.store import sessions as sessions_store
from akd.store.db import Connection, Database
from akd.store.events import EventRecord, NewEvent
from akd.store.flow import TriggerTarget
from akd.store.sessions import NewSession
from akd.store.states import FINAL, SessionState
from akd.store.subscriptions import Subscription

log = logging.getLogger(__name__)

# Events dispatched at once in the background. A burst of webhooks queues here (each is
# already stored, so nothing waits on it) instead of starting hundreds of dispatches that
# would crowd the event loop and slow the answers to the webhooks still arriving.
DISPATCH_CONCURRENCY = 16
NO_DEPLOYMENT = "the project had no active deployment"
MARKS_SWEEP_INTERVAL = 60.0
# Sessions the sweeper starts again per pass (the rest wait for the next one).
STUCK_BATCH = 500


@dataclass(frozen=True)
class Intake:
    event_id: str
    duplicate: bool
    session_ids: list[str] | None  # None: dispatched in the background, not waited for


@dataclass(frozen=True)
class SessionEvent:
    """A manual event for one session only (``akctl event dispatch --session``)."""

    event_id: str
    project_id: str
    trigger_id: str
    trigger_name: str
    event_type: str
    data: Any
    source: str = "manual"


class Dispatcher:
    def __init__(self, db: Database, engine: Engine, outbox: Outbox) -> None:
        self.db = db
        self.engine = engine
        self.notifier = engine.ctx.notifier
        self._programs: dict[str, Any] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._queue: collections.deque[str] = collections.deque()
        self._drainers = 0
        self.flow_rules = flow.FlowRules(db)
        self._admitter: asyncio.Task[None] | None = None
        self._debouncer: asyncio.Task[None] | None = None
        self._debounce_wake = asyncio.Event()
        self._marks_swept = 0.0
        self._admit_again = False
        outbox.listen(self.submit)

    async def ingest(self, ev: NewEvent, *, wait: bool = False) -> Intake:
        """Store ``ev`` (the one way events come in), then dispatch it: in the background,
        or with ``wait`` now, returning the sessions it started. A repeat of a stored
        event (a vendor's retried delivery, a retried tick) starts nothing."""
        got = await events_store.ingest_event(self.db, ev)
        if got.duplicate:
            return Intake(got.event_id, duplicate=True, session_ids=[])
        if not wait:
            self.submit(got.event_id)
            return Intake(got.event_id, duplicate=False, session_ids=None)
        return Intake(got.event_id, duplicate=False, session_ids=await self.dispatch(got.event_id))

    def submit(self, event_id: str) -> None:
        """Dispatch in the background (the HTTP answer does not wait for it), at most
        DISPATCH_CONCURRENCY at a time, in arrival order."""
        self._queue.append(event_id)
        if self._drainers < DISPATCH_CONCURRENCY:
            self._drainers += 1
            task = asyncio.create_task(self._drain())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _drain(self) -> None:
        try:
            while self._queue:
                await self._dispatch_logged(self._queue.popleft())
        finally:
            self._drainers -= 1

    async def _dispatch_logged(self, event_id: str) -> list[str]:
        try:
            return await self.dispatch(event_id)
        except Exception:
            # The event stays pending in the outbox; the sweeper retries it.
            log.exception("dispatching event %s failed; it will be retried", event_id)
            return []

    def start_sweeper(self, interval: float = 2.0) -> None:
        """Retry events left pending (a failed dispatch) every ``interval`` seconds."""
        self._sweeper = asyncio.create_task(self._sweep(interval), name="outbox-sweeper")

    async def _sweep(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                for event in await events_store.pending_events(self.db, older_than=interval):
                    await self._dispatch_logged(event.event_id)
                await self._start_stuck(older_than=5 * interval)
                await self._forget_marks()
            except Exception:
                log.exception("outbox sweep failed")

    async def _forget_marks(self) -> None:
        """Drop expired dedupe and rate-limit marks, at most once a minute."""
        now = time.time()
        if now - self._marks_swept >= MARKS_SWEEP_INTERVAL:
            self._marks_swept = now
            await flow_store.forget_marks(self.db, now)

    async def _start_stuck(self, older_than: float) -> None:
        """Sessions whose workflow start failed (Temporal overloaded or down) are started again.

        Starting is idempotent (workflow id = session id), so a session that is merely
        queued behind others costs one refused start, nothing more.
        """
        for session_id in await sessions_store.created_before(self.db, time.time() - older_than, STUCK_BATCH):
            try:
                await self.engine.start_session(session_id)
            except Exception as exc:
                log.warning("starting session %s failed again (%s); will retry", session_id, exc)
                return

    async def stop(self) -> None:
        for task in (getattr(self, "_sweeper", None), self._admitter, self._debouncer):
            if task is not None:
                task.cancel()
        await self.wait_idle()

    # -- concurrency queues and debounces (akd.services.flow) --------------------------

    def _kick_admitter(self) -> None:
        self._admit_again = True  # a loop between its last check and its return goes on
        if self._admitter is None or self._admitter.done():
            self._admitter = asyncio.create_task(self._admit_loop(), name="flow-admitter")

    async def _admit_loop(self) -> None:
        """While sessions are queued: after each session change (or every 2 s), start
        the queued sessions whose group has a free slot."""
        while True:
            seen = self.notifier.generation
            self._admit_again = False
            try:
                await self._admit_once()
                if not await sessions_store.has_queued(self.db) and not self._admit_again:
                    return
            except Exception:
                log.exception("admitting queued sessions failed; will retry")
            await self.notifier.next_change(seen, 2.0)

    async def _admit_once(self) -> None:
        async with self.db.tx() as conn:
            ids = await sessions_store.admit_queued(conn)
        if ids:
            self.notifier.changed()
        await self._start_all(ids)

    async def _start_all(self, session_ids: list[str]) -> None:
        for session_id in session_ids:
            try:
                await self.engine.start_session(session_id)
            except Exception as exc:  # it stays 'created': the sweeper starts it later
                log.warning("starting session %s failed (%s); will retry", session_id, exc)

    def _kick_debouncer(self) -> None:
        self._debounce_wake.set()
        if self._debouncer is None or self._debouncer.done():
            self._debouncer = asyncio.create_task(self._debounce_loop(), name="flow-debouncer")

    async def _debounce_loop(self) -> None:
        """Start the session of each debounced event whose burst is over, at its due time."""
        while True:
            self._debounce_wake.clear()
            try:
                for due in await flow_store.due_debounces(self.db, time.time()):
                    await self._fire_debounce(due)
                next_at = await flow_store.next_debounce_at(self.db)
            except Exception:
                log.exception("starting debounced sessions failed; will retry")
                next_at = time.time() + 2.0
            if next_at is None and not self._debounce_wake.is_set():
                return
            delay = 0.0 if next_at is None else max(0.0, next_at - time.time())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._debounce_wake.wait(), delay)

    async def _fire_debounce(self, due: flow_store.DueDebounce) -> None:
        event = await events_store.get_event(self.db, due.event_id)
        trg = await flow_store.active_trigger(self.db, due.trigger_id)
        cand = None if event is None or trg is None else await self._candidate(trg, event, filtered=False)
        async with self.db.tx() as conn:
            if not await flow_store.take_debounce(conn, due):
                return  # a newer event took its place meanwhile
            if not isinstance(cand, flow.Candidate):
                reason = "no active deployment when its debounce period ended" if trg is None else str(cand)
                await events_store.mark_superseded(conn, due.event_id, reason)
                return
            news = [flow.queue_if_limited(cand)]
            created = await sessions_store.insert_sessions(conn, news)
            admitted = await self._admit_in(conn, {cand.session.trigger_id} if cand.flow.concurrency else set())
        self.notifier.changed()
        if cand.flow.concurrency:
            self._kick_admitter()
        await self._start_all(_to_start(created, news, admitted))

    async def dispatch(self, event_id: str) -> list[str]:
        """Create the sessions the event starts and start their workflows; returns their ids."""
        event = await events_store.get_event(self.db, event_id)
        if event is None:
            return []
        if event.state == "pending":
            created = await self._create_sessions(event)
            if created is not None:  # the usual path: no need to read back what was just written
                for session_id in created:
                    await self.engine.start_session(session_id)
                return created
        for session_id in await sessions_store.ids_of_event(self.db, event_id, SessionState.CREATED):
            await self.engine.start_session(session_id)
        return await sessions_store.ids_of_event(self.db, event_id)

    async def _create_sessions(self, event: EventRecord) -> list[str] | None:
        """Insert the event's sessions; the ids to start now, or None if another dispatch got there first."""
        candidates, reasons = await self._match(event)
        subs = await self._subscribers(event)
        payload = pickle.dumps(events_store.payload(event)) if subs else b""
        now = time.time()
        async with self.db.tx() as conn:
            if not await events_store.claim_pending(conn, event.event_id):
                return None  # dispatched meanwhile, here or by another akd
            decision = await flow.decide(conn, candidates, event.event_id, now)
            created = await sessions_store.insert_sessions(conn, decision.news)
            admitted = await self._admit_in(conn, decision.queued_triggers)
            for sub in subs:
                await inbox.deliver(conn, sub.session_id, "event", sub.sub_id, payload, source_id=event.event_id)
            started = bool(decision.news or subs or decision.deferred)
            skip = "" if started else _skip_text(event, reasons + decision.reasons)
            first = await events_store.mark_dispatched(conn, event.event_id, skip, now)
        self.notifier.changed()
        if decision.deferred:
            self._kick_debouncer()
        if decision.queued_triggers:
            self._kick_admitter()
        for session_id in {sub.session_id for sub in subs}:
            await self.engine.wake(session_id)
        if not first or len(created) != len(decision.news):
            return None
        return _to_start(created, decision.news, admitted)

    async def deliver_to_session(self, ev: SessionEvent, session_id: str) -> list[str]:
        """Store ``ev`` and put it in ``session_id``'s inbox for each of its subscriptions on
        the event's trigger whose filter matches, in one transaction; no session starts.
        Returns the subscription ids. Refused (nothing stored) when the session has ended,
        is another project's, or has no such subscription matching the event."""
        subs = await self._session_subscribers(ev, session_id)
        payload = pickle.dumps({"data": ev.data, "event_id": ev.event_id, "event_type": ev.event_type})
        async with self.db.tx() as conn:
            await events_store.insert_dispatched(
                conn, ev.event_id, project_id=ev.project_id, trigger_id=ev.trigger_id, trigger_name=ev.trigger_name,
                event_type=ev.event_type, source=ev.source, data=pickle.dumps(ev.data), now=time.time(),
            )  # fmt: skip
            for sub in subs:
                await inbox.deliver(conn, session_id, "event", sub.sub_id, payload, source_id=ev.event_id)
        self.notifier.changed()
        await self.engine.wake(session_id)
        return [sub.sub_id for sub in subs]

    async def _session_subscribers(self, ev: SessionEvent, session_id: str) -> list[Subscription]:
        """The session's active subscriptions on the event's trigger that match it (or why none)."""
        ses = await sessions_store.get(self.db, session_id)
        if ses is None:
            raise NotFound(f"session {session_id!r} not found")
        if ses.project_id != ev.project_id:
            raise InvalidArgument(f"session {session_id} belongs to another project than trigger {ev.trigger_name}")
        if ses.state in FINAL:
            raise FailedPrecondition(f"session {session_id} has ended ({ses.state}); nothing was stored")
        all_subs = await subscriptions.active_on(self.db, ev.project_id, ev.trigger_name)
        mine = [s for s in all_subs if s.session_id == session_id]
        if not mine:
            raise FailedPrecondition(
                f"session {session_id} has no subscription on trigger {ev.trigger_name} (subscribe() it first, "
                "or dispatch without --session); nothing was stored"
            )
        matching = [s for s in mine if not s.filter or self._filter_true(s.filter, ev.data, ev.event_type)]
        if not matching:
            filters = "; ".join(s.filter for s in mine)
            raise FailedPrecondition(
                f"the filter of session {session_id}'s subscription on {ev.trigger_name} was false for this data "
                f"({filters}); nothing was stored"
            )
        return matching

    async def _admit_in(self, conn: Connection, trigger_ids: set[str]) -> list[str]:
        admitted: list[str] = []
        for trigger_id in sorted(trigger_ids):
            admitted += await sessions_store.admit_queued(conn, trigger_id)
        return admitted

    async def _subscribers(self, event: EventRecord) -> list[Subscription]:
        """Active subscriptions on the event's trigger whose own filter matches."""
        if not event.project_id or not event.trigger_name:
            return []
        subs = await subscriptions.active_on(self.db, event.project_id, event.trigger_name)
        return [s for s in subs if not s.filter or self._filter_matches(s.filter, event)]

    async def _match(self, event: EventRecord) -> tuple[list[flow.Candidate], list[str]]:
        """The candidate sessions of the event's trigger(s), and why the other triggers start none."""
        if event.connection_id and not event.trigger_id:
            # A vendor delivery: every trigger on its connection may start a session.
            triggers = await flow_store.connection_targets(self.db, event.project_id or "", event.trigger_name)
            if not triggers:
                return [], [await self._no_trigger_reason(event)]
        elif not event.trigger_id:
            return [], ["the event names no trigger"]
        else:
            trg = await flow_store.active_trigger(self.db, event.trigger_id)
            if trg is None:
                return [], [await self._no_trigger_reason(event)]
            triggers = [trg]
        found = [await self._candidate(t, event) for t in triggers]
        return [c for c in found if isinstance(c, flow.Candidate)], [r for r in found if isinstance(r, str)]

    async def _no_trigger_reason(self, event: EventRecord) -> str:
        if not event.project_id or not await flow_store.has_active_deployment(self.db, event.project_id):
            return NO_DEPLOYMENT
        if event.trigger_id and not await flow_store.trigger_exists(self.db, event.trigger_id):
            return f"trigger {event.trigger_name} no longer exists"
        return f"connection {event.trigger_name} has no triggers"

    async def _candidate(
        self, trg: TriggerTarget, event: EventRecord, *, filtered: bool = True
    ) -> flow.Candidate | str:
        """The session ``trg`` would start for ``event``, or why it starts none (``filtered``:
        check its call, event type and filter; a debounced event passed them on arrival)."""
        rejected = self._rejection(trg, event) if filtered else ""
        if rejected:
            return rejected
        rules = await self.flow_rules.of(trg.build_id, trg.name)
        try:
            keys = self.flow_rules.keys(rules, event) if rules else {}
        except flow.FlowKeyError as exc:
            return f"trigger {trg.name}: {exc}"
        return flow.Candidate(_new_session(trg, event), trg.name, rules, keys)

    def _rejection(self, trg: TriggerTarget, event: EventRecord) -> str:
        """Why ``trg`` starts no session for ``event`` before flow control ("" when it does)."""
        name = trg.name
        if not trg.call:
            return f"trigger {name} has no call"
        if trg.event_type and trg.event_type != event.event_type:
            return f"trigger {name} expects event_type {trg.event_type!r}, not {event.event_type!r}"
        if trg.filter and not self._filter_matches(trg.filter, event):
            return f"the filter of trigger {name} was false: {trg.filter}"
        return ""

    def _filter_matches(self, expr: str, event: EventRecord) -> bool:
        try:
            data = pickle.loads(event.data)
        except Exception as exc:
            log.info("filter %r did not match event %s: %s", expr, event.event_id, exc)
            return False
        return self._filter_true(expr, data, event.event_type, event.event_id)

    def _filter_true(self, expr: str, data: Any, event_type: str, event_id: str = "") -> bool:
        program = self._programs.get(expr)
        try:
            if program is None:
                program = self._programs[expr] = cel.compile(expr)
            return bool(program.execute({"data": data, "event_type": event_type}))
        except Exception as exc:  # a filter that fails to evaluate does not match
            log.info("filter %r did not match event %s: %s", expr, event_id or "(not stored)", exc)
            return False

    async def recover(self) -> None:
        """At start-up: dispatch events stored but not dispatched, start created sessions."""
        for event in await events_store.pending_events(self.db):
            await self.dispatch(event.event_id)
        for ses in await sessions_store.unfinished(self.db):
            await self.engine.start_session(ses.session_id)
            status = await self.engine.closed_status(ses.session_id)
            if status is not None:  # the workflow ended but the final state never reached the store
                await self._settle(ses.session_id, status)
        # Inbox items committed just before a crash may not have woken their session.
        for session_id in await inbox.sessions_with_unread(self.db):
            await self.engine.wake(session_id)
        # Queues and debounces are in SQLite: start what became startable while akd was down.
        self._kick_admitter()
        self._kick_debouncer()

    async def _settle(self, session_id: str, status: str) -> None:
        ses = await sessions_store.get(self.db, session_id)
        reason = (ses.stop_reason if ses is not None else None) or f"session workflow {status}"
        state = SessionState.STOPPED if status in ("canceled", "cancelled", "terminated") else SessionState.ERROR
        await sessions_store.finish(
            self.db, session_id, state, error={"type": "WorkflowClosed", "message": reason, "traceback": ""}
        )
        log.warning("session %s: workflow was %s; marked %s", session_id, status, state)
        self.notifier.changed()

    async def wait_idle(self) -> None:
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)


def _skip_text(event: EventRecord, reasons: list[str]) -> str:
    """The stored reason of a skipped event: each trigger's, after a summary for vendor deliveries."""
    text = "; ".join(reasons) or "no trigger matched"
    if event.connection_id and not event.trigger_id and text != NO_DEPLOYMENT:
        return f"no trigger on this connection matched and no session subscribed ({text})"
    return text


def _to_start(created: list[str], news: list[NewSession], admitted: list[str]) -> list[str]:
    """The sessions just created that did not queue, then those admitted from a queue."""
    queued = {s.session_id for s in news if s.state == SessionState.QUEUED}
    ready = [sid for sid in created if sid not in queued]
    return ready + [sid for sid in admitted if sid not in ready]


def _new_session(trg: TriggerTarget, event: EventRecord) -> NewSession:
    return NewSession(
        session_id=new_id("ses"),
        project_id=trg.project_id,
        deployment_id=trg.deployment_id,
        build_id=trg.build_id,
        trigger_id=trg.trigger_id,
        event_id=event.event_id,
        entrypoint=trg.call,
        durable=trg.is_durable,
    )

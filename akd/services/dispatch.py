"""Dispatch: stored events -> matching triggers -> sessions, idempotently.

Sessions are inserted with a unique (event, trigger) key in the same transaction that
marks the event dispatched, and workflow ids are the session ids, so replaying a
dispatch after a crash never starts a session twice and never loses one.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import pickle
import time
from datetime import datetime
from typing import Any

import cel

from akd.engine.worker import Engine
from akd.ids import derived_id, new_id
from akd.store import events as events_store
from akd.store import inbox
from akd.store import projects as projects_store
from akd.store import sessions as sessions_store
from akd.store.db import Database, Row
from akd.store.sessions import NewSession

log = logging.getLogger(__name__)

# Events dispatched at once in the background. A burst of webhooks queues here (each is
# already stored, so nothing waits on it) instead of starting hundreds of dispatches that
# would crowd the event loop and slow the answers to the webhooks still arriving.
DISPATCH_CONCURRENCY = 16


class Dispatcher:
    def __init__(self, db: Database, engine: Engine) -> None:
        self.db = db
        self.engine = engine
        self.notifier = engine.ctx.notifier
        self._programs: dict[str, Any] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._queue: collections.deque[str] = collections.deque()
        self._drainers = 0

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
                    await self._dispatch_logged(event["event_id"])
                await self._start_stuck(older_than=5 * interval)
            except Exception:
                log.exception("outbox sweep failed")

    async def _start_stuck(self, older_than: float) -> None:
        """Sessions whose workflow start failed (Temporal overloaded or down) are started again.

        Starting is idempotent (workflow id = session id), so a session that is merely
        queued behind others costs one refused start, nothing more.
        """
        rows = await self.db.fetchall(
            "SELECT session_id FROM sessions WHERE state='created' AND created_at < ? ORDER BY created_at LIMIT 500",
            (time.time() - older_than,),
        )
        for row in rows:
            try:
                await self.engine.start_session(row["session_id"])
            except Exception as exc:
                log.warning("starting session %s failed again (%s); will retry", row["session_id"], exc)
                return

    async def stop(self) -> None:
        sweeper = getattr(self, "_sweeper", None)
        if sweeper is not None:
            sweeper.cancel()
        await self.wait_idle()

    async def dispatch(self, event_id: str) -> list[str]:
        """Create the sessions the event starts and start their workflows; returns their ids."""
        event = await events_store.get_event(self.db, event_id)
        if event is None:
            return []
        if event["state"] == "pending":
            created = await self._create_sessions(event)
            if created is not None:  # the usual path: no need to read back what was just written
                for session_id in created:
                    await self.engine.start_session(session_id)
                return created
        rows = await self.db.fetchall(
            "SELECT session_id FROM sessions WHERE event_id=? AND state='created'", (event_id,)
        )
        for row in rows:
            await self.engine.start_session(row["session_id"])
        ids = await self.db.fetchall("SELECT session_id FROM sessions WHERE event_id=?", (event_id,))
        return [r["session_id"] for r in ids]

    async def _create_sessions(self, event: Row) -> list[str] | None:
        """Insert the event's sessions; their ids, or None if another dispatch got there first."""
        news = await self._match(event)
        subs = await self._subscribers(event)
        payload = pickle.dumps(events_store.payload(event)) if subs else b""
        async with self.db.tx() as conn:
            created = await sessions_store.insert_sessions(conn, news)
            for sub in subs:
                await inbox.deliver(
                    conn, sub["session_id"], "event", sub["sub_id"], payload, source_id=event["event_id"]
                )
            cur = await conn.execute(
                "UPDATE events SET state=?, dispatched_at=? WHERE event_id=? AND state='pending'",
                ("dispatched" if news or subs else "skipped", time.time(), event["event_id"]),
            )
            first = cur.rowcount > 0
        self.notifier.changed()
        for session_id in {sub["session_id"] for sub in subs}:
            await self.engine.wake(session_id)
        return created if first and len(created) == len(news) else None

    async def _subscribers(self, event: Row) -> list[Row]:
        """Active subscriptions on the event's trigger whose own filter matches."""
        if not event["project_id"] or not event["trigger_name"]:
            return []
        subs = await inbox.subscriptions_for(self.db, event["project_id"], event["trigger_name"])
        return [s for s in subs if not s["filter"] or self._filter_matches(s["filter"], event)]

    async def _match(self, event: Row) -> list[NewSession]:
        if event["connection_id"] and not event["trigger_id"]:
            # A vendor delivery: every trigger on its connection may start a session.
            triggers = await projects_store.connection_triggers(self.db, event["project_id"], event["trigger_name"])
            return [s for s in (self._session_for(t, event) for t in triggers) if s is not None]
        if not event["trigger_id"]:
            return []
        trg = await self.db.fetchone(
            "SELECT t.*, d.deployment_id, d.build_id FROM triggers t JOIN deployments d"
            " ON d.project_id=t.project_id AND d.state='active' WHERE t.trigger_id=?",
            (event["trigger_id"],),
        )
        found = None if trg is None else self._session_for(trg, event)
        return [] if found is None else [found]

    def _session_for(self, trg: Row, event: Row) -> NewSession | None:
        """The session ``trg`` starts for ``event``, if it calls something and matches."""
        if not trg["call"]:
            return None
        if trg["event_type"] and trg["event_type"] != event["event_type"]:
            return None
        if trg["filter"] and not self._filter_matches(trg["filter"], event):
            return None
        return NewSession(
            session_id=new_id("ses"),
            project_id=trg["project_id"],
            deployment_id=trg["deployment_id"],
            build_id=trg["build_id"],
            trigger_id=trg["trigger_id"],
            event_id=event["event_id"],
            entrypoint=trg["call"],
            durable=bool(trg["is_durable"]),
        )

    def _filter_matches(self, expr: str, event: Row) -> bool:
        program = self._programs.get(expr)
        try:
            if program is None:
                program = self._programs[expr] = cel.compile(expr)
            data = pickle.loads(event["data"])
            return bool(program.execute({"data": data, "event_type": event["event_type"]}))
        except Exception as exc:  # a filter that fails to evaluate does not match
            log.info("filter %r did not match event %s: %s", expr, event["event_id"], exc)
            return False

    async def record_tick(self, trigger_id: str, workflow_id: str) -> None:
        """One schedule tick -> one ``tick`` event (a retried tick maps to the same id)."""
        trg = await self.db.fetchone("SELECT * FROM triggers WHERE trigger_id=?", (trigger_id,))
        if trg is None:
            return  # the trigger was removed; its schedule is deleted at the next reconcile
        millis = int(_scheduled_at(workflow_id, trigger_id) * 1000)
        event_id = derived_id("evt", millis, workflow_id)
        await events_store.insert_event_once(
            self.db, event_id, project_id=trg["project_id"], trigger_id=trigger_id, trigger_name=trg["name"],
            event_type="tick", source="schedule", data=pickle.dumps({}),
        )  # fmt: skip
        await self.dispatch(event_id)

    async def recover(self) -> None:
        """At start-up: dispatch events stored but not dispatched, start created sessions."""
        for event in await events_store.pending_events(self.db):
            await self.dispatch(event["event_id"])
        for row in await sessions_store.unfinished(self.db):
            await self.engine.start_session(row["session_id"])
            status = await self.engine.closed_status(row["session_id"])
            if status is not None:  # the workflow ended but the final state never reached the store
                await self._settle(row["session_id"], status)
        # Inbox items committed just before a crash may not have woken their session.
        for session_id in await inbox.sessions_with_unread(self.db):
            await self.engine.wake(session_id)

    async def _settle(self, session_id: str, status: str) -> None:
        row = await sessions_store.get(self.db, session_id)
        reason = (row["stop_reason"] if row is not None else None) or f"session workflow {status}"
        state = "stopped" if status in ("canceled", "cancelled", "terminated") else "error"
        await sessions_store.finish(
            self.db, session_id, state, error={"type": "WorkflowClosed", "message": reason, "traceback": ""}
        )
        log.warning("session %s: workflow was %s; marked %s", session_id, status, state)
        self.notifier.changed()

    async def wait_idle(self) -> None:
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)


def _scheduled_at(workflow_id: str, trigger_id: str) -> float:
    """Schedules name their workflows ``<id>-<RFC 3339 time>``; fall back to now."""
    stamp = workflow_id.removeprefix(f"tick-{trigger_id}-")
    try:
        return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return time.time()

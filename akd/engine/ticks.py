"""A schedule's tick, stored as a ``tick`` event of its trigger.

The tick workflow's activity lands here. The event's id is derived from the trigger's
scheduled time, so a retried activity (akd killed after storing it) stores nothing new,
and the dispatcher is told through the outbox: it sits above the engine.
"""

from __future__ import annotations

import pickle
import time
from datetime import datetime

from akd.ids import derived_id
from akd.outbox import Outbox
from akd.store import projects as projects_store
from akd.store.db import Database
from akd.store.events import NewEvent, ingest_event


def scheduled_at(workflow_id: str, trigger_id: str) -> float:
    """Schedules name their workflows ``tick-<trigger id>-<RFC 3339 time>``; else now."""
    stamp = workflow_id.removeprefix(f"tick-{trigger_id}-")
    try:
        return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return time.time()


async def record_tick(db: Database, outbox: Outbox, trigger_id: str, workflow_id: str) -> str | None:
    """Store the tick (once per scheduled time) and announce it; its event id, or None
    when the trigger is gone (its schedule goes at the next reconcile)."""
    trg = await projects_store.trigger_by_id(db, trigger_id)
    if trg is None:
        return None
    millis = int(scheduled_at(workflow_id, trigger_id) * 1000)
    ev = NewEvent(
        project_id=trg.project_id, trigger_id=trigger_id, trigger_name=trg.name, event_type="tick",
        source="schedule", data=pickle.dumps({}), event_id=derived_id("evt", millis, workflow_id),
    )  # fmt: skip
    got = await ingest_event(db, ev)
    if not got.duplicate:
        outbox.announce(got.event_id)
    return got.event_id

"""Sync webhooks: the HTTP request waits here for the first ``http_outcome`` of its event."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from typing import Any

from akd.store import outcomes as outcomes_store
from akd.store.db import Database

# How often a waiter reads outcomes other akd of a shared store stored for its event.
REMOTE_POLL = 0.05


@dataclass
class Outcome:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    more: bool = False


class OutcomeRegistry:
    """One queue of outcomes per event whose HTTP caller is still waiting here.

    ``shared``: the store is shared with other akd, whose waiters read outcomes from it
    (``akd.store.outcomes``) when the session runs here and the request waits there.
    """

    def __init__(self, shared: bool = False) -> None:
        self._queues: dict[str, asyncio.Queue[Outcome]] = {}
        self.shared = shared

    def expect(self, event_id: str) -> asyncio.Queue[Outcome]:
        queue: asyncio.Queue[Outcome] = asyncio.Queue()
        self._queues[event_id] = queue
        return queue

    def forget(self, event_id: str) -> None:
        self._queues.pop(event_id, None)

    def deliver(self, event_id: str, outcome: Outcome) -> bool:
        """False when nobody waits (async webhook, or the caller gave up)."""
        queue = self._queues.get(event_id)
        if queue is None:
            return False
        queue.put_nowait(outcome)
        return True


def outcome_from_payload(payload: dict[str, Any]) -> Outcome:
    headers = {str(k): str(v) for k, v in (payload.get("headers") or {}).items()}
    body: bytes
    if payload.get("json") is not None:
        import json

        body = json.dumps(payload["json"]).encode()
        headers.setdefault("Content-Type", "application/json")
    elif isinstance(payload.get("body"), str):
        body = payload["body"].encode()
    elif payload.get("body_b64"):
        import base64

        body = base64.b64decode(payload["body_b64"])
    elif payload.get("body") is not None:
        import json

        body = json.dumps(payload["body"]).encode()
        headers.setdefault("Content-Type", "application/json")
    else:
        body = b""
    return Outcome(int(payload.get("status_code", 200)), headers, body, bool(payload.get("more")))


class RemoteOutcomes:
    """Outcomes of a session running on another akd of a shared store, for the request
    waiting here: read from the store (``akd.store.outcomes``) into the waiter's queue
    every REMOTE_POLL seconds; the stored ones go when the waiter stops."""

    def __init__(self, db: Database, event_id: str, queue: asyncio.Queue[Outcome]) -> None:
        self.db, self.event_id, self.queue, self.seq = db, event_id, queue, 0
        self._task = asyncio.create_task(self._poll(), name=f"outcomes-{event_id}")

    async def pull(self) -> None:
        for got in await outcomes_store.after(self.db, self.event_id, self.seq):
            self.seq = got.seq
            self.queue.put_nowait(Outcome(got.status, got.headers, got.body, got.more))

    async def _poll(self) -> None:
        try:
            while True:
                await asyncio.sleep(REMOTE_POLL)
                await self.pull()
        finally:
            with contextlib.suppress(Exception):
                await asyncio.shield(outcomes_store.forget(self.db, self.event_id))

    def stop(self) -> None:
        self._task.cancel()

"""Sync webhooks: the HTTP request waits here for the first ``http_outcome`` of its event."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any


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

"""The in-process doorbell of the event outbox.

Every event is stored as ``pending`` before anyone is told of it (``akd.store.events.
ingest_event``); the stored row is the outbox, which the dispatcher drains again after a
crash. This is only how the parts that store events (the API, connection deliveries,
the engine's schedule ticks) tell the dispatcher at once, without importing it: the
engine sits below the dispatcher and must not call up into it.
"""

from __future__ import annotations

from collections.abc import Callable


class Outbox:
    def __init__(self) -> None:
        self._listener: Callable[[str], None] | None = None
        # Announced before the dispatcher listened (a tick right after the worker starts);
        # stored anyway, so recovery would find them too: dispatching is idempotent.
        self._early: list[str] = []

    def listen(self, listener: Callable[[str], None]) -> None:
        self._listener = listener
        early, self._early = self._early, []
        for event_id in early:
            listener(event_id)

    def announce(self, event_id: str) -> None:
        """Event ``event_id`` is stored and pending: dispatch it in the background."""
        if self._listener is None:
            self._early.append(event_id)
        else:
            self._listener(event_id)

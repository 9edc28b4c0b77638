"""Session states: the one type every layer uses, with its live and final sets.

A session starts ``created`` (or ``queued`` behind a trigger's concurrency limit, in the
store so the queue survives a crash), becomes ``running`` when its runner starts and
ends in one of the final states. A ``SessionState`` is a ``str``: it compares equal to,
and is stored as, its value, so rows read back as plain strings test against it.
"""

from __future__ import annotations

from enum import StrEnum
from functools import cache


class SessionState(StrEnum):
    QUEUED = "queued"
    CREATED = "created"
    RUNNING = "running"
    COMPLETED = "completed"
    ERROR = "error"
    STOPPED = "stopped"

    @property
    def final(self) -> bool:
        return self in FINAL

    @property
    def live(self) -> bool:
        return self in LIVE


# Waiting for a slot, about to start, or running: what drains a deployment and what
# blocks deleting a project.
LIVE: frozenset[SessionState] = frozenset({SessionState.QUEUED, SessionState.CREATED, SessionState.RUNNING})
# Holding a runner or about to: what recovery after a restart looks at.
STARTED: frozenset[SessionState] = frozenset({SessionState.CREATED, SessionState.RUNNING})
FINAL: frozenset[SessionState] = frozenset({SessionState.COMPLETED, SessionState.ERROR, SessionState.STOPPED})
# The order lists and charts show them in.
ORDER: tuple[SessionState, ...] = tuple(SessionState)


@cache
def sql_set(states: frozenset[SessionState]) -> str:
    """``('a','b')`` for ``state IN ...`` in the store's SQL (constants only, never input)."""
    return "(" + ",".join(f"'{s.value}'" for s in sorted(states, key=ORDER.index)) + ")"

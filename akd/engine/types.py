"""Workflow and activity inputs and outputs (plain dataclasses, deterministic)."""

from dataclasses import dataclass, field
from typing import Any


@dataclass
class SessionInput:
    session_id: str


@dataclass
class SegmentInput:
    session_id: str
    # When the workflow task that schedules this segment began (Temporal's clock, seconds):
    # a newer segment's node keeps the session from an older one's (sessions.set_running).
    epoch: float = 0.0
    # The outcome of the wait the previous segment ended on, journaled at this position
    # before the runner starts (e.g. the event that ended a next_event wait).
    resume_seq: int = -1
    resume_value: Any = None


@dataclass
class SegmentResult:
    kind: str  # "done" | "sleep" | "wait"
    state: str = ""
    until: float = 0.0
    seq: int = -1
    wait: dict[str, Any] = field(default_factory=dict)
    # A session that ended in error: its error's type and message (the workflow fails with them).
    error: dict[str, Any] = field(default_factory=dict)


@dataclass
class TickInput:
    trigger_id: str


@dataclass
class StopInput:
    session_id: str
    reason: str = ""

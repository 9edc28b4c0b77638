"""Trigger flow control (an akd extension of the manifest): dedupe, rate limits, debounce
and concurrency queues, decided for each (event, trigger) inside the dispatch transaction.

Each trigger's rules come from its build's own manifest copy (cached by build), so a
session and the event that started it are always judged by the rules of the build that
runs it. What a rule needs to remember lives in SQLite (``akd.store.flow``, the
``queued`` sessions), so a crash loses neither a queue nor a window.
"""

from __future__ import annotations

import json
import logging
import pickle
from dataclasses import dataclass, field, replace
from typing import Any

import cel

from akd.errors import ManifestError
from akd.manifest import parse_manifest
from akd.models import FlowControl
from akd.store import events as events_store
from akd.store import flow as flow_store
from akd.store.db import Connection, Database
from akd.store.events import EventRecord
from akd.store.sessions import NewSession
from akd.store.states import SessionState

log = logging.getLogger(__name__)


class FlowKeyError(Exception):
    """A flow-control key did not evaluate for an event."""


@dataclass(frozen=True)
class Candidate:
    """A session a trigger starts for an event unless its flow control says otherwise."""

    session: NewSession
    trigger_name: str
    flow: FlowControl = field(default_factory=FlowControl)
    keys: dict[str, str] = field(default_factory=dict)  # rule name -> key value for this event


@dataclass
class Decision:
    """What flow control made of an event's candidates (filled inside the transaction)."""

    news: list[NewSession] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)  # why a candidate starts nothing
    deferred: bool = False  # a debounce holds the event for now
    queued_triggers: set[str] = field(default_factory=set)
    debounced: list[tuple[str, str]] = field(default_factory=list)  # (event that lost, the newer one)


def duration_text(seconds: float) -> str:
    """30 -> "30s", 90 -> "1m30s", 3600 -> "1h" (how the manifest writes durations)."""
    whole = int(seconds)
    if whole != seconds or whole == 0:
        return f"{seconds:g}s"
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return "".join(f"{n}{u}" for n, u in ((hours, "h"), (minutes, "m"), (secs, "s")) if n) or "0s"


class FlowRules:
    """The flow control of each build's triggers, and the compiled CEL of their keys."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._builds: dict[str, dict[str, FlowControl]] = {}
        self._programs: dict[str, Any] = {}

    async def of(self, build_id: str, trigger_name: str) -> FlowControl:
        if build_id not in self._builds:
            self._builds[build_id] = await self._load(build_id)
        return self._builds[build_id].get(trigger_name, FlowControl())

    async def _load(self, build_id: str) -> dict[str, FlowControl]:
        text = await flow_store.build_manifest(self.db, build_id)
        try:
            manifest = parse_manifest(text) if text else None
        except ManifestError as exc:  # validated at build time; a stored copy that no longer parses has none
            log.warning("build %s: its manifest no longer parses (%s); no flow control", build_id, exc)
            manifest = None
        return {} if manifest is None else {t.name: t.flow for t in manifest.triggers if t.flow}

    def keys(self, flow: FlowControl, event: EventRecord) -> dict[str, str]:
        """The key value of each of the trigger's rules for ``event``."""
        rules = {"concurrency": flow.concurrency, "debounce": flow.debounce, "dedupe": flow.dedupe,
                 "rate_limit": flow.rate_limit}  # fmt: skip
        return {name: self.key(rule.key, event, name) for name, rule in rules.items() if rule is not None}

    def key(self, expr: str, event: EventRecord, rule: str) -> str:
        if not expr:
            return ""
        try:
            program = self._programs.get(expr)
            if program is None:
                program = self._programs[expr] = cel.compile(expr)
            value = program.execute({"data": pickle.loads(event.data), "event_type": event.event_type})
        except Exception as exc:
            raise FlowKeyError(f"its {rule} key {expr!r} did not evaluate: {exc}") from None
        return value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)


async def decide(conn: Connection, candidates: list[Candidate], event_id: str, now: float) -> Decision:
    """Apply each candidate's flow control, in order dedupe, rate limit, debounce, concurrency."""
    decision = Decision()
    for cand in candidates:
        reason = await _gate(conn, cand, event_id, now)
        if reason:
            decision.reasons.append(reason)
        elif cand.flow.debounce is not None:
            await _hold(conn, cand, event_id, now, decision)
        else:
            decision.news.append(queue_if_limited(cand))
            if cand.flow.concurrency is not None:
                decision.queued_triggers.add(cand.session.trigger_id)
    return decision


def queue_if_limited(cand: Candidate) -> NewSession:
    """The candidate's session, queued in its concurrency group when the trigger has one."""
    limit = cand.flow.concurrency
    if limit is None:
        return cand.session
    key = cand.keys.get("concurrency", "")
    return replace(cand.session, state=SessionState.QUEUED, flow_key=key, flow_limit=limit.limit)


async def _gate(conn: Connection, cand: Candidate, event_id: str, now: float) -> str:
    """Why dedupe or the rate limit stops the candidate ("" when they let it through)."""
    trigger_id, name, flow = cand.session.trigger_id, cand.trigger_name, cand.flow
    if flow.dedupe is not None:
        key = cand.keys.get("dedupe", "")
        seen = await flow_store.marks_since(conn, trigger_id, "dedupe", key, now - flow.dedupe.window)
        if seen and seen[0] != event_id:
            return (f"deduplicated: trigger {name} already had key {key!r} from {seen[0]} "
                    f"within {duration_text(flow.dedupe.window)}")  # fmt: skip
    if flow.rate_limit is not None:
        rate, key = flow.rate_limit, cand.keys.get("rate_limit", "")
        passed = await flow_store.marks_since(conn, trigger_id, "rate", key, now - rate.period)
        if event_id not in passed and len(passed) >= rate.limit:
            return (f"throttled: trigger {name} allows {rate.limit} event(s) per {duration_text(rate.period)}"
                    + (f" for key {key!r}" if key else ""))  # fmt: skip
        await flow_store.add_mark(conn, trigger_id, "rate", key, event_id, now, now + rate.period)
    if flow.dedupe is not None:
        key = cand.keys.get("dedupe", "")
        await flow_store.add_mark(conn, trigger_id, "dedupe", key, event_id, now, now + flow.dedupe.window)
    return ""


async def _hold(conn: Connection, cand: Candidate, event_id: str, now: float, decision: Decision) -> None:
    """Make the event the one its debounce key waits on; the event it replaces is debounced."""
    assert cand.flow.debounce is not None
    key, due_at = cand.keys.get("debounce", ""), now + cand.flow.debounce.period
    lost = await flow_store.replace_debounce(conn, cand.session.trigger_id, key, event_id, due_at)
    if lost is not None and lost[0] == event_id:
        decision.reasons.append(f"debounced by {lost[1]} (trigger {cand.trigger_name})")
        return
    decision.deferred = True
    if lost is not None:
        decision.debounced.append(lost)
        await events_store.mark_superseded(conn, lost[0], f"debounced by {lost[1]} (trigger {cand.trigger_name})")

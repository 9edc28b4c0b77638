"""A session's timeline: its state changes, steps, sleeps, SDK calls and the wait in
progress, with durations.

Pure: rows of the session log in, positioned entries out (the page draws each as a bar
across the session's life). Labels are plain words: a ``next_signal`` call reads "wait
for a signal", a parked session "waiting for signal ping".
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from akd.store.sessions import LogEntry, SessionRecord
from akd.store.states import FINAL, SessionState

# The session log's kinds a timeline is drawn from (SDK calls are read apart: see ``build``).
KINDS = ("state", "step", "sleep", "stop_request", "stop", "restart", "resume", "storage")


@dataclass(frozen=True)
class Entry:
    start: float
    kind: str  # state | step | sleep | call | wait | stop_request | stop | restart | resume | storage
    label: str
    detail: str = ""
    duration: float | None = None
    ok: bool = True
    left: float = 0.0  # percent of the session's span
    width: float = 0.0
    seq: int | None = None  # a journaled step's position (what `session rerun --from-step` takes)
    running: bool = False  # still going (a sleep or wait in progress): its duration is "so far"
    args: str = ""  # a step's arguments and result (bounded reprs): shown cut, whole on hover
    result: str = ""


def build(session: SessionRecord, records: Sequence[LogEntry], calls: Sequence[LogEntry], now: float) -> list[Entry]:
    """Entries in time order, positioned between the session's creation and its end (or now).

    ``calls``: the session's ``call`` log records (SDK requests akd answered)."""
    t0 = session.created_at
    end = session.ended_at or now
    waiting = live_wait(session)
    raw = _from_records(records, session.ended_at, end, waiting) + [_call(c) for c in calls]
    if waiting is not None and waiting["kind"] != "sleep":
        since = float(waiting.get("since") or now)
        raw.append(Entry(since, "wait", wait_text(waiting), "", max(0.0, end - since), running=True))
    raw.sort(key=lambda e: e.start)
    span = max(end - t0, 1e-3)
    return [_placed(e, t0, span) for e in raw]


def live_wait(session: SessionRecord) -> dict[str, Any] | None:
    """What a live session waits on (the ``waiting`` column, times as epoch seconds)."""
    if not session.waiting or session.state in FINAL:
        return None
    data: dict[str, Any] = json.loads(session.waiting)
    return data


def wait_text(w: dict[str, Any]) -> str:
    """``sleeping until 22:37:05``, ``waiting for an event on trigger X with filter F``,
    ``waiting for signal ping`` (and ``, until ...`` for a wait with a timeout)."""
    if w["kind"] == "sleep":
        return f"sleeping until {_clock(float(w['until']))}"
    if w["kind"] == "event":
        sources = [_source(sub) for sub in w.get("subscriptions") or []]
        text = "waiting for an event " + ", or ".join(sources)
    else:
        names = [str(n) for n in w.get("names") or []]
        text = f"waiting for signal{'s' if len(names) > 1 else ''} " + " or ".join(names)
    return text + (f", until {_clock(float(w['until']))}" if w.get("until") else "")


def _source(sub: dict[str, Any]) -> str:
    text = f"on {sub.get('source_kind') or 'source'} {sub['source']}"
    return text + (f" with filter {sub['filter']}" if sub.get("filter") else "")


def _clock(t: float) -> str:
    """Local time (the daemon runs on the user's machine); the date too when not today."""
    when = datetime.fromtimestamp(t)
    return when.strftime("%H:%M:%S" if when.date() == datetime.now().date() else "%Y-%m-%d %H:%M:%S")


def _from_records(
    records: Sequence[LogEntry], ended_at: float | None, end: float, waiting: dict[str, Any] | None
) -> list[Entry]:
    states = [r for r in records if r.kind == "state"]
    entries = [_state(r, states[i + 1].t if i + 1 < len(states) else None, ended_at, end)
               for i, r in enumerate(states)]  # fmt: skip
    for r in records:
        data: dict[str, Any] = json.loads(r.data)
        if r.kind == "step":
            entries.append(_step(r.t, data))
        elif r.kind == "sleep":
            entries.append(_sleep(r.t, data, end, waiting))
        elif r.kind in ("stop_request", "stop"):
            detail = str(data.get("reason", "")) + (" (forced)" if data.get("forced") or data.get("force") else "")
            entries.append(Entry(r.t, r.kind, r.kind.replace("_", " "), detail))
        elif r.kind in _NOTES:
            label, detail = _NOTES[r.kind](data)
            entries.append(Entry(r.t, r.kind, label, detail, ok=r.kind == "resume"))
    return entries


def _down(data: dict[str, Any]) -> str:
    if not data.get("down_from"):
        return ""
    return f"; akd was down {float(data['down_to']) - float(data['down_from']):.1f} s"


# Records that mark a break in a session's run: a restart from the top, a resume by
# replay after akd restarted, a wait for storage.
_NOTES: dict[str, Any] = {
    "restart": lambda d: (f"attempt {d.get('attempt')}", str(d.get("why", ""))),
    "resume": lambda d: ("after akd restarted", f"replayed {d.get('steps', 0)} steps{_down(d)}"),
    "storage": lambda d: (str(d.get("what", "")), f"waited {float(d.get('waited', 0)):.1f} s for storage"),
}


def _state(r: LogEntry, next_t: float | None, ended_at: float | None, end: float) -> Entry:
    data = json.loads(r.data)
    state = str(data.get("state", "?"))
    final = state in FINAL
    until = next_t if next_t is not None else (None if final else (ended_at or end))
    return Entry(
        r.t, "state", state, str(data.get("error", "")), None if until is None else max(0.0, until - r.t),
        ok=state != SessionState.ERROR,
    )  # fmt: skip


def _step(t: float, data: dict[str, Any]) -> Entry:
    took = float(data.get("duration") or 0.0)
    name = str(data.get("name", "?"))
    args = str(data.get("args", ""))
    attempt = int(data.get("attempt") or 1)
    detail = str(data.get("error") or "") + (f" (attempt {attempt})" if attempt > 1 else "")
    seq = data.get("seq")
    return Entry(t - took, "step", name, detail.strip(), took, ok=bool(data.get("ok", True)),
                 seq=int(seq) if isinstance(seq, int) else None, args=args,
                 result=str(data.get("result_full") or data.get("result", "")))  # fmt: skip


def _sleep(t: float, data: dict[str, Any], end: float, waiting: dict[str, Any] | None) -> Entry:
    try:
        asked = float(data.get("args") or 0.0)
    except ValueError:
        asked = 0.0
    seq = data.get("seq")
    label = f"sleep({data.get('args', '')})"
    if waiting is not None and waiting["kind"] == "sleep" and waiting.get("seq") == seq:
        # In progress: drawn up to now, not as if it had already elapsed.
        return Entry(t, "sleep", label, wait_text(waiting), max(0.0, end - t), seq=seq, running=True)
    return Entry(t, "sleep", label, "", min(asked, max(0.0, end - t)), seq=int(seq) if isinstance(seq, int) else None)


# What each SDK request does, in plain words (the timeline's label for a "call" record).
_CALLS: dict[str, str] = {
    "next_event": "wait for an event", "next_signal": "wait for a signal", "deadline": "set a timeout",
    "subscribe": "subscribe to events", "unsubscribe": "unsubscribe", "signal": "send a signal",
    "start": "start a session", "http_outcome": "answer the webhook", "kv.get": "read a stored value",
    "kv.set": "store a value", "kv.del": "delete a stored value", "kv.add": "add to a stored value",
    "kv.check_and_set": "compare and store a value", "kv.keys": "list stored keys",
    "kv.publish": "publish a value", "kv.unpublish": "unpublish a value",
    "connection.refresh_oauth": "refresh an OAuth token",
}  # fmt: skip


def _call(r: LogEntry) -> Entry:
    data: dict[str, Any] = json.loads(r.data)
    name = str(data.get("name", "?"))
    waited = data.get("waited")
    seq = data.get("seq")
    return Entry(float(r.t) - float(waited or 0.0), "call", _CALLS.get(name, name.replace("_", " ")),
                 str(data.get("error") or ""), float(waited) if waited is not None else None,
                 ok=bool(data.get("ok", True)), seq=int(seq) if isinstance(seq, int) else None)  # fmt: skip


def _placed(e: Entry, t0: float, span: float) -> Entry:
    left = min(100.0, max(0.0, (e.start - t0) / span * 100))
    width = (e.duration or 0.0) / span * 100
    return Entry(e.start, e.kind, e.label, e.detail, e.duration, e.ok, round(left, 2),
                 round(max(0.4, min(width, 100.0 - left)), 2), e.seq, e.running, e.args, e.result)  # fmt: skip

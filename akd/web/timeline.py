"""A session's timeline: its state changes, steps, sleeps and SDK calls, with durations.

Pure: rows of the session log and journal in, positioned entries out (the page draws
each as a bar across the session's life).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from akd.store.db import Row


@dataclass(frozen=True)
class Entry:
    start: float
    kind: str  # state | step | sleep | call | stop_request | stop | restart | resume | storage
    label: str
    detail: str = ""
    duration: float | None = None
    ok: bool = True
    left: float = 0.0  # percent of the session's span
    width: float = 0.0
    seq: int | None = None  # a journaled step's position (what `session rerun --from-step` takes)


def build(session: Row, records: Sequence[Row], calls: Sequence[Row], now: float) -> list[Entry]:
    """Entries in time order, positioned between the session's creation and its end (or now)."""
    t0 = float(session["created_at"])
    end = float(session["ended_at"] or now)
    raw = _from_records(records, session["ended_at"], end) + [_call(c) for c in calls]
    raw.sort(key=lambda e: e.start)
    span = max(end - t0, 1e-3)
    return [_placed(e, t0, span) for e in raw]


def _from_records(records: Sequence[Row], ended_at: float | None, end: float) -> list[Entry]:
    states = [r for r in records if r["kind"] == "state"]
    entries = [_state(r, states[i + 1]["t"] if i + 1 < len(states) else None, ended_at, end)
               for i, r in enumerate(states)]  # fmt: skip
    for r in records:
        data: dict[str, Any] = json.loads(r["data"])
        if r["kind"] == "step":
            entries.append(_step(r["t"], data))
        elif r["kind"] == "sleep":
            entries.append(_sleep(r["t"], data, end))
        elif r["kind"] in ("stop_request", "stop"):
            detail = str(data.get("reason", "")) + (" (forced)" if data.get("forced") or data.get("force") else "")
            entries.append(Entry(r["t"], r["kind"], r["kind"].replace("_", " "), detail))
        elif r["kind"] in _NOTES:
            label, detail = _NOTES[r["kind"]](data)
            entries.append(Entry(r["t"], r["kind"], label, detail, ok=r["kind"] == "resume"))
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


def _state(r: Row, next_t: float | None, ended_at: float | None, end: float) -> Entry:
    data = json.loads(r["data"])
    state = str(data.get("state", "?"))
    final = state in ("completed", "error", "stopped")
    until = next_t if next_t is not None else (None if final else (ended_at or end))
    return Entry(
        r["t"], "state", state, str(data.get("error", "")), None if until is None else max(0.0, until - r["t"]),
        ok=state != "error",
    )  # fmt: skip


def _step(t: float, data: dict[str, Any]) -> Entry:
    took = float(data.get("duration") or 0.0)
    name = str(data.get("name", "?"))
    args = str(data.get("args", ""))
    attempt = int(data.get("attempt") or 1)
    detail = str(data.get("error") or "") + (f" (attempt {attempt})" if attempt > 1 else "")
    seq = data.get("seq")
    return Entry(t - took, "step", f"{name}({args})", detail.strip(), took, ok=bool(data.get("ok", True)),
                 seq=int(seq) if isinstance(seq, int) else None)  # fmt: skip


def _sleep(t: float, data: dict[str, Any], end: float) -> Entry:
    try:
        asked = float(data.get("args") or 0.0)
    except ValueError:
        asked = 0.0
    seq = data.get("seq")
    return Entry(t, "sleep", f"sleep({data.get('args', '')})", "", min(asked, max(0.0, end - t)),
                 seq=int(seq) if isinstance(seq, int) else None)  # fmt: skip


def _call(c: Row) -> Entry:
    return Entry(float(c["t"]), "call", str(c["name"]), f"step {c['seq']}", None, seq=int(c["seq"]))


def _placed(e: Entry, t0: float, span: float) -> Entry:
    left = min(100.0, max(0.0, (e.start - t0) / span * 100))
    width = (e.duration or 0.0) / span * 100
    return Entry(e.start, e.kind, e.label, e.detail, e.duration, e.ok, round(left, 2),
                 round(max(0.4, min(width, 100.0 - left)), 2), e.seq)  # fmt: skip

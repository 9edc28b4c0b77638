"""Sessions through a concurrency limit of 1 vs unqueued ones, one at a time either way.

One project, one non-durable (v2) handler that prints once, on two webhook triggers:
``free`` (no flow control) and ``serial`` (``concurrency: {limit: 1}``). Each round runs
the same number of sessions strictly one after another in both ways, in alternating
order:

- unqueued: POST to ``free``, wait for the session to end (``?wait=final``), POST the next;
- queued: POST every event to ``serial`` at once; akd queues all but one and starts the
  next when one ends.

Per-session time = (the last session's own ``ended_at`` - the wall clock just before the
first POST) / sessions. The ratio queued/unqueued is the per-session cost of going
through the queue (target <= 1.2x, issue 18). The details give the hand-off gap of the
queue (a session's start - the previous one's end, from the sessions' timestamps) and
the part of it that is the admission itself (from the session log).
"""

from __future__ import annotations

import asyncio
import itertools
import sys
import time
from typing import Any

from common import (
    Akd,
    AkdApi,
    BenchResult,
    Figure,
    akd_api,
    deploy_files,
    finish,
    fresh_akd,
    median,
    ms,
    p95,
    parse_time,
    run_bench,
)

ROUNDS = 5
SESSIONS = 20
PROGRAM = """\
def run(event):
    print("done")
"""
MANIFEST = """\
version: v2
project:
  name: bench_queue
  triggers:
    - name: free
      type: webhook
      call: program.py:run
    - name: serial
      type: webhook
      call: program.py:run
      concurrency: {limit: 1}
"""


async def _sessions(api: AkdApi, event_ids: list[str]) -> list[dict[str, Any]]:
    found = []
    for event_id in event_ids:
        (sid,) = await api.wait_event(event_id, timeout=120)
        found.append(await api.session(sid))
    bad = [s["session_id"] for s in found if s["state"] != "completed"]
    if bad:
        raise RuntimeError(f"sessions did not complete: {bad}")
    return found


async def unqueued(api: AkdApi, url: str) -> tuple[float, list[dict[str, Any]]]:
    t0 = time.time()
    events = []
    for _ in range(SESSIONS):
        events.append(await api.post_webhook(url))
        await api.wait_event(events[-1], timeout=120)
    found = await _sessions(api, events)
    return (max(parse_time(s["ended_at"]) for s in found) - t0) / SESSIONS, found


async def queued(api: AkdApi, url: str) -> tuple[float, list[dict[str, Any]]]:
    t0 = time.time()
    events = [await api.post_webhook(url) for _ in range(SESSIONS)]
    found = await _sessions(api, events)
    return (max(parse_time(s["ended_at"]) for s in found) - t0) / SESSIONS, found


def _gaps(found: list[dict[str, Any]]) -> tuple[list[float], int]:
    """Start of each session - end of the one before (in start order); overlapping pairs."""
    spans = sorted((parse_time(s["started_at"]), parse_time(s["ended_at"])) for s in found)
    gaps = [start - prev_end for (_, prev_end), (start, _) in itertools.pairwise(spans)]
    return gaps, sum(1 for g in gaps if g < 0)


async def _admissions(api: AkdApi, found: list[dict[str, Any]]) -> list[float]:
    """A queued session's admission (its 'created' state record) - the previous session's end."""
    spans = sorted(found, key=lambda s: parse_time(s["started_at"]))
    waits = []
    for prev, nxt in itertools.pairwise(spans):
        records = await api.log(nxt["session_id"])
        created = [parse_time(r["t"]) for r in records if r["kind"] == "state" and r.get("state") == "created"]
        if created:
            waits.append(created[-1] - parse_time(prev["ended_at"]))
    return waits


async def measure(akd: Akd, result: BenchResult) -> None:
    hooks = deploy_files(akd, {"autokitteh.yaml": MANIFEST, "program.py": PROGRAM})
    free: list[float] = []
    serial: list[float] = []
    gaps: list[float] = []
    admissions: list[float] = []
    overlaps = 0
    async with akd_api(akd) as api:
        await unqueued(api, hooks["free"])  # warm-up of both paths
        await queued(api, hooks["serial"])
        for rnd in range(ROUNDS):
            order = (unqueued, queued) if rnd % 2 == 0 else (queued, unqueued)
            for way in order:
                per, found = await way(api, hooks["free" if way is unqueued else "serial"])
                if way is unqueued:
                    free.append(per)
                else:
                    serial.append(per)
                    round_gaps, overlapping = _gaps(found)
                    gaps += round_gaps
                    overlaps += overlapping
                    admissions += await _admissions(api, found)
    result.figures.append(
        Figure(
            name="per session through a concurrency limit of 1 (queued), median of rounds",
            value=ms(median(serial)),
            unit="ms",
            spread=f"max {ms(max(serial)):.1f} ms",
            raw=ms(median(free)),
            raw_name="unqueued, one at a time",
            limits={"<= 1.2x unqueued (issue 18)": 1.2},
            target_on="ratio",
        )
    )
    result.details += [
        f"- Unqueued per session (ms), by round: {', '.join(f'{ms(v):.1f}' for v in free)}.",
        f"- Queued per session (ms), by round: {', '.join(f'{ms(v):.1f}' for v in serial)}.",
        f"- Queue hand-off (next session's start - previous end): median {ms(median(gaps)):.1f} ms, "
        f"p95 {ms(p95(gaps)):.1f} ms; overlapping sessions under the limit: {overlaps} (must be 0). Of that, "
        f"admission (a session's end to the next one's 'created' record, 1 ms resolution): median "
        f"{ms(median(admissions)):.1f} ms, p95 {ms(p95(admissions)):.1f} ms; the rest is the workflow start.",
    ]
    if overlaps:
        result.errors.append(f"{overlaps} pairs of sessions overlapped under a concurrency limit of 1")


def body(result: BenchResult) -> None:
    with fresh_akd() as akd:
        asyncio.run(measure(akd, result))


def main() -> int:
    runs = f"{ROUNDS} rounds of {SESSIONS} sessions each way (after one warm-up round), alternating order"
    return finish(run_bench("bench_queue", "queued sessions vs unqueued ones", runs, body))


if __name__ == "__main__":
    sys.exit(main())

"""Rerun from a late step: time from ``POST /sessions/{id}/rerun`` to the first live step.

A durable (v1) handler makes 1,000 journaled ``time.time()`` calls and prints. It runs
once; then, RUNS times (after a warm-up), it is rerun from step 999 (the new session
replays 999 journal entries and makes step 999 live) and the bench measures, on akd's own
clock: (a) POST -> the new session's step record #999 in its log (its ``t``), and
(b) POST -> the session's ``ended_at``. Interleaved with each run, the anchors: a rerun
of the same session from step 1 (the same path with a 1-entry journal: what a rerun
costs beyond replay), a fresh webhook session of a 1-step handler (POST -> its step #0),
and a raw temporalio empty workflow start-to-result on the same dev server.
"""

from __future__ import annotations

import asyncio
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from common import (
    Akd,
    AkdApi,
    BenchResult,
    Figure,
    RawTemporal,
    akd_api,
    deploy_handler,
    finish,
    fresh_akd,
    median,
    ms,
    p95,
    parse_time,
    raw_temporal,
    run_bench,
)

STEPS = 1000
FROM = 999
RUNS = 7
WARMUP = 1
HANDLER = """\
import time

def run(event):
    for _ in range({steps}):
        time.time()
    print("done")
"""
TARGET = {"< 0.5 s": 500.0}


@dataclass
class Times:
    """Seconds, one value per run."""

    first_live: list[float] = field(default_factory=list)
    completed: list[float] = field(default_factory=list)
    short_first_live: list[float] = field(default_factory=list)
    fresh_first_step: list[float] = field(default_factory=list)
    raw: list[float] = field(default_factory=list)
    copied: list[float] = field(default_factory=list)
    running: list[float] = field(default_factory=list)


def step_time(records: list[dict[str, Any]], seq: int, session_id: str) -> float:
    """The ``t`` of the session's step record with number ``seq``."""
    found = [r for r in records if r["kind"] == "step" and r.get("seq") == seq]
    if len(found) != 1:
        raise RuntimeError(f"session {session_id} logged {len(found)} records of step {seq}, expected 1")
    return parse_time(found[0]["t"])


def record_time(records: list[dict[str, Any]], session_id: str, kind: str, state: str = "") -> float:
    """The ``t`` of the session's first record of ``kind`` (and ``state``)."""
    for r in records:
        if r["kind"] == kind and (not state or r.get("state") == state):
            return parse_time(r["t"])
    raise RuntimeError(f"session {session_id} logged no {kind} {state} record")


async def completed(api: AkdApi, session_id: str, steps: int) -> dict[str, Any]:
    """Wait until the session ended; it must have completed with ``steps`` step records."""
    row: dict[str, Any] = await api.get(f"/sessions/{session_id}", wait="final", timeout=120)
    if row["state"] != "completed":
        raise RuntimeError(f"session {session_id} ended {row['state']}: {row.get('error')}")
    logged = sum(1 for r in await api.log(session_id, limit=5000) if r["kind"] == "step")
    if logged != steps:
        raise RuntimeError(f"session {session_id} logged {logged} steps, expected {steps}")
    return row


async def rerun(api: AkdApi, session_id: str, from_step: int) -> tuple[float, float, float, float]:
    """Rerun ``session_id`` from ``from_step``: seconds from the POST to the step record
    #from_step, to ``ended_at``, to the rerun record and to the ``running`` state record."""
    t0 = time.time()
    resp = await api.http.post(f"{api.base}/api/v1/sessions/{session_id}/rerun", json={"from_step": from_step})
    if resp.status_code != 201:
        raise RuntimeError(f"rerun of {session_id} answered {resp.status_code}: {resp.text[:200]}")
    new_id = resp.json()["session_id"]
    row = await completed(api, new_id, STEPS)
    records = await api.log(new_id, limit=5000)
    first_live = step_time(records, from_step, new_id)
    copied = record_time(records, new_id, "rerun")
    running = record_time(records, new_id, "state", "running")
    return first_live - t0, parse_time(row["ended_at"]) - t0, copied - t0, running - t0


async def fresh_one_step(api: AkdApi, url: str) -> float:
    """A new session of the 1-step handler: POST -> its step record #0."""
    t0 = time.time()
    session_id = (await api.wait_event(await api.post_webhook(url), timeout=60))[0]
    await completed(api, session_id, 1)
    return step_time(await api.log(session_id), 0, session_id) - t0


async def one_run(api: AkdApi, raw: RawTemporal, original: str, one_url: str, acc: Times | None) -> None:
    first_live, done, copied, running = await rerun(api, original, FROM)
    short = (await rerun(api, original, 1))[0]
    fresh = await fresh_one_step(api, one_url)
    raw_s = await raw.empty(eager=False)
    if acc is not None:
        acc.first_live.append(first_live)
        acc.completed.append(done)
        acc.short_first_live.append(short)
        acc.fresh_first_step.append(fresh)
        acc.raw.append(raw_s)
        acc.copied.append(copied)
        acc.running.append(running)


def spread(values: list[float]) -> str:
    return f"p95 {ms(p95(values)):.0f} ms"


def runs_text(values: list[float]) -> str:
    return ", ".join(f"{ms(v):.0f}" for v in values)


def report(acc: Times, result: BenchResult) -> None:
    raw = ms(median(acc.raw))
    result.figures += [
        Figure(f"rerun from step {FROM}: POST -> first live step", ms(median(acc.first_live)), "ms",
               spread=spread(acc.first_live), raw=raw, raw_name="empty workflow start-to-result", limits=TARGET),
        Figure(f"rerun from step {FROM}: POST -> completed", ms(median(acc.completed)), "ms",
               spread=spread(acc.completed), raw=raw, raw_name="empty workflow start-to-result"),
        Figure("anchor: rerun from step 1: POST -> first live step", ms(median(acc.short_first_live)), "ms",
               spread=spread(acc.short_first_live), raw=raw, raw_name="empty workflow start-to-result"),
        Figure("anchor: fresh 1-step session: webhook POST -> step #0", ms(median(acc.fresh_first_step)), "ms",
               spread=spread(acc.fresh_first_step), raw=raw, raw_name="empty workflow start-to-result"),
    ]  # fmt: skip
    replay = median(acc.first_live) - median(acc.short_first_live)
    result.details += [
        f"- Each run (ms): rerun from {FROM} to first live step {runs_text(acc.first_live)}; to completed "
        f"{runs_text(acc.completed)}; rerun from 1 to first live step {runs_text(acc.short_first_live)}; "
        f"fresh 1-step session to step #0 {runs_text(acc.fresh_first_step)}; raw {runs_text(acc.raw)}.",
        f"- Cost of the 998 extra journal entries (copy, load, replay): about {ms(replay):.0f} ms "
        "(median from step 999 minus median from step 1).",
        f"- Phases of the rerun from {FROM}, medians from the POST (ms): the rerun record (its time is taken just "
        f"before the journal copy) {ms(median(acc.copied)):.0f}; the `running` state record (copy, workflow "
        f"start, runner up) {ms(median(acc.running)):.0f}; first live step {ms(median(acc.first_live)):.0f} "
        f"(so journal load + replay of {FROM} entries after `running`: "
        f"{ms(median(acc.first_live) - median(acc.running)):.0f}).",
        "- Times are from the bench's clock at the POST to akd's timestamps (same machine): the step "
        "record's `t` and the session's `ended_at`.",
    ]


async def measure(akd: Akd, result: BenchResult) -> None:
    url = deploy_handler(akd, "bench_rerun", HANDLER.format(steps=STEPS), "v1")
    one_url = deploy_handler(akd, "bench_rerun_one", HANDLER.format(steps=1), "v1")
    acc = Times()
    async with akd_api(akd) as api, raw_temporal(akd) as raw:
        original = (await api.wait_event(await api.post_webhook(url), timeout=120))[0]
        await completed(api, original, STEPS)
        for i in range(WARMUP + RUNS):
            await one_run(api, raw, original, one_url, acc if i >= WARMUP else None)
    report(acc, result)


def body(result: BenchResult) -> None:
    with fresh_akd() as akd:
        asyncio.run(measure(akd, result))


def main() -> int:
    runs = (
        f"median and p95 of {RUNS} reruns from step {FROM} of a {STEPS}-step session (after {WARMUP} warm-up), "
        "each interleaved with the anchors"
    )
    return finish(run_bench("bench_rerun", "Rerun from step 999", runs, body))


if __name__ == "__main__":
    sys.exit(main())

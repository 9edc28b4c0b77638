"""Journaled steps: the cost of one trivial durable call, against raw temporalio activities.

A durable (v1) handler calls ``time.time()`` 200 times (200 journaled steps). Its per-call
time is measured two ways: from the session log (first to last step record / 199) and
from the session's duration (ended - started) / 200. Each of 5 runs (after 1 warm-up)
also runs, on the same dev server, a raw workflow of 200 trivial local activities and
one of 200 trivial regular activities in a row (per call = start-to-result / 200).
"""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass, field

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
    parse_time,
    raw_temporal,
    run_bench,
)

STEPS = 200
RUNS = 5
WARMUP = 1
HANDLER = f"""\
import time

def run(event):
    for _ in range({STEPS}):
        time.time()
    print("done")
"""
TARGET = {"< 1.5x raw local activity": 1.5}


@dataclass
class PerCall:
    """Seconds per call, one value per run."""

    log: list[float] = field(default_factory=list)
    duration: list[float] = field(default_factory=list)
    local: list[float] = field(default_factory=list)
    regular: list[float] = field(default_factory=list)


async def akd_run(api: AkdApi, url: str) -> tuple[float, float]:
    """One session of STEPS steps; returns (per call from the log, per call from the duration)."""
    session_ids = await api.wait_event(await api.post_webhook(url), timeout=120)
    session = await api.session(session_ids[0])
    if session["state"] != "completed":
        raise RuntimeError(f"session {session_ids[0]} ended {session['state']}: {session.get('error')}")
    steps = [parse_time(r["t"]) for r in await api.log(session_ids[0], limit=5000) if r["kind"] == "step"]
    if len(steps) != STEPS:
        raise RuntimeError(f"session {session_ids[0]} logged {len(steps)} steps, expected {STEPS}")
    duration = parse_time(session["ended_at"]) - parse_time(session["started_at"])
    return (steps[-1] - steps[0]) / (STEPS - 1), duration / STEPS


async def one_run(api: AkdApi, raw: RawTemporal, url: str, acc: PerCall | None) -> None:
    by_log, by_duration = await akd_run(api, url)
    local = await raw.chain("local", STEPS) / STEPS
    regular = await raw.chain("regular", STEPS) / STEPS
    if acc is not None:
        acc.log.append(by_log)
        acc.duration.append(by_duration)
        acc.local.append(local)
        acc.regular.append(regular)


def runs_text(values: list[float]) -> str:
    return ", ".join(f"{ms(v):.2f}" for v in values)


def report(acc: PerCall, result: BenchResult) -> None:
    local, regular = ms(median(acc.local)), ms(median(acc.regular))
    result.figures += [
        Figure("per journaled call, from the step log", ms(median(acc.log)), "ms", raw=local,
               raw_name="local activity", limits=TARGET, target_on="ratio"),
        Figure("per journaled call, from session duration / 200", ms(median(acc.duration)), "ms", raw=local,
               raw_name="local activity", limits=TARGET, target_on="ratio"),
        Figure("per journaled call, from the step log", ms(median(acc.log)), "ms", raw=regular,
               raw_name="regular activity"),
    ]  # fmt: skip
    result.details += [
        f"- Per call, each run (ms): akd from the log {runs_text(acc.log)}; akd from the duration "
        f"{runs_text(acc.duration)}; raw local activity {runs_text(acc.local)}; "
        f"raw regular activity {runs_text(acc.regular)}.",
        "- Raw per-call times include the workflow's start-to-result overhead divided by 200 "
        "(about 0.2 ms), so they slightly favour akd.",
    ]


async def measure(akd: Akd, result: BenchResult) -> None:
    url = deploy_handler(akd, "bench_steps", HANDLER, "v1")
    acc = PerCall()
    async with akd_api(akd) as api, raw_temporal(akd) as raw:
        for i in range(WARMUP + RUNS):
            await one_run(api, raw, url, acc if i >= WARMUP else None)
    report(acc, result)


def body(result: BenchResult) -> None:
    with fresh_akd() as akd:
        asyncio.run(measure(akd, result))


def main() -> int:
    runs = f"median of {RUNS} runs of {STEPS} steps each (after {WARMUP} warm-up), interleaved with the raw chains"
    return finish(run_bench("bench_steps", "Journaled steps", runs, body))


if __name__ == "__main__":
    sys.exit(main())

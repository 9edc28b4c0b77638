"""Webhook to completed session, against a raw temporalio empty workflow.

Each of 50 rounds (after 3 warm-up rounds) makes one of each: a POST to a non-durable
(v2) handler that only prints, then waiting on ``events/{id}?wait=final`` (both on one
keep-alive connection of the bench's minimal HTTP client); the same for a durable (v1)
handler; a raw empty workflow start-to-result (plain); the same with eager
start. The order is shuffled each round (fixed seed), so the machine's noise and the
tail of the previous request (see the phases in the details) fall alike on all four.
"""

from __future__ import annotations

import asyncio
import random
import sys
import time
from dataclasses import dataclass, field

from common import (
    Akd,
    AkdApi,
    BenchResult,
    Figure,
    LeanClient,
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

ROUNDS = 50
WARMUP = 3
HANDLER = "def run(event):\n    print('hello from the bench')\n"
KINDS = ["v2", "v1", "plain", "eager"]
SEED = 8
TARGETS = {"< 4x raw (issue 2)": 4.0, "<= 1.5x raw (issue 8)": 1.5}


@dataclass
class Samples:
    """Seconds per round, for one akd handler; phases from the session's own timestamps."""

    total: list[float] = field(default_factory=list)
    post: list[float] = field(default_factory=list)
    to_created: list[float] = field(default_factory=list)
    to_started: list[float] = field(default_factory=list)
    run: list[float] = field(default_factory=list)
    after_end: list[float] = field(default_factory=list)


@dataclass
class Accumulated:
    akd: dict[str, Samples] = field(default_factory=lambda: {"v2": Samples(), "v1": Samples()})
    raw: dict[str, list[float]] = field(default_factory=lambda: {"plain": [], "eager": []})


async def akd_round(api: AkdApi, lean: LeanClient, url: str, samples: Samples | None) -> None:
    wall0, t0 = time.time(), time.perf_counter()
    event_id = await lean.post_webhook(url)
    t_post = time.perf_counter()
    session_ids = await lean.wait_event(event_id)
    t_end, wall_end = time.perf_counter(), time.time()
    session = await api.session(session_ids[0])
    if session["state"] != "completed":
        raise RuntimeError(f"session {session_ids[0]} ended {session['state']}: {session.get('error')}")
    if samples is None:
        return
    created, started, ended = (parse_time(session[k]) for k in ("created_at", "started_at", "ended_at"))
    samples.total.append(t_end - t0)
    samples.post.append(t_post - t0)
    samples.to_created.append(created - wall0)
    samples.to_started.append(started - created)
    samples.run.append(ended - started)
    samples.after_end.append(wall_end - ended)


def phases(label: str, s: Samples) -> str:
    parts = [
        ("POST answered", s.post),
        ("POST to created", s.to_created),
        ("created to started", s.to_started),
        ("started to ended", s.run),
        ("ended to wait=final answered", s.after_end),
    ]
    text = ", ".join(f"{name} {ms(median(v)):.1f}" for name, v in parts)
    return f"- {label} phases (medians, ms; session timestamps have 1 ms resolution): {text}."


def versus(label: str, s: Samples, raw: list[float], raw_name: str) -> Figure:
    return Figure(
        name=f"{label}: POST to session completed, median",
        value=ms(median(s.total)),
        unit="ms",
        spread=f"p95 {ms(p95(s.total)):.1f} ms",
        raw=ms(median(raw)),
        raw_name=raw_name,
        limits=TARGETS,
        target_on="ratio",
    )


def figures(label: str, s: Samples, plain: list[float], eager: list[float]) -> list[Figure]:
    return [
        versus(label, s, plain, "empty workflow start-to-result"),
        versus(label, s, eager, "same, eager start"),
    ]


async def one_round(
    api: AkdApi,
    lean: LeanClient,
    raw: RawTemporal,
    urls: dict[str, str],
    order: list[str],
    acc: Accumulated | None,
) -> None:
    """One of each measurement, in the given order."""
    for kind in order:
        if kind in urls:
            await akd_round(api, lean, urls[kind], acc.akd[kind] if acc else None)
        else:
            elapsed = await raw.empty(eager=kind == "eager")
            if acc:
                acc.raw[kind].append(elapsed)


async def measure(akd: Akd, result: BenchResult) -> None:
    urls = {v: deploy_handler(akd, f"bench_webhook_{v}", HANDLER, v) for v in ("v2", "v1")}
    acc = Accumulated()
    shuffle = random.Random(SEED)
    async with akd_api(akd) as api, raw_temporal(akd) as raw:
        lean = LeanClient(api)
        try:
            for rnd in range(WARMUP + ROUNDS):
                order = shuffle.sample(KINDS, len(KINDS))
                await one_round(api, lean, raw, urls, order, acc if rnd >= WARMUP else None)
        finally:
            lean.close()
    samples, plain, eager = acc.akd, acc.raw["plain"], acc.raw["eager"]
    result.figures += figures("non-durable (v2)", samples["v2"], plain, eager)
    result.figures += figures("durable (v1)", samples["v1"], plain, eager)
    result.details += [
        f"- Raw empty workflow start-to-result: plain median {ms(median(plain)):.1f} ms "
        f"(p95 {ms(p95(plain)):.1f}), eager median {ms(median(eager)):.1f} ms (p95 {ms(p95(eager)):.1f}); "
        f"{raw.eager_started} of {WARMUP + ROUNDS} eager requests were actually started eagerly.",
        phases("Non-durable (v2)", samples["v2"]),
        phases("Durable (v1)", samples["v1"]),
    ]


def body(result: BenchResult) -> None:
    with fresh_akd() as akd:
        asyncio.run(measure(akd, result))


def main() -> int:
    runs = f"{ROUNDS} sequential rounds (after {WARMUP} warm-up rounds), all in one akd and one dev server"
    return finish(run_bench("bench_webhook", "Webhook to completed session", runs, body))


if __name__ == "__main__":
    sys.exit(main())

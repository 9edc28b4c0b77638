"""The effect of each tuning switch, one at a time, against the tuned defaults.

For each variant a fresh akd is started with the defaults except one switch turned back
(config through ``AKD_*`` environment variables), and in it: the webhook-to-completed
median of a trivial non-durable handler (ROUNDS sequential rounds after warm-ups), the
session throughput of LOAD POSTs from 8 concurrent clients (first POST to all completed),
and, on the same dev server, raw temporalio's empty workflow (start-to-result, eager and
plain, and the throughput of LOAD workflows from 8 concurrent starters). The switches:

- ``[temporal] sqlite_pragmas``: WAL + synchronous=normal for the dev server's temporal.db
  (off: the server's defaults, a rollback journal synced on every commit);
- ``[temporal] task_queue_partitions``: 1 (off: the server's default 4);
- ``[temporal] eager_start``: session workflows started eagerly (off: through a poll);
- the event loop: uvloop (off: ``AKD_EVENT_LOOP=asyncio``);
- ``[runner] batch_scheduling``: runners in SCHED_BATCH, so waking one never preempts akd
  (off: the normal policy).

Changes that are code rather than switches (SQLite on the event loop, the pre-forked
runner, the runner started during the workflow start, TCP_NODELAY) are in the tuning
log of bench/OBSERVATIONS.md with the figures measured before and after each.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from collections.abc import Iterator

from bench_ingest import CONCURRENCY, FINAL, blast, by_state, raw_throughput, wait_completed
from common import (
    Akd,
    BenchResult,
    Figure,
    LeanClient,
    akd_api,
    deploy_handler,
    finish,
    median,
    ms,
    raw_temporal,
    run_bench,
    temp_dir,
)

ROUNDS = 30
WARMUP = 5
LOAD = 300
HANDLER = "def run(event):\n    pass\n"
VARIANTS: list[tuple[str, dict[str, str]]] = [
    ("tuned defaults", {}),
    ("dev server SQLite pragmas off", {"AKD_TEMPORAL_SQLITE_PRAGMAS": ""}),
    ("4 task queue partitions (server default)", {"AKD_TEMPORAL_TASK_QUEUE_PARTITIONS": "4"}),
    ("eager workflow start off", {"AKD_TEMPORAL_EAGER_START": "false"}),
    ("asyncio event loop instead of uvloop", {"AKD_EVENT_LOOP": "asyncio"}),
    ("runners in the normal scheduling policy (not SCHED_BATCH)", {"AKD_RUNNER_BATCH_SCHEDULING": "false"}),
]


@contextlib.contextmanager
def akd_with(env: dict[str, str]) -> Iterator[Akd]:
    with temp_dir("akd-tuning-") as root:
        akd = Akd(root / "data")
        akd.env.update(env)
        akd.up()
        try:
            yield akd
        finally:
            akd.down()


async def measure(akd: Akd) -> dict[str, float]:
    url = deploy_handler(akd, "bench_tuning", HANDLER, "v2")
    out: dict[str, float] = {}
    async with akd_api(akd) as api, raw_temporal(akd) as raw:
        lean = LeanClient(api)
        for _ in range(WARMUP):
            await lean.wait_event(await lean.post_webhook(url))
            await raw.empty(eager=True)
            await raw.empty(eager=False)
        lat, eager, plain = [], [], []
        for _ in range(ROUNDS):
            t0 = time.perf_counter()
            await lean.wait_event(await lean.post_webhook(url))
            lat.append(time.perf_counter() - t0)
            eager.append(await raw.empty(eager=True))
            plain.append(await raw.empty(eager=False))
        out["latency"], out["raw_eager"], out["raw_plain"] = median(lat), median(eager), median(plain)
        before = await by_state(api)
        done_before = sum(before.get(s, 0) for s in FINAL)
        latencies, failures, t_first, _ = await blast(url, LOAD)
        if failures or len(latencies) != LOAD:
            raise RuntimeError(f"{len(latencies)} of {LOAD} POSTs got 202; other outcomes: {failures[:5]}")
        if await wait_completed(api, done_before + LOAD, 180) is None:
            raise RuntimeError(f"the {LOAD} sessions did not complete within 180 s")
        out["throughput"] = LOAD / (time.perf_counter() - t_first)
        out["raw_throughput"] = LOAD / await raw_throughput(raw, LOAD)
        lean.close()
    return out


def body(result: BenchResult) -> None:
    rows = []
    tuned: dict[str, float] = {}
    for name, env in VARIANTS:
        with akd_with(env) as akd:
            got = asyncio.run(measure(akd))
        tuned = tuned or got
        rows.append((name, got))
        result.figures.append(
            Figure(
                name=f"{name}: POST to session completed, median",
                value=ms(got["latency"]),
                unit="ms",
                raw=ms(got["raw_eager"]),
                raw_name="empty workflow, eager start, same server",
            )
        )
        result.figures.append(
            Figure(
                name=f"{name}: sessions completed per second ({LOAD} POSTs, {CONCURRENCY} clients)",
                value=got["throughput"],
                unit="/s",
                raw=got["raw_throughput"],
                raw_name=f"empty workflows per second ({CONCURRENCY} starters)",
            )
        )
    result.details.append(
        "| variant | akd POST to completed | vs tuned | raw eager | raw plain | akd sessions/s | vs tuned | raw /s |"
    )
    result.details.append("|---|---|---|---|---|---|---|---|")
    for name, got in rows:
        result.details.append(
            f"| {name} | {ms(got['latency']):.1f} ms | {got['latency'] / tuned['latency']:.2f}x "
            f"| {ms(got['raw_eager']):.1f} ms | {ms(got['raw_plain']):.1f} ms | {got['throughput']:.1f} "
            f"| {got['throughput'] / tuned['throughput']:.2f}x | {got['raw_throughput']:.1f} |"
        )


def main() -> int:
    runs = (
        f"{len(VARIANTS)} variants, each in a fresh akd: {ROUNDS} sequential webhook rounds (after {WARMUP} warm-ups) "
        f"and {LOAD} POSTs from {CONCURRENCY} clients, raw baselines on the same server"
    )
    return finish(run_bench("bench_tuning", "Tuning switches, one at a time", runs, body))


if __name__ == "__main__":
    sys.exit(main())

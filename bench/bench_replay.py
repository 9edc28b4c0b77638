"""Resuming a parked session by replaying its journal.

A durable (v1) handler makes 1,000 journaled calls (``time.time()``), sleeps 3 s (the
session parks: its runner ends) and prints. The resume cost is the time of the print
minus (the time of the sleep record + 3 s): a fresh runner replays 1,000 journal entries
before it gets there. Reference points in the same run: the same handler with no
journaled calls (the resume floor), and a raw temporalio workflow of 1,000 local
activities, a 3 s timer and one more local activity (lateness of that activity), with
the worker's workflow cache on and off (off: the raw worker replays the history).

Kill variant: akd is killed with SIGKILL as soon as the session logged its sleep; the
bench waits until the sleep deadline has passed (+0.5 s), starts akd again (``akctl up``)
and measures from ready (``daemon.json`` written) to the print.
"""

from __future__ import annotations

import asyncio
import sys
import time
from dataclasses import dataclass, field

from common import (
    Akd,
    AkdApi,
    BenchResult,
    Figure,
    akd_api,
    deploy_handler,
    finish,
    fresh_akd,
    median,
    ms,
    parse_time,
    raw_temporal,
    run_bench,
    wait_for,
)

CALLS = 1000
SLEEP = 3.0
RUNS = 5
KILL_RUNS = 3
TARGET = {"< 2 s": 2.0}
FINAL = ("completed", "error", "stopped")
HANDLER = """\
import time

def run(event):
    for _ in range({calls}):
        time.time()
    time.sleep({sleep})
    print("awake")
"""


@dataclass
class Samples:
    resume: list[float] = field(default_factory=list)
    floor: list[float] = field(default_factory=list)
    raw_cached: list[float] = field(default_factory=list)
    raw_replay: list[float] = field(default_factory=list)
    killed: list[float] = field(default_factory=list)
    from_up: list[float] = field(default_factory=list)
    restart: list[float] = field(default_factory=list)


def sleep_and_print(records: list[dict[str, object]], calls: int) -> tuple[float, float]:
    """Times of the sleep record and of the "awake" print in a finished session's log,
    after checking that replay repeated nothing: ``calls`` steps, one sleep, one print."""
    steps = [r for r in records if r["kind"] == "step"]
    sleeps = [parse_time(str(r["t"])) for r in records if r["kind"] == "sleep"]
    prints = [parse_time(str(r["t"])) for r in records if r["kind"] == "print" and r.get("text") == "awake"]
    if (len(steps), len(sleeps), len(prints)) != (calls, 1, 1):
        raise RuntimeError(
            f"expected {calls} steps, 1 sleep and 1 'awake' print in the log; found {len(steps)}, "
            f"{len(sleeps)} and {len(prints)}"
        )
    return sleeps[0], prints[0]


async def finished_log(api: AkdApi, event_id: str, timeout: int = 120) -> tuple[str, list[dict[str, object]]]:
    """Wait for the event's session to complete; returns its id and its whole log."""
    session_ids = await api.wait_event(event_id, timeout=timeout)
    session = await api.session(session_ids[0])
    if session["state"] != "completed":
        raise RuntimeError(f"session {session_ids[0]} ended {session['state']}: {session.get('error')}")
    return session_ids[0], await api.log(session_ids[0], limit=10_000)


async def resume_cost(api: AkdApi, url: str, calls: int) -> float:
    _, records = await finished_log(api, await api.post_webhook(url))
    sleep_t, print_t = sleep_and_print(records, calls)
    return print_t - (sleep_t + SLEEP)


async def normal_runs(akd: Akd, urls: dict[str, str], acc: Samples) -> None:
    async with akd_api(akd) as api, raw_temporal(akd) as cached, raw_temporal(akd, cache=False) as replay:
        for _ in range(RUNS):
            acc.resume.append(await resume_cost(api, urls["full"], CALLS))
            acc.floor.append(await resume_cost(api, urls["empty"], 0))
            acc.raw_cached.append(await cached.sleep_resume(CALLS, SLEEP))
            acc.raw_replay.append(await replay.sleep_resume(CALLS, SLEEP))


async def post_and_find(akd: Akd, url: str) -> str:
    """POST, then wait (bounded) until the session logged its sleep; returns the session id."""
    async with akd_api(akd) as api:
        event_id = await api.post_webhook(url)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            event = await api.get(f"/events/{event_id}")
            for session_id in event["session_ids"]:
                if any(r["kind"] == "sleep" for r in await api.log(session_id, order="desc", limit=3)):
                    return str(session_id)
            await asyncio.sleep(0.02)
    raise TimeoutError(f"the session of {event_id} did not reach its sleep in 120 s")


def current_url(akd: Akd, url: str) -> str:
    """A restarted akd listens on a new port (port 0); the webhook path stays."""
    return akd.url + "/webhooks/" + url.rsplit("/webhooks/", 1)[1]


def killed_run(akd: Akd, url: str, acc: Samples) -> None:
    session_id = asyncio.run(post_and_find(akd, current_url(akd, url)))
    killed_at = time.time()
    akd.kill9()
    time.sleep(max(0.0, killed_at + SLEEP + 0.5 - time.time()))
    t0_wall, t0 = time.time(), time.perf_counter()
    akd.up()
    acc.restart.append(time.perf_counter() - t0)
    ready = (akd.data_dir / "daemon.json").stat().st_mtime
    wait_for(lambda: akd.session(session_id)["state"] in FINAL, 60, what=f"session {session_id} to end")
    session = akd.session(session_id)
    if session["state"] != "completed":
        raise RuntimeError(f"session {session_id} ended {session['state']} after the restart: {session['error']}")
    records = akd.api("GET", f"/sessions/{session_id}/log", params={"limit": 10_000}).json()["records"]
    _, print_t = sleep_and_print(records, CALLS)
    acc.killed.append(print_t - ready)
    acc.from_up.append(print_t - t0_wall)


def report(acc: Samples, result: BenchResult) -> None:
    raw = median(acc.raw_replay)
    result.figures += [
        Figure(f"resume after sleep, {CALLS} journaled calls (print - sleep end)", median(acc.resume), "s",
               spread=f"max {max(acc.resume):.2f} s", raw=raw, raw_name="timer lateness, no workflow cache",
               limits=TARGET),
        Figure("kill -9 during sleep, restart: ready to print", median(acc.killed), "s",
               spread=f"max {max(acc.killed):.2f} s" if acc.killed else "", limits=TARGET),
        Figure("kill -9 during sleep, restart: `akctl up` invoked to print", median(acc.from_up), "s",
               spread=f"max {max(acc.from_up):.2f} s" if acc.from_up else ""),
    ]  # fmt: skip
    result.details += [
        f"- Resume cost per run (s): {', '.join(f'{v:.3f}' for v in acc.resume)}.",
        f"- Same handler without journaled calls (resume floor), median {ms(median(acc.floor)):.0f} ms; so "
        f"replaying {CALLS} entries costs about {ms(median(acc.resume) - median(acc.floor)):.0f} ms.",
        f"- Raw temporalio, {CALLS} local activities + {SLEEP:.0f} s timer + 1 local activity, lateness of the "
        f"last: median {ms(median(acc.raw_cached)):.0f} ms with the workflow cache, "
        f"{ms(raw):.0f} ms without it (history replay).",
        f"- Kill variant per run, ready to print (s): {', '.join(f'{v:.3f}' for v in acc.killed)} (it can be negative: "
        "akd resumes sessions during start-up, before it writes daemon.json); `akctl up` invoked to print: "
        f"{', '.join(f'{v:.2f}' for v in acc.from_up)}; `akctl up` (warm data dir) took median "
        f"{median(acc.restart):.2f} s."
        if acc.killed
        else "- Kill variant: no run completed.",
    ]


def body(result: BenchResult) -> None:
    acc = Samples()
    try:
        with fresh_akd() as akd:
            urls = {
                "full": deploy_handler(akd, "bench_replay", HANDLER.format(calls=CALLS, sleep=SLEEP), "v1"),
                "empty": deploy_handler(akd, "bench_replay_floor", HANDLER.format(calls=0, sleep=SLEEP), "v1"),
            }
            asyncio.run(normal_runs(akd, urls, acc))
            for _ in range(KILL_RUNS):
                killed_run(akd, urls["full"], acc)
    finally:
        if acc.resume:
            report(acc, result)


def main() -> int:
    runs = f"{RUNS} resume runs (interleaved with the reference runs), then {KILL_RUNS} kill -9 runs"
    return finish(run_bench("bench_replay", "Resume by replay", runs, body))


if __name__ == "__main__":
    sys.exit(main())

"""Memory of parked sessions (1,000 by default; ``--sessions N`` for more).

A durable (v1) handler only calls ``time.sleep(3600)``. RSS is the sum of VmRSS over
akd's pid and all its descendants (the Temporal dev server, the runner fork server,
runners), read from /proc. It is taken with akd idle after the deploy, then 1,000
webhook requests start 1,000 sessions (16 requests in flight), and the bench waits
until every session is running and parked (its sleep journaled) and ``/health`` reports
0 live runners, then takes it again. The whole bench fails after 10 minutes; it also
gives up early (and fails, reporting what it measured) when nothing has changed for
90 s while no runner is live, i.e. some sessions will never park. A last sample after
a quiet WATCH seconds shows what stays once the start-up burst's garbage is collected.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from common import (
    Akd,
    AkdApi,
    BenchResult,
    Figure,
    akd_api,
    cmdline,
    deploy_handler,
    descendants,
    finish,
    fresh_akd,
    run_bench,
    tree_rss_mb,
)
from temporalio.client import Client
from temporalio.service import RPCError

SESSIONS = 1000  # --sessions N
IN_FLIGHT = 16
DEADLINE_PER_1000 = 600.0
STALL = 90.0
WATCH = 20.0
WAKES = 10
PROJECT = "bench_memory"
HANDLER = "import time\n\ndef run(event):\n    time.sleep(3600)\n"
TARGET = {"< 50 MB per 1,000": 50.0}


@dataclass
class Observed:
    before_mb: float = 0.0
    after_mb: float = 0.0
    settled_mb: float = 0.0
    breakdown_settled: dict[str, float] = field(default_factory=dict)
    peak_mb: float = 0.0
    peak_procs: int = 0
    peak_live_runners: int = 0
    post_seconds: float = 0.0
    park_seconds: float = 0.0
    down_seconds: float = 0.0
    breakdown_before: dict[str, float] = field(default_factory=dict)
    breakdown_after: dict[str, float] = field(default_factory=dict)
    runner_procs_after: int = 0
    live_runners_after: int = 0
    states: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    watch_max_runners: int = 0
    watch_busy_samples: int = 0
    watch_samples: int = 0
    wake_oldest: list[float] = field(default_factory=list)
    wake_newest: list[float] = field(default_factory=list)


def comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def classify(akd_pid: int) -> dict[str, list[int]]:
    """akd's process tree by role: akd, temporal, forkserver, the one pre-forked idle runner
    (``/proc/<pid>/comm`` is ``akd-idle``), runners (anything else)."""
    roles: dict[str, list[int]] = {"akd": [akd_pid], "temporal": [], "forkserver": [], "idle": [], "runners": []}
    for pid in descendants(akd_pid):
        cmd = cmdline(pid)
        if comm(pid) == "akd-idle":
            roles["idle"].append(pid)
        elif "temporal" in cmd and "start-dev" in cmd:
            roles["temporal"].append(pid)
        elif "akd.runner.forkserver" in cmd and not roles["forkserver"]:
            roles["forkserver"].append(pid)
        else:
            roles["runners"].append(pid)
    return roles


def breakdown(akd_pid: int) -> tuple[float, dict[str, float], int]:
    """Total RSS (MB), RSS per role (MB) and the number of runner processes."""
    total, per = tree_rss_mb(akd_pid)
    roles = classify(akd_pid)
    by_role = {role: sum(per.get(p, 0) for p in pids) / 1024.0 for role, pids in roles.items()}
    return total, by_role, len(roles["runners"])


async def post_all(api: AkdApi, url: str) -> None:
    sem = asyncio.Semaphore(IN_FLIGHT)

    async def one() -> None:
        async with sem:
            await api.post_webhook(url)

    await asyncio.gather(*(one() for _ in range(SESSIONS)))


async def session_states(api: AkdApi) -> dict[str, int]:
    """Sessions of the bench project by state; "parked" = running with its sleep journaled."""
    rows = await api.get("/sessions", project=PROJECT, limit=SESSIONS * 2)
    counts: dict[str, int] = {}
    for r in rows:
        key = "parked" if r["state"] == "running" and r["steps"] >= 1 else str(r["state"])
        counts[key] = counts.get(key, 0) + 1
    return counts


async def sample(akd: Akd, api: AkdApi, obs: Observed) -> int:
    """Record the peaks; returns the number of live runners."""
    total, _, _ = breakdown(akd.pid)
    obs.peak_mb = max(obs.peak_mb, total)
    obs.peak_procs = max(obs.peak_procs, len(descendants(akd.pid)))
    live = int((await api.health())["runners"])
    obs.peak_live_runners = max(obs.peak_live_runners, live)
    return live


async def wait_parked(akd: Akd, api: AkdApi, obs: Observed, deadline: float) -> None:
    """Poll once a second until every session is parked and no runner is live, or until
    the deadline, or until nothing changed for STALL seconds with no live runner."""
    changed_at = time.monotonic()
    while time.monotonic() < deadline:
        live = await sample(akd, api, obs)
        states = await session_states(api)
        if states != obs.states or live:
            obs.states, changed_at = states, time.monotonic()
        if live == 0 and states.get("parked", 0) == SESSIONS:
            return
        if time.monotonic() - changed_at > STALL:
            return
        await asyncio.sleep(1.0)


async def measure(akd: Akd, obs: Observed) -> None:
    deadline = time.monotonic() + DEADLINE_PER_1000 * max(1.0, SESSIONS / 1000)
    url = deploy_handler(akd, PROJECT, HANDLER, "v1")
    await asyncio.sleep(2.0)
    obs.before_mb, obs.breakdown_before, _ = breakdown(akd.pid)
    async with akd_api(akd) as api:
        t0 = time.monotonic()
        await asyncio.wait_for(post_all(api, url), deadline - time.monotonic())
        obs.post_seconds = time.monotonic() - t0
        await wait_parked(akd, api, obs, deadline)
        obs.park_seconds = time.monotonic() - t0
        await asyncio.sleep(2.0)
        obs.after_mb, obs.breakdown_after, obs.runner_procs_after = breakdown(akd.pid)
        obs.live_runners_after = int((await api.health())["runners"])
        obs.states = await session_states(api)
        if obs.runner_procs_after:
            obs.notes.append(describe_runners(akd.pid))
        await watch_after(api, obs)
        obs.settled_mb, obs.breakdown_settled, _ = breakdown(akd.pid)
        await wake_some(api, obs)
        if obs.states.get("created"):
            obs.notes.append(await probe_created(akd, api))


async def watch_after(api: AkdApi, obs: Observed) -> None:
    """With every session parked, nothing should run: watch /health for WATCH seconds."""
    end = time.monotonic() + WATCH
    while time.monotonic() < end:
        live = int((await api.health())["runners"])
        obs.watch_samples += 1
        obs.watch_busy_samples += live > 0
        obs.watch_max_runners = max(obs.watch_max_runners, live)
        await asyncio.sleep(0.5)


async def wake_one(api: AkdApi, session_id: str) -> float:
    """Seconds from ``POST /sessions/{id}/wake`` (its sleep ends now) to the session completed."""
    t0 = time.perf_counter()
    resp = await api.http.post(f"{api.base}/api/v1/sessions/{session_id}/wake")
    resp.raise_for_status()
    done = await api.get(f"/sessions/{session_id}", wait="final", timeout=60)
    if done["state"] != "completed":
        raise RuntimeError(f"session {session_id} woke into {done['state']}")
    return time.perf_counter() - t0


async def wake_some(api: AkdApi, obs: Observed) -> None:
    """Wake WAKES of the first-parked sessions (long out of the worker's workflow cache when
    there are more parked sessions than it holds) and WAKES of the last-parked (still in
    it), one at a time, alternately."""
    rows = await api.get("/sessions", project=PROJECT, limit=SESSIONS * 2)
    rows.sort(key=lambda r: r["created_at"])
    for old, new in zip(rows[:WAKES], rows[-WAKES:][::-1], strict=False):
        obs.wake_oldest.append(await wake_one(api, old["session_id"]))
        obs.wake_newest.append(await wake_one(api, new["session_id"]))


def proc_state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "gone"


def describe_runners(akd_pid: int) -> str:
    """What the processes counted as runners are, while /health may say 0 live runners."""
    found = [f"pid {p} (state {proc_state(p)}): `{cmdline(p)[:80]}`" for p in classify(akd_pid)["runners"]]
    return "- Processes under akd counted as runners after the wait: " + "; ".join(found[:5]) + "."


async def probe_created(akd: Akd, api: AkdApi) -> str:
    """Ask Temporal about a few sessions still in state created: do their workflows exist?"""
    rows = await api.get("/sessions", project=PROJECT, state="created", limit=3)
    client = await Client.connect(str(akd.info()["temporal_address"]))
    found = []
    for row in rows:
        try:
            desc = await client.get_workflow_handle(row["session_id"]).describe()
            found.append(f"{row['session_id']}: workflow {desc.status.name if desc.status else '?'}")
        except RPCError as exc:
            found.append(f"{row['session_id']}: {exc}")
    return "- Sessions still `created`, asked of Temporal: " + "; ".join(found) + "."


def roles_text(by_role: dict[str, float]) -> str:
    return ", ".join(f"{role} {mb:.0f}" for role, mb in by_role.items())


def report(obs: Observed, result: BenchResult) -> None:
    parked = obs.states.get("parked", 0)
    if parked != SESSIONS:
        result.errors.append(
            f"only {parked} of {SESSIONS} sessions parked (sessions by state: {obs.states}); "
            f"gave up {obs.park_seconds:.0f} s after the first POST"
        )
    growth = obs.after_mb - obs.before_mb
    settled = (obs.settled_mb or obs.after_mb) - obs.before_mb
    per_1000 = settled * 1000 / parked if parked else 0.0
    result.figures += [
        Figure(f"RSS growth with {parked} of {SESSIONS} sessions parked", growth, "MB",
               spread=f"{obs.before_mb:.0f} -> {obs.after_mb:.0f} MB, 2 s after the last parked"),
        Figure(f"same, {WATCH:.0f} s later", settled, "MB",
               spread=f"{obs.before_mb:.0f} -> {obs.settled_mb:.0f} MB"),
        Figure("RSS growth per 1,000 parked sessions (settled)", per_1000, "MB",
               spread=f"{per_1000 * 1024 / 1000:.0f} KB per parked session", limits=TARGET if parked else {}),
    ]  # fmt: skip
    if obs.wake_oldest:
        oldest, newest = statistics.median(obs.wake_oldest), statistics.median(obs.wake_newest)
        result.figures.append(
            Figure("wake-up of a first-parked session, to completed", oldest * 1000, "ms", raw=newest * 1000,
                   raw_name="a last-parked one", spread=f"median of {len(obs.wake_oldest)} each",
                   limits={"<= 1.5x a last-parked one": 1.5}, target_on="ratio")
        )  # fmt: skip
    result.figures += [
        Figure("runner processes after the wait", float(obs.runner_procs_after), "",
               spread=f"/health runners {obs.live_runners_after}"),
    ]  # fmt: skip
    result.details += [
        f"- RSS by process (MB), before: {roles_text(obs.breakdown_before)}; after: "
        f"{roles_text(obs.breakdown_after)}; {WATCH:.0f} s later: {roles_text(obs.breakdown_settled)}. "
        f"Peak total while starting: {obs.peak_mb:.0f} MB.",
        f"- {SESSIONS} POSTs took {obs.post_seconds:.1f} s; the wait for parked sessions ended "
        f"{obs.park_seconds:.1f} s after the first POST with sessions by state {obs.states}. "
        f"Peak: {obs.peak_live_runners} live runners (/health), {obs.peak_procs} processes "
        "under akd (sampled once a second).",
        f"- In the {WATCH:.0f} s after that (sessions all parked, sleeping for an hour), /health reported live "
        f"runners in {obs.watch_busy_samples} of {obs.watch_samples} samples (max {obs.watch_max_runners}).",
        f"- `akctl down` with {parked} parked sessions took {obs.down_seconds:.1f} s.",
        *obs.notes,
    ]


def body(result: BenchResult) -> None:
    obs = Observed()
    try:
        with fresh_akd() as akd:
            try:
                asyncio.run(measure(akd, obs))
            finally:
                t0 = time.monotonic()
                akd.akctl("down", timeout=120)
                obs.down_seconds = time.monotonic() - t0
    finally:
        if obs.after_mb:
            report(obs, result)


def main() -> int:
    global SESSIONS
    if "--sessions" in sys.argv:
        SESSIONS = int(sys.argv[sys.argv.index("--sessions") + 1])
    runs = f"1 run of {SESSIONS} sessions (RSS sampled before, 2 s after the last parked and {WATCH:.0f} s later)"
    return finish(run_bench("bench_memory", "Memory of parked sessions", runs, body))


if __name__ == "__main__":
    sys.exit(main())

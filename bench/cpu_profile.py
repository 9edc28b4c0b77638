"""Where the CPU goes per session: akd, the Temporal dev server, the runner fork server.

A fresh akd runs N (default 600) trivial non-durable sessions, POSTed by 8 concurrent
clients; the CPU time (user + system, children included) of each process of akd's tree
is read from /proc before and after, and divided by N. ``--py-spy`` also records akd's
Python stacks (GIL holder only) to ``bench/akd-profile.txt`` for a flame summary. Used
to find and check the tuning changes logged in bench/OBSERVATIONS.md; not part of
run_all (it has no target of its own).

    .venv/bin/python bench/cpu_profile.py [N] [--py-spy]
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from bench_ingest import HANDLER, blast, by_state
from common import Akd, akd_api, cmdline, deploy_handler, descendants, fresh_akd


def cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def by_role(akd_pid: int) -> dict[str, float]:
    roles: dict[str, float] = {}
    for pid in [akd_pid, *descendants(akd_pid)]:
        cmd = cmdline(pid)
        role = "akd" if pid == akd_pid else "temporal" if "start-dev" in cmd else "fork server + runners"
        roles[role] = roles.get(role, 0.0) + cpu_seconds(pid)
    return roles


async def run(akd: Akd, n: int, spy: bool) -> None:
    url = deploy_handler(akd, "cpu_profile", HANDLER, "v2")
    async with akd_api(akd) as api:
        for _ in range(20):
            await api.wait_event(await api.post_webhook(url))
        done_before = sum((await by_state(api)).values())
        before = by_role(akd.pid)
        recorder = None
        if spy and shutil.which("py-spy", path=str(Path(sys.executable).parent)):
            out = Path(__file__).with_name("akd-profile.txt")
            recorder = subprocess.Popen(
                [str(Path(sys.executable).with_name("py-spy")), "record", "-p", str(akd.pid), "-o", str(out),
                 "-f", "raw", "-r", "200", "--nonblocking", "--gil"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
            await asyncio.sleep(1)
        latencies, failures, t_first, t_last = await blast(url, n)
        while sum((await by_state(api)).values()) - done_before < n or (await by_state(api)).keys() - {"completed"}:
            await asyncio.sleep(0.05)
        total = time.perf_counter() - t_first
        after = by_role(akd.pid)
        if recorder is not None:
            recorder.send_signal(2)
            recorder.wait(timeout=30)
    latencies.sort()
    p50, p99 = latencies[len(latencies) // 2] * 1000, latencies[int(len(latencies) * 0.99)] * 1000
    print(f"{len(latencies)} of {n} POSTs got 202 in {t_last - t_first:.2f} s (other: {failures or 'none'}); "
          f"p50 {p50:.1f} ms, p99 {p99:.1f} ms")  # fmt: skip
    print(f"all {n} sessions completed {total:.2f} s after the first POST: {n / total:.1f} sessions/s")
    for role, secs in after.items():
        used = secs - before.get(role, 0.0)
        print(f"  CPU {role}: {used:.2f} s, {used / n * 1000:.1f} ms per session")


def main() -> None:
    n = int(next((a for a in sys.argv[1:] if a.isdigit()), "600"))
    with fresh_akd() as akd:
        asyncio.run(run(akd, n, "--py-spy" in sys.argv))


if __name__ == "__main__":
    main()

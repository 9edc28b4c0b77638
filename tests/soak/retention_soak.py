"""Retention soak: a day of traffic, time-compressed, with retention shrunk to match.

The claim under test (issue 8): with retention on, the data dir stays bounded however
long akd runs. A real day cannot be waited for, so time is compressed: retention keeps
finished sessions for ``window`` seconds instead of 30 days, the sweep runs every second,
log files are cut at 1 MB, and webhook traffic arrives at a steady ``rate`` for
``duration`` seconds. With the defaults (240 s, 5 sessions/s, 40 s window) that is
1,200 sessions (each with prints, journaled steps and its Temporal history) over six
retention windows; the same count is a day of one webhook every 72 seconds.

The window must stay above ~30 s: the dev server defers deleting a workflow that closed
only seconds earlier (its close is still being recorded), and such deletes were seen to
stay pending for minutes; with real retention (days) that never happens.

Every ``sample`` seconds the soak records the size of every file under the data dir
(akd.db and its WAL, temporal.db and its WAL, logs, builds), how many sessions akd
stores and how many workflow executions Temporal still lists. After the first two
windows nothing may keep growing: for akd's own files and for Temporal's, the size in
the last third of the run may exceed the size in the middle third by at most 25 %
(SQLite files keep their high-water mark and reuse freed pages); akd may store no more
sessions than a window of traffic plus the sweep's slack, and Temporal may list at most
a window of traffic more at the end than in the middle. The report says which held.

Run the full soak with ``python -m tests.soak.retention_soak [DURATION RATE WINDOW]``;
the test suite runs a short one.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.e2e.harness import Akd, wait_for, write_project

MANIFEST = """\
version: v1
project:
  name: retention
  triggers:
    - name: hit
      type: webhook
      call: program.py:run
"""

PROGRAM = """\
import autokitteh as ak

@ak.activity
def work(n, i):
    return {"n": n, "i": i, "pad": "x" * 200}

def run(event):
    n = event.data.body.json["n"]
    for i in range(3):
        print(f"{n} step {i}", work(n, i)["pad"][:20])
    if n % 10 == 9:
        raise ValueError(f"session {n} fails on purpose")
    return n
"""


@dataclass
class Sample:
    t: float
    total_bytes: int
    files: dict[str, int]
    stored_sessions: int
    workflows: int  # executions Temporal still keeps (its visibility count), -1 if unknown


@dataclass
class Report:
    duration: float
    rate: float
    window: float
    sent: int = 0
    accepted: int = 0
    samples: list[Sample] = field(default_factory=list)
    middle_peak_bytes: int = 0  # akd's own files: akd.db*, logs/
    last_peak_bytes: int = 0
    middle_peak_temporal_bytes: int = 0  # temporal.db*
    last_peak_temporal_bytes: int = 0
    steady_stored_max: int = 0
    stored_limit: int = 0
    middle_peak_workflows: int = 0
    last_peak_workflows: int = 0
    details: list[str] = field(default_factory=list)

    def akd_bounded(self) -> bool:
        """akd's own store: sessions stored and akd.db + logs stop growing."""
        grew = self.last_peak_bytes > 1.25 * self.middle_peak_bytes
        return self.accepted == self.sent and not grew and self.steady_stored_max <= self.stored_limit

    def temporal_bounded(self) -> bool:
        """Temporal's store: executions listed and temporal.db stop growing."""
        grew = self.last_peak_temporal_bytes > 1.25 * self.middle_peak_temporal_bytes
        piled_up = self.last_peak_workflows > self.middle_peak_workflows + self.rate * self.window
        return not grew and not piled_up

    def ok(self) -> bool:
        return self.akd_bounded() and self.temporal_bounded()


def workflow_count(akd: Akd) -> int:
    """How many workflow executions the embedded Temporal server still keeps."""
    from akd.temporal_server import temporal_binary

    address = akd.info().get("temporal_address", "")
    try:
        res = subprocess.run([str(temporal_binary()), "workflow", "count", "--address", address],
                             capture_output=True, text=True, timeout=10)  # fmt: skip
        return int(res.stdout.split(":")[-1].strip())
    except (subprocess.SubprocessError, ValueError, OSError):
        return -1


def dir_sizes(root: Path) -> dict[str, int]:
    sizes: dict[str, int] = {}
    for base, _dirs, names in os.walk(root):
        for name in names:
            path = Path(base) / name
            try:
                size = path.stat().st_size
            except OSError:
                continue  # removed while walking
            rel = path.relative_to(root)
            key = str(rel) if rel.parts[0] != "builds" else "builds/"
            sizes[key] = sizes.get(key, 0) + size
    return sizes


class Sender(threading.Thread):
    """POSTs at a steady rate (open loop) until ``duration`` is over."""

    def __init__(self, url: str, rate: float, duration: float) -> None:
        super().__init__(daemon=True)
        self.url, self.rate, self.duration = url, rate, duration
        self.sent = self.accepted = 0
        self.failures: list[str] = []

    def run(self) -> None:
        t0 = time.monotonic()
        with httpx.Client(timeout=30) as http:
            n = 0
            while (due := t0 + n / self.rate) < t0 + self.duration:
                time.sleep(max(0.0, due - time.monotonic()))
                self.sent += 1
                try:
                    resp = http.post(self.url, json={"n": n})
                    if resp.status_code == 202:
                        self.accepted += 1
                    else:
                        self.failures.append(str(resp.status_code))
                except httpx.HTTPError as exc:
                    self.failures.append(type(exc).__name__)
                n += 1


def retention_soak(duration: float = 240.0, rate: float = 5.0, window: float = 40.0, sample: float = 2.0) -> Report:
    report = Report(duration=duration, rate=rate, window=window)
    with tempfile.TemporaryDirectory(prefix="akd-retention-") as tmp:
        root = Path(tmp)
        akd = Akd(root / "data")
        akd.env.update(
            {
                "AKD_RETENTION_DAYS": repr(window / 86400),
                "AKD_RETENTION_INTERVAL": "1",
                "AKD_RETENTION_LOG_MAX_MB": "1",
            }
        )
        akd.up()
        try:
            write_project(root / "p", {"autokitteh.yaml": MANIFEST, "program.py": PROGRAM})
            url = akd.deploy(root / "p")["webhooks"]["hit"]
            sender = Sender(url, rate, duration)
            t0 = time.monotonic()
            sender.start()
            while sender.is_alive() or time.monotonic() - t0 < duration + window:
                counts = akd.api("GET", "/stats/counts").json()["by_state"]
                files = dir_sizes(akd.data_dir)
                report.samples.append(Sample(round(time.monotonic() - t0, 1), sum(files.values()), files,
                                             sum(counts.values()), workflow_count(akd)))  # fmt: skip
                time.sleep(sample)
            sender.join()
            report.sent, report.accepted = sender.sent, sender.accepted
            if sender.failures:
                report.details.append(f"POSTs that did not get 202: {sender.failures[:10]}")
            # Everything sent has ended (the store then holds at most a window of it).
            wait_for(lambda: akd.api("GET", "/stats/counts").json()["by_state"].keys() <= {"completed", "error"},
                     60, what="every session to end")  # fmt: skip
        finally:
            akd.down()
            log_path = akd.data_dir / "logs" / "akd.log"
            warnings = [ln for ln in log_path.read_text().splitlines() if " WARNING " in ln or " ERROR " in ln]
            if warnings:
                report.details.append(f"{len(warnings)} warnings in akd.log, the first: {warnings[:3]}")
    warm = 2 * window
    steady = [s for s in report.samples if warm <= s.t <= duration]
    third = (duration - warm) / 2
    middle = [s for s in steady if s.t < warm + third]
    last = [s for s in steady if s.t >= warm + third]
    report.middle_peak_bytes = max((akd_bytes(s) for s in middle), default=0)
    report.last_peak_bytes = max((akd_bytes(s) for s in last), default=0)
    report.middle_peak_temporal_bytes = max((temporal_bytes(s) for s in middle), default=0)
    report.last_peak_temporal_bytes = max((temporal_bytes(s) for s in last), default=0)
    report.steady_stored_max = max((s.stored_sessions for s in steady), default=0)
    report.middle_peak_workflows = max((s.workflows for s in middle), default=0)
    report.last_peak_workflows = max((s.workflows for s in last), default=0)
    # A window of traffic, plus what arrives while a sweep waits (1 s) and the sessions
    # still running, with a 50 % margin for a busy machine.
    report.stored_limit = int(rate * (window + 5) * 1.5)
    return report


def akd_bytes(s: Sample) -> int:
    return sum(v for k, v in s.files.items() if k.startswith(("akd.db", "logs/")))


def temporal_bytes(s: Sample) -> int:
    return sum(v for k, v in s.files.items() if k.startswith("temporal.db"))


def summary(report: Report) -> dict[str, Any]:
    biggest = max(report.samples, key=lambda s: s.total_bytes) if report.samples else None
    return {
        "ok": report.ok(),
        "akd_store_bounded": report.akd_bounded(),
        "temporal_store_bounded": report.temporal_bounded(),
        "duration_s": report.duration,
        "rate_per_s": report.rate,
        "retention_window_s": report.window,
        "sent": report.sent,
        "accepted": report.accepted,
        "akd_files_middle_third_peak_MB": round(report.middle_peak_bytes / 1e6, 2),
        "akd_files_last_third_peak_MB": round(report.last_peak_bytes / 1e6, 2),
        "temporal_db_middle_third_peak_MB": round(report.middle_peak_temporal_bytes / 1e6, 2),
        "temporal_db_last_third_peak_MB": round(report.last_peak_temporal_bytes / 1e6, 2),
        "steady_stored_sessions_max": report.steady_stored_max,
        "stored_sessions_limit": report.stored_limit,
        "middle_third_peak_temporal_workflows": report.middle_peak_workflows,
        "last_third_peak_temporal_workflows": report.last_peak_workflows,
        "largest_sample_files_MB": {k: round(v / 1e6, 2) for k, v in sorted(biggest.files.items())} if biggest else {},
        "timeline (s, MB, sessions stored, Temporal workflows)": [
            (s.t, round(s.total_bytes / 1e6, 2), s.stored_sessions, s.workflows) for s in report.samples
        ],
        "details": report.details,
    }


def main(argv: list[str]) -> None:
    duration = float(argv[1]) if len(argv) > 1 else 240.0
    rate = float(argv[2]) if len(argv) > 2 else 5.0
    window = float(argv[3]) if len(argv) > 3 else 40.0
    report = retention_soak(duration, rate, window)
    print(json.dumps(summary(report), indent=2))
    sys.exit(0 if report.ok() else 1)


if __name__ == "__main__":
    main(sys.argv)

"""Full-disk soak: durable sessions with side effects run while the data dir's
filesystem (a small tmpfs) fills up and frees again, over and over.

Run it with ``python -m tests.soak.disk_soak [SESSIONS] [FAULTS]`` (as root: it mounts a
tmpfs); the test suite runs a shorter one. The report counts what akd promises under a
full disk: every event that got 202 started a session that completes, no print is lost
or duplicated, and a step runs at most once more per session per fault (only the one in
flight when a write failed).
"""

from __future__ import annotations

import collections
import json
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx

from tests.disks import fill, mount_tmpfs, unmount
from tests.e2e.harness import Akd, wait_for, write_project

STEPS = 6

MANIFEST = """\
version: v1
project:
  name: disksoak
  triggers:
    - name: start
      type: webhook
      call: program.py:run
"""

PROGRAM = """\
import subprocess

OUT = {out!r}

def run(event):
    n = event.data.body.json["n"]
    for i in range({steps}):
        subprocess.run(["sh", "-c", f"echo {{n}} {{i}} >> {{OUT}}; sleep 0.05"])  # a journaled step
        print(f"{{n}} step {{i}}")
"""


class NoTmpfs(Exception):
    """A tmpfs could not be mounted here (needs root)."""


@dataclass
class Report:
    sessions: int = 0  # events sent
    acknowledged: int = 0  # of them, answered 202
    refused: dict[int, int] = field(default_factory=dict)  # other statuses while the disk was full
    faults: int = 0
    completed: int = 0
    lost_events: int = 0  # acknowledged, but no session
    missing_effects: int = 0
    max_repeats_per_session: int = 0
    lost_prints: int = 0
    duplicated_prints: int = 0
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return (
            self.acknowledged > 0
            and self.completed == self.acknowledged
            and self.lost_events == 0
            and self.missing_effects == 0
            and self.lost_prints == 0
            and self.duplicated_prints == 0
            and self.max_repeats_per_session <= self.faults
        )


def _mount(size_mb: int) -> Path:
    mnt = Path(tempfile.mkdtemp(prefix="akd-disk-soak-"))
    error = mount_tmpfs(mnt, size_mb)
    if error:
        mnt.rmdir()
        raise NoTmpfs(error)
    return mnt


def _send(url: str, count: int, acked: dict[int, str], refused: collections.Counter[int], stop: float) -> None:
    """Start ``count`` sessions, retrying each refused one until it is acknowledged."""
    with httpx.Client(timeout=10) as client:
        for n in range(count):
            while time.monotonic() < stop:
                try:
                    resp = client.post(url, json={"n": n})
                except httpx.HTTPError:
                    refused[0] += 1
                    continue
                if resp.status_code == 202:
                    acked[n] = resp.headers["AutoKitteh-Event-ID"]
                    break
                refused[resp.status_code] += 1
                time.sleep(0.2)
            time.sleep(0.05)


def disk_soak(
    sessions: int = 40, faults: int = 6, hold: float = 3.0, size_mb: int = 128, timeout: float = 600
) -> Report:
    started = time.monotonic()
    report = Report(sessions=sessions)
    mnt = _mount(size_mb)
    work = Path(tempfile.mkdtemp(prefix="akd-disk-soak-work-"))
    out = work / "effects.txt"
    project = write_project(
        work / "proj", {"autokitteh.yaml": MANIFEST, "program.py": PROGRAM.format(out=str(out), steps=STEPS)}
    )
    akd = Akd(mnt / "data")
    try:
        akd.up()
        url = akd.deploy(project)["webhooks"]["start"]
        acked: dict[int, str] = {}
        refused: collections.Counter[int] = collections.Counter()
        sender = threading.Thread(target=_send, args=(url, sessions, acked, refused, started + timeout / 2))
        sender.start()
        filler = mnt / "filler"
        for _ in range(faults):
            time.sleep(1.0)
            fill(filler)
            report.faults += 1
            time.sleep(hold)  # the disk stays full while sessions try to journal their steps
            filler.unlink()
        sender.join()
        report.acknowledged, report.refused = len(acked), dict(refused)
        _check(akd, acked, out, report, started + timeout)
    finally:
        akd.down()
        unmount(mnt)
        mnt.rmdir()
    report.seconds = round(time.monotonic() - started, 1)
    return report


def _check(akd: Akd, acked: dict[int, str], out: Path, report: Report, deadline: float) -> None:
    sids: dict[int, str] = {}
    for n, event_id in acked.items():
        ids = akd.api("GET", f"/events/{event_id}").json().get("session_ids") or []
        if not ids:
            ids = wait_for(
                lambda e=event_id: akd.api("GET", f"/events/{e}").json().get("session_ids"),  # type: ignore[misc]
                max(1.0, deadline - time.monotonic()), what=f"a session for event {event_id}",
            )  # fmt: skip
        sids[n] = ids[0]
    for n, sid in sids.items():
        state = akd.wait_session(sid, timeout=max(1.0, deadline - time.monotonic()))["state"]
        report.completed += state == "completed"
        prints = collections.Counter(akd.prints(sid))
        for i in range(STEPS):
            seen = prints.pop(f"{n} step {i}", 0)
            report.lost_prints += seen == 0
            report.duplicated_prints += max(0, seen - 1)
        report.duplicated_prints += sum(prints.values())
    effects = collections.Counter(tuple(line.split()) for line in out.read_text().splitlines()) if out.exists() else {}
    for n in sids:
        repeats = 0
        for i in range(STEPS):
            seen = effects.get((str(n), str(i)), 0)
            report.missing_effects += seen == 0
            repeats += max(0, seen - 1)
        report.max_repeats_per_session = max(report.max_repeats_per_session, repeats)


def main() -> None:
    sessions = int(sys.argv[1]) if len(sys.argv) > 1 else 40
    faults = int(sys.argv[2]) if len(sys.argv) > 2 else 6
    try:
        report = disk_soak(sessions, faults)
    except NoTmpfs as exc:
        sys.exit(f"the disk soak mounts a tmpfs and needs root: {exc}")
    print(json.dumps(asdict(report), indent=2))
    print("PASS" if report.ok else "FAIL")
    sys.exit(0 if report.ok else 1)


if __name__ == "__main__":
    main()

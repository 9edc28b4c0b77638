"""Crash soak: durable sessions with side effects, sleeps and next_event waits while
akd is killed with SIGKILL at random moments and restarted.

Run the full soak (100 sessions, 10 kills) with ``python -m tests.soak.soak``; the test
suite runs a shorter one. The report counts what the durability contract promises:
every session completes, a kill makes each session repeat at most its one step in flight
(several sessions mid-step at a kill may each repeat theirs), no print is lost or
duplicated, and every event that got 202 started exactly one session.
"""

from __future__ import annotations

import collections
import itertools
import json
import random
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
  name: soak
  triggers:
    - name: start
      type: webhook
      call: program.py:run
    - name: poke
      type: webhook
"""

PROGRAM = """\
import time
import autokitteh as ak

OUT = {out!r}

@ak.activity
def effect(n, i):
    with open(OUT, "a") as f:
        f.write(f"{{n}} {{i}} {{time.time()}}\\n")
    time.sleep(0.05)

def run(event):
    n = event.data.body.json["n"]
    sub = ak.subscribe("poke")
    for i in range(3):
        effect(n, i)
        print(f"{{n}} step {{i}}")
    time.sleep(event.data.body.json["sleep"])
    print(f"{{n}} slept")
    got = ak.next_event(sub, timeout=600)
    print(f"{{n}} poked {{got is not None}}")
    for i in range(3, 6):
        effect(n, i)
        print(f"{{n}} step {{i}}")
    return n
"""


@dataclass
class Report:
    sessions: int = 0
    completed: int = 0
    kills: int = 0
    repeated_effects: int = 0
    # Repeats beyond one per session per kill, and repeats no kill explains: both must be 0.
    excess_repeats: int = 0
    unexplained_repeats: int = 0
    missing_effects: int = 0
    lost_prints: int = 0
    duplicated_prints: int = 0
    undispatched_events: int = 0
    seconds: float = 0.0
    details: list[str] = field(default_factory=list)

    def ok(self) -> bool:
        return (self.completed == self.sessions and self.missing_effects == 0 and self.lost_prints == 0
                and self.duplicated_prints == 0 and self.undispatched_events == 0
                and self.excess_repeats == 0 and self.unexplained_repeats == 0)  # fmt: skip


def expected_prints(n: int) -> list[str]:
    return (
        [f"{n} step {i}" for i in range(3)] + [f"{n} slept", f"{n} poked True"] + [f"{n} step {i}" for i in range(3, 6)]
    )


class Poker(threading.Thread):
    """Sends a poke every ``interval`` s (to whatever URL the daemon has now)."""

    def __init__(self, akd: Akd, slug: str, interval: float = 0.5) -> None:
        super().__init__(daemon=True)
        self.akd, self.slug, self.interval = akd, slug, interval
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(self.interval):
            try:
                httpx.post(f"{self.akd.url}/webhooks/{self.slug}", content=b"poke", timeout=5)
            except (httpx.HTTPError, OSError, ValueError, KeyError):
                pass  # akd is down right now


def start_sessions(akd: Akd, slug: str, count: int, rng: random.Random) -> dict[int, str]:
    accepted: dict[int, str] = {}
    for n in range(count):
        body = {"n": n, "sleep": rng.choice([0.5, 1, 3, 4])}
        resp = httpx.post(f"{akd.url}/webhooks/{slug}", json=body, timeout=30)
        assert resp.status_code == 202, resp.text
        accepted[n] = resp.headers["AutoKitteh-Event-ID"]
    return accepted


def kill_loop(akd: Akd, kills: int, rng: random.Random) -> list[tuple[float, float]]:
    """Kill and restart ``kills`` times; each kill's window: just before the signal, and
    once akd is dead."""
    windows = []
    for _ in range(kills):
        time.sleep(rng.uniform(0.3, 2.5))
        before = time.time()
        akd.kill9()
        windows.append((before, time.time()))
        akd.up()
    return windows


def effect_times(out: Path) -> dict[tuple[int, int], list[float]]:
    """When each step ``(n, i)`` ran, every time it ran."""
    runs: dict[tuple[int, int], list[float]] = collections.defaultdict(list)
    for line in out.read_text().splitlines() if out.exists() else []:
        n, i, t = line.split()
        runs[int(n), int(i)].append(float(t))
    return runs


def count_repeats(runs: dict[tuple[int, int], list[float]], windows: list[tuple[float, float]],
                  report: Report) -> None:  # fmt: skip
    """Charge each re-run of a step to the kill between it and the run before it.

    The promise is per session and per kill: a kill interrupts at most the one step a
    session has in flight, so a session repeats at most one step per kill. A repeat with
    no kill in between, or a second one of the same session for the same kill, breaks it.
    """
    charged: collections.Counter[tuple[int, int]] = collections.Counter()
    for (n, _), times in runs.items():
        times.sort()
        for prev, cur in itertools.pairwise(times):
            report.repeated_effects += 1
            kills = [k for k, (before, after) in enumerate(windows) if prev < after and before < cur]
            if not kills:
                report.unexplained_repeats += 1
                report.details.append(f"session {n} repeated a step with no kill in between")
                continue
            charged[n, kills[-1]] += 1
    for (n, k), repeats in charged.items():
        if repeats > 1:
            report.excess_repeats += repeats - 1
            report.details.append(f"session {n} repeated {repeats} steps at kill {k}")


def check(akd: Akd, out: Path, accepted: dict[int, str], windows: list[tuple[float, float]],
          report: Report) -> None:  # fmt: skip
    runs = effect_times(out)
    report.missing_effects += sum(1 for n in accepted for i in range(6) if not runs.get((n, i)))
    count_repeats({key: times for key, times in runs.items() if key[0] in accepted}, windows, report)
    sessions = {s["event_id"]: s for s in akd.sessions(project="soak", limit=10000)}
    for n, event_id in accepted.items():
        ev = akd.api("GET", f"/events/{event_id}").json()
        if len(ev.get("session_ids", [])) != 1:
            report.undispatched_events += 1
            report.details.append(f"event {event_id} has sessions {ev.get('session_ids')}")
            continue
        session = sessions.get(event_id) or akd.session(ev["session_ids"][0])
        report.completed += session["state"] == "completed"
        printed = collections.Counter(akd.prints(session["session_id"]))
        want = collections.Counter(expected_prints(n))
        report.lost_prints += sum((want - printed).values())
        report.duplicated_prints += sum((printed - want).values())


def soak(sessions: int = 100, kills: int = 10, seed: int = 7, timeout: float = 540.0) -> Report:
    rng = random.Random(seed)
    report = Report(sessions=sessions)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="akd-soak-") as tmp:
        root = Path(tmp)
        out = root / "effects.txt"
        akd = Akd(root / "data")
        akd.up()
        try:
            write_project(root / "p", {"autokitteh.yaml": MANIFEST, "program.py": PROGRAM.format(out=str(out))})
            hooks = akd.deploy(root / "p")["webhooks"]
            start_slug = hooks["start"].rsplit("/webhooks/", 1)[1]
            poker = Poker(akd, hooks["poke"].rsplit("/webhooks/", 1)[1])
            poker.start()
            accepted = start_sessions(akd, start_slug, sessions, rng)
            windows = kill_loop(akd, kills, rng)
            report.kills = len(windows)

            def all_final() -> bool:
                rows = akd.sessions(project="soak", limit=10000)
                return len(rows) >= sessions and all(r["state"] in ("completed", "error", "stopped") for r in rows)

            wait_for(all_final, timeout - (time.monotonic() - started), interval=1.0, what="every session to end")
            poker.stop.set()
            check(akd, out, accepted, windows, report)
        finally:
            akd.down()
    report.seconds = round(time.monotonic() - started, 1)
    return report


def main(argv: list[str]) -> None:
    sessions = int(argv[1]) if len(argv) > 1 else 100
    kills = int(argv[2]) if len(argv) > 2 else 10
    report = soak(sessions, kills)
    data: dict[str, Any] = report.__dict__
    print(json.dumps(data, indent=2))
    sys.exit(0 if report.ok() else 1)


if __name__ == "__main__":
    main(sys.argv)

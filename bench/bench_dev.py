"""Save-to-live under ``akctl dev``: a file write to the new deployment being active.

A 10-file project (manifest, program.py, 8 helper modules) runs under ``akctl dev DIR
--json`` (a subprocess; a thread reads its stdout). 20 edits (after 2 warm-ups), one
after another, each rewriting program.py with a new printed string: save-to-live is the
time from the write to ``GET /deployments?project=P`` (polled every 10 ms) listing a new
deployment in state ``active``; the time to akctl's ``deployed`` line is reported too.
"""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from common import Akd, BenchResult, Figure, finish, fresh_akd, manifest, median, ms, p95, run_bench

from tests.e2e.harness import AKCTL, write_project

EDITS = 20
WARMUP = 2
EDIT_TIMEOUT = 20.0
PROJECT = "bench_dev"
HELPERS = 8
SETTLE = 0.5  # idle between edits, so one edit is not debounced together with the last


def program(n: int) -> str:
    imports = "".join(f"import mod{i}\n" for i in range(HELPERS))
    return f"{imports}\n\ndef run(event):\n    print('edit number {n}', mod0.VALUE)\n"


def files() -> dict[str, str]:
    out = {"autokitteh.yaml": manifest(PROJECT), "program.py": program(0)}
    out |= {f"mod{i}.py": f"VALUE = {i}\n\n\ndef helper(x):\n    return x + {i}\n" for i in range(HELPERS)}
    return out


def active_id(akd: Akd) -> str:
    data: Any = akd.api("GET", "/deployments", params={"project": PROJECT}).json()
    rows = data.get("deployments", data) if isinstance(data, dict) else data
    return next((str(r["deployment_id"]) for r in rows if r["state"] == "active"), "")


def body(result: BenchResult) -> None:
    with fresh_akd() as akd:
        root = write_project(akd.data_dir.parent / "devproject", files())
        env = {**akd.env, "PYTHONUNBUFFERED": "1"}
        proc = subprocess.Popen(
            [*AKCTL, "dev", str(root), "--json"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        lines: queue.Queue[tuple[float, dict[str, Any]]] = queue.Queue()

        def reader() -> None:
            assert proc.stdout is not None
            for line in proc.stdout:
                try:
                    lines.put((time.perf_counter(), json.loads(line)))
                except ValueError:
                    lines.put((time.perf_counter(), {"event": "text", "text": line}))

        threading.Thread(target=reader, daemon=True).start()
        try:
            measure(akd, root, proc, lines, result)
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)


def next_deployed(lines: queue.Queue[tuple[float, dict[str, Any]]], deadline: float) -> tuple[float, dict[str, Any]]:
    while time.perf_counter() < deadline:
        try:
            t, ev = lines.get(timeout=max(0.01, deadline - time.perf_counter()))
        except queue.Empty:
            break
        if ev.get("event") in ("deployed", "error"):
            return t, ev
    raise RuntimeError("akctl dev printed no deployed line in time")


def measure(
    akd: Akd,
    root: Path,
    proc: subprocess.Popen[str],
    lines: queue.Queue[tuple[float, dict[str, Any]]],
    result: BenchResult,
) -> None:
    _, first = next_deployed(lines, time.perf_counter() + 60)
    if first.get("event") != "deployed":
        raise RuntimeError(f"the first deploy failed: {first}")
    current = active_id(akd)
    to_active: list[float] = []
    to_line: list[float] = []
    line_ms: list[float] = []
    for n in range(1, WARMUP + EDITS + 1):
        time.sleep(SETTLE)
        path = root / "program.py"
        t0 = time.perf_counter()
        path.write_text(program(n))
        deadline = t0 + EDIT_TIMEOUT
        new = ""
        while time.perf_counter() < deadline:
            new = active_id(akd)
            if new and new != current:
                break
            time.sleep(0.01)
        t_active = time.perf_counter()
        if not new or new == current:
            raise RuntimeError(
                f"edit {n}: no new active deployment within {EDIT_TIMEOUT:.0f} s "
                f"(akctl dev {'exited ' + str(proc.returncode) if proc.poll() is not None else 'running'}); "
                f"{len(to_active)} edits measured"
            )
        t_line, ev = next_deployed(lines, t0 + EDIT_TIMEOUT)
        if ev.get("event") != "deployed":
            raise RuntimeError(f"edit {n}: akctl dev reported {ev}")
        current = new
        if n > WARMUP:
            to_active.append(t_active - t0)
            to_line.append(t_line - t0)
            if isinstance(ev.get("elapsed_ms"), int | float):
                line_ms.append(float(ev["elapsed_ms"]) / 1000)
    result.figures.append(
        Figure(
            name="save-to-live: file write to new deployment active (10-file project), median",
            value=ms(median(to_active)),
            unit="ms",
            spread=f"p95 {ms(p95(to_active)):.1f} ms",
            limits={"< 1 s (issue 4)": 1000.0},
        )
    )
    result.figures.append(
        Figure(name="same, p95", value=ms(p95(to_active)), unit="ms", limits={"< 1 s (issue 4)": 1000.0})
    )
    result.figures.append(
        Figure(
            name="file write to akctl dev's `deployed` line, median",
            value=ms(median(to_line)),
            unit="ms",
            spread=f"p95 {ms(p95(to_line)):.1f} ms",
        )
    )
    spread = ", ".join(f"{ms(v):.0f}" for v in to_active)
    result.details += [
        f"- Save-to-active per edit (ms, 10 ms polling): {spread}; min {ms(min(to_active)):.0f}, "
        f"max {ms(max(to_active)):.0f}.",
        "- akctl dev watches with watchfiles (50 ms step, debounced) and deploys like `akctl deploy`; "
        f"the deploy itself, as akctl dev reports it: median {ms(median(line_ms)):.0f} ms." if line_ms else
        "- akctl dev did not report its own deploy time.",
    ]  # fmt: skip


def main() -> int:
    runs = f"{EDITS} edits of program.py (after {WARMUP} warm-ups), {SETTLE} s apart, under one `akctl dev`"
    return finish(run_bench("bench_dev", "Save-to-live under akctl dev", runs, body))


if __name__ == "__main__":
    sys.exit(main())

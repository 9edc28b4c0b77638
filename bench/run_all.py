"""Run every akd bench, print one table, and rewrite bench/RESULTS.md.

    .venv/bin/python bench/run_all.py            # every bench (about 12-15 minutes on 2 cores)
    .venv/bin/python bench/run_all.py steps      # only the benches whose name contains "steps"

Each bench runs in its own process (``bench/bench_<name>.py --json FILE``), one after
another, so none disturbs another's measurements; a bench that fails or hangs (bounded
by BENCH_TIMEOUT) is reported as failed and the others still run.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

from common import BENCH_DIR, RESULTS_MD, ROOT, TABLE_HEAD, BenchResult, machine_info, machine_line, section, table_rows

BENCHES = [
    "bench_startup",
    "bench_webhook",
    "bench_ingest",
    "bench_wakeup",
    "bench_steps",
    "bench_replay",
    "bench_memory",
    "bench_listing",
    "bench_dev",
    "bench_tuning",
    "bench_clients",
    "bench_vendorlibs",
    "bench_deliveries",
    "bench_queue",
    "bench_rerun",
    "bench_scale",
]
BENCH_TIMEOUT = 1500.0
OBSERVATIONS = BENCH_DIR / "OBSERVATIONS.md"

INTRO = """\
Every figure is measured against real akd (`akctl up --detach --port 0`, fresh data dir)
and, where there is one, next to a raw temporalio baseline measured **in the same run on
the same embedded Temporal dev server** (a worker in the bench process, own task queue,
unsandboxed workflows). Times are medians (with p95 or max), never single runs; the
machine is shared and noisy (other test suites were running), so read the ratios first.
Regenerate with `.venv/bin/python bench/run_all.py`."""


def run_one(name: str, out_dir: Path) -> BenchResult:
    out = out_dir / f"{name}.json"
    print(f"\n=== {name} ===", flush=True)
    cmd = [sys.executable, str(BENCH_DIR / f"{name}.py"), "--json", str(out)]
    try:
        code = subprocess.run(cmd, cwd=ROOT, timeout=BENCH_TIMEOUT).returncode
    except subprocess.TimeoutExpired:
        return failed(name, f"did not finish within {BENCH_TIMEOUT:.0f} s")
    if not out.exists():
        return failed(name, f"exited with code {code} without a result (see its output above)")
    return BenchResult.from_json(json.loads(out.read_text()))


def failed(name: str, why: str) -> BenchResult:
    return BenchResult(name=name, title=name, runs="-", errors=[why], machine=machine_info())


def problems(results: list[BenchResult]) -> list[str]:
    lines = []
    for r in results:
        for f in r.figures:
            missed = [label for label, ok in f.checks().items() if ok is False]
            versus = f" (vs {f.raw_name})" if f.raw_name else ""
            lines += [f"- {r.name}: {f.name}{versus}: target {label} **missed**." for label in missed]
        lines += [f"- {r.name} **failed**: {e}" for e in r.errors]
    return lines or ["- None: every target was met and every bench completed."]


def render(results: list[BenchResult]) -> str:
    info = machine_info()
    lines = ["# akd benchmark results", "", INTRO, ""]
    lines += [f"Machine: {machine_line(info | {'load_end': info['load']})}.", ""]
    lines += ["## Summary", "", *TABLE_HEAD]
    for r in results:
        lines += table_rows(r)
    lines += ["", "## Missed targets and failures", "", *problems(results), "", "## Details", ""]
    for r in results:
        lines += section(r)
    if OBSERVATIONS.exists():
        lines += ["## Observations (recorded by hand in bench/OBSERVATIONS.md)", ""]
        lines += [OBSERVATIONS.read_text().split("\n", 1)[1].strip(), ""]
    return "\n".join(lines) + "\n"


def main() -> int:
    wanted = [b for b in BENCHES if not sys.argv[1:] or any(a in b for a in sys.argv[1:])]
    with tempfile.TemporaryDirectory(prefix="akd-bench-results-") as tmp:
        results = [run_one(name, Path(tmp)) for name in wanted]
    print("\n" + "\n".join([*TABLE_HEAD, *[row for r in results for row in table_rows(r)]]))
    RESULTS_MD.write_text(render(results))
    print(f"\nwrote {RESULTS_MD}")
    return 1 if any(r.errors for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())

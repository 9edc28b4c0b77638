"""Deploys with vendor layers: the first deploy of an integration set installs it, the next reuse it.

One fresh akd. Three sets, each deployed first (pip installs its layer from the package
index; pip's own wheel cache as this machine has it) and then ``CACHED`` more times, a
new build each time: the common set alone (a project without connections), slack, and
slack + github. Cached deploys are timed three ways: ``akctl deploy`` as it reports
itself ("deployed ... in N ms": local checks, the readiness look-ups, the upload and the
daemon's work), the whole ``akctl`` process around that (interpreter start and imports,
about 200-300 ms on this machine before vendor layers too), and a direct ``POST /deploy``
with the same body (what the daemon spends).
"""

from __future__ import annotations

import base64
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
from common import Akd, BenchResult, Figure, finish, fresh_akd, median, ms, p95, run_bench, temp_dir

from tests.e2e.harness import AKCTL, write_project

CACHED = 10
SETS: dict[str, tuple[str, ...]] = {"common": (), "slack": ("slack",), "slack+github": ("slack", "github")}
PROGRAM = "import requests\n\n\ndef run(event):\n    print(requests.__version__)\n"


def manifest(name: str, integrations: tuple[str, ...]) -> str:
    text = f"version: v2\nproject:\n  name: {name}\n"
    if integrations:
        text += "  connections:\n" + "".join(f"    - name: c_{i}\n      integration: {i}\n" for i in integrations)
    return text + "  triggers:\n    - name: go\n      type: webhook\n      call: program.py:run\n"


def akctl_deploy(akd: Akd, root: Path) -> tuple[float, float]:
    """``akctl deploy``: (the whole process, the deploy as akctl reports it after its start-up)."""
    t0 = time.perf_counter()
    res = subprocess.run([*AKCTL, "deploy", "--dir", str(root)], env=akd.env, capture_output=True, text=True,
                         timeout=900)  # fmt: skip
    elapsed = time.perf_counter() - t0
    if res.returncode != 0:
        raise RuntimeError(f"akctl deploy {root.name} exited {res.returncode}: {res.stderr[-2000:]}")
    found = re.search(r"deployed \S+ in (\d+(?:\.\d+)?)(ms|s)\b", res.stdout)
    if found is None:
        raise RuntimeError(f"akctl deploy printed no deployed line: {res.stdout!r}")
    return elapsed, float(found[1]) / (1000 if found[2] == "ms" else 1)


def api_deploy(akd: Akd, root: Path, n: int) -> float:
    """``POST /deploy`` alone (what the daemon spends), with a file changed so each is a new build."""
    (root / "extra.py").write_text(f"N = {n}\n")
    files = {p.name: base64.b64encode(p.read_bytes()).decode() for p in root.iterdir() if p.is_file()}
    body = {"manifest": (root / "autokitteh.yaml").read_text(), "files": files, "root_dir": str(root)}
    headers = {"Authorization": f"Bearer {akd.token}"}
    t0 = time.perf_counter()
    resp = httpx.post(f"{akd.url}/api/v1/deploy", json=body, headers=headers, timeout=900)
    elapsed = time.perf_counter() - t0
    resp.raise_for_status()
    return elapsed


def installs(akd: Akd) -> int:
    return sum("installed vendor layer" in line for line in (akd.data_dir / "logs" / "akd.log").open())


def measure_set(akd: Akd, label: str, integrations: tuple[str, ...], result: BenchResult) -> None:
    name = "bench_" + label.replace("+", "_")
    root = write_project(akd.data_dir.parent / name, {"autokitteh.yaml": manifest(name, integrations),
                                                       "program.py": PROGRAM})  # fmt: skip
    before = installs(akd)
    first, first_own = akctl_deploy(akd, root)
    if installs(akd) != before + 1:
        raise RuntimeError(f"{label}: the first deploy did not install its layer")
    process, own, server = [], [], []
    for n in range(CACHED):
        (root / "extra.py").write_text(f"M = {n}\n")
        whole, reported = akctl_deploy(akd, root)
        process.append(whole)
        own.append(reported)
        server.append(api_deploy(akd, root, n))
    if installs(akd) != before + 1:
        raise RuntimeError(f"{label}: a cached deploy installed again")
    result.figures += [
        Figure(f"{label}: first deploy (installs the layer), akctl deploy as it reports", ms(first_own), "ms",
               spread=f"process {ms(first):.0f} ms"),
        Figure(f"{label}: cached deploy, akctl deploy as it reports, median", ms(median(own)), "ms",
               spread=f"p95 {ms(p95(own)):.0f} ms", limits={"< 300 ms": 300.0}),
        Figure(f"{label}: cached deploy, POST /deploy alone, median", ms(median(server)), "ms",
               spread=f"p95 {ms(p95(server)):.0f} ms", limits={"< 300 ms": 300.0}),
        Figure(f"{label}: cached deploy, the whole akctl process (interpreter start included), median",
               ms(median(process)), "ms", spread=f"p95 {ms(p95(process)):.0f} ms"),
    ]  # fmt: skip


def body(result: BenchResult) -> None:
    # Layers of their own: shared ones (~/.cache/akd) from earlier runs would make every
    # "first" deploy a cached one. pip's wheel cache stays as the machine has it.
    with temp_dir("akd-bench-layers-") as layers:
        os.environ["AKD_VENDOR_LAYERS"] = str(layers)
        try:
            with fresh_akd() as akd:
                for label, integrations in SETS.items():
                    measure_set(akd, label, integrations, result)
            sizes = {p.name[:12]: sum(f.stat().st_size for f in p.rglob("*") if f.is_file()) // 2**20
                     for p in (layers / "venvs").iterdir() if p.is_dir()}  # fmt: skip
        finally:
            del os.environ["AKD_VENDOR_LAYERS"]
    result.details += [
        f"- Layers on disk (MiB, by key): {sizes}.",
        "- First deploys install from the package index (pip's wheel cache as this machine had it); "
        "the layer of a set is shared by every later deploy and project with that set.",
    ]


def main() -> int:
    runs = f"3 integration sets; per set 1 first deploy, then {CACHED} cached via akctl and {CACHED} via the API"
    return finish(run_bench("bench_vendorlibs", "Deploys with vendor layers", runs, body))


if __name__ == "__main__":
    sys.exit(main())

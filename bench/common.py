"""Shared pieces of akd's benchmarks: a fresh daemon, projects, raw temporalio baselines,
statistics, process memory and the RESULTS.md report.

Every bench script imports this module as ``common`` (run them as
``.venv/bin/python bench/bench_x.py``). All traffic goes to 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.worker import Worker

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.e2e.harness import Akd as Akd  # noqa: E402
from tests.e2e.harness import children_of, write_project  # noqa: E402
from tests.e2e.harness import wait_for as wait_for  # noqa: E402

RESULTS_MD = BENCH_DIR / "RESULTS.md"


# -- statistics -----------------------------------------------------------------------


def median(values: Sequence[float]) -> float:
    """The median; NaN for no values (a bench that failed part-way still reports)."""
    return float(statistics.median(values)) if values else float("nan")


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile, ``q`` in [0, 100]."""
    data = sorted(values)
    if len(data) == 1:
        return float(data[0])
    pos = (len(data) - 1) * q / 100.0
    lo = int(pos)
    hi = min(lo + 1, len(data) - 1)
    return float(data[lo] + (data[hi] - data[lo]) * (pos - lo))


def p95(values: Sequence[float]) -> float:
    return percentile(values, 95)


def ms(seconds: float) -> float:
    return seconds * 1000.0


def parse_time(text: str) -> float:
    """RFC 3339 (as akd renders it, e.g. ``2026-01-01T00:00:00.123Z``) to epoch seconds."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


# -- results --------------------------------------------------------------------------


@dataclass
class Figure:
    """One measured figure, optionally next to a raw-temporalio baseline and targets.

    ``limits`` maps a target's label (e.g. "< 3 s", "<= 1.5x raw (issue 8)") to its upper
    bound, which applies to ``ratio`` when ``target_on == "ratio"``, else to ``value``;
    with ``target_on == "above"`` each limit is a lower bound of ``value`` (exclusive).
    """

    name: str
    value: float
    unit: str
    spread: str = ""
    raw: float | None = None
    raw_name: str = ""
    limits: dict[str, float] = field(default_factory=dict)
    target_on: str = "value"

    @property
    def ratio(self) -> float | None:
        return self.value / self.raw if self.raw else None

    def checks(self) -> dict[str, bool | None]:
        measured = self.ratio if self.target_on == "ratio" else self.value
        if self.target_on == "above":
            return {label: None if measured is None else measured > limit for label, limit in self.limits.items()}
        return {label: None if measured is None else measured <= limit for label, limit in self.limits.items()}

    @property
    def met(self) -> bool | None:
        results = list(self.checks().values())
        if not results or None in results:
            return None
        return all(results)


@dataclass
class BenchResult:
    name: str
    title: str
    runs: str
    figures: list[Figure] = field(default_factory=list)
    details: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    machine: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> BenchResult:
        figures = [Figure(**f) for f in data.pop("figures", [])]
        return cls(figures=figures, **data)


def machine_info() -> dict[str, str]:
    return {
        "arch": platform.machine(),
        "cpus": str(os.cpu_count()),
        "python": platform.python_version(),
        "kernel": platform.release(),
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "load": f"{os.getloadavg()[0]:.1f}",
    }


def machine_line(info: dict[str, str]) -> str:
    load = f"1-min load average {info.get('load', '?')} at start, {info.get('load_end', '?')} at end"
    return (
        f"{info['arch']}, {info['cpus']} CPUs, Linux {info['kernel']}, Python {info['python']}, {info['date']}"
        f" (shared, noisy machine: {load})"
    )


def _num(value: float, unit: str) -> str:
    if unit in ("ms", "s") and value < 10:
        return f"{value:.2f} {unit}"
    return f"{value:.1f} {unit}" if unit else f"{value:.1f}"


def verdict(fig: Figure) -> str:
    marks = {True: "met", False: "**MISSED**", None: "n/a"}
    checks = fig.checks()
    if len(checks) == 1:
        return marks[next(iter(checks.values()))]
    return "; ".join(f"{marks[ok]} ({label})" for label, ok in checks.items())


TABLE_HEAD = [
    "| bench | figure | akd | raw temporalio baseline | akd/raw | target | verdict |",
    "|---|---|---|---|---|---|---|",
]


def table_rows(result: BenchResult) -> list[str]:
    rows = []
    for f in result.figures:
        value = _num(f.value, f.unit) + (f" ({f.spread})" if f.spread else "")
        raw = f"{_num(f.raw, f.unit)} ({f.raw_name})" if f.raw is not None else "-"
        ratio = f"{f.ratio:.2f}x" if f.ratio is not None else "-"
        target = "; ".join(f.limits) or "-"
        rows.append(f"| {result.name} | {f.name} | {value} | {raw} | {ratio} | {target} | {verdict(f)} |")
    if result.errors:
        rows.append(f"| {result.name} | FAILED | {'; '.join(result.errors)[:200]} | - | - | - | **FAILED** |")
    return rows


def section(result: BenchResult) -> list[str]:
    lines = [f"### {result.title} (`bench/{result.name}.py`)", ""]
    lines += [f"Machine: {machine_line(result.machine)}. Runs: {result.runs}.", ""]
    lines += [*TABLE_HEAD, *table_rows(result), ""]
    missed = [
        f"{f.name}{f' (vs {f.raw_name})' if f.raw_name else ''}: {label}"
        for f in result.figures
        for label, ok in f.checks().items()
        if ok is False
    ]
    if missed:
        lines += [f"**Target missed:** {'; '.join(missed)}.", ""]
    if result.errors:
        lines += ["**Errors:**", "", *[f"- {e}" for e in result.errors], ""]
    lines += [*result.details, ""]
    return lines


def append_section(result: BenchResult) -> None:
    """Add one bench's section to RESULTS.md (a bench run on its own)."""
    if not RESULTS_MD.exists():
        RESULTS_MD.write_text("# akd benchmark results\n\n")
    with RESULTS_MD.open("a") as f:
        f.write("\n## Single run\n\n" + "\n".join(section(result)) + "\n")


def finish(result: BenchResult) -> int:
    """End of a bench's ``main``: print its table; write JSON (``--json PATH``, used by
    run_all) or append its section to RESULTS.md."""
    result.machine = result.machine or machine_info()
    result.machine["load_end"] = f"{os.getloadavg()[0]:.1f}"
    print("\n".join([*TABLE_HEAD, *table_rows(result)]))
    if "--json" in sys.argv:
        path = Path(sys.argv[sys.argv.index("--json") + 1])
        path.write_text(json.dumps(result.to_json(), indent=2))
    else:
        append_section(result)
        print(f"appended to {RESULTS_MD}")
    return 1 if result.errors else 0


def run_bench(name: str, title: str, runs: str, body: Any) -> BenchResult:
    """Run ``body(result)``; an exception becomes an error of the result, never a crash."""
    result = BenchResult(name=name, title=title, runs=runs, machine=machine_info())
    try:
        body(result)
    except Exception as exc:  # a failed bench is reported, with what it had measured so far
        result.errors.append(f"{type(exc).__name__}: {exc}")
    return result


# -- akd ------------------------------------------------------------------------------


@contextlib.contextmanager
def temp_dir(prefix: str = "akd-bench-") -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@contextlib.contextmanager
def fresh_akd() -> Iterator[Akd]:
    """A real akd in a fresh temp data dir, stopped (and its dir removed) afterwards."""
    with temp_dir() as root:
        akd = Akd(root / "data")
        akd.up()
        try:
            yield akd
        finally:
            akd.down()


def manifest(name: str, version: str = "v2", call: str = "program.py:run", trigger: str = "go") -> str:
    return (
        f"version: {version}\nproject:\n  name: {name}\n  triggers:\n"
        f"    - name: {trigger}\n      type: webhook\n      call: {call}\n"
    )


def deploy_files(akd: Akd, files: dict[str, str]) -> dict[str, str]:
    """Write a project (file name -> text) next to the data dir, deploy it; returns its webhooks."""
    root = akd.data_dir.parent / f"project-{uuid.uuid4().hex[:8]}"
    write_project(root, files)
    hooks: dict[str, str] = akd.deploy(root)["webhooks"]
    return hooks


def deploy_handler(akd: Akd, name: str, program: str, version: str) -> str:
    """Deploy a one-webhook project running ``program.py:run``; returns the webhook URL."""
    return deploy_files(akd, {"autokitteh.yaml": manifest(name, version), "program.py": program})["go"]


class AkdApi:
    """An async client of one akd's API (bearer token) and webhooks."""

    def __init__(self, akd: Akd) -> None:
        self.base = akd.url
        self.http = httpx.AsyncClient(headers={"Authorization": f"Bearer {akd.token}"}, timeout=60)

    async def close(self) -> None:
        await self.http.aclose()

    async def get(self, path: str, **params: Any) -> Any:
        resp = await self.http.get(f"{self.base}/api/v1{path}", params=params)
        resp.raise_for_status()
        return resp.json()

    async def post_webhook(self, url: str, body: bytes = b"") -> str:
        resp = await self.http.post(url, content=body, headers={"Authorization": ""})
        if resp.status_code != 202:
            raise RuntimeError(f"POST {url} answered {resp.status_code}: {resp.text[:200]}")
        return resp.headers["AutoKitteh-Event-ID"]

    async def wait_event(self, event_id: str, timeout: int = 30) -> list[str]:
        """``events/{id}?wait=final``: the event's session ids once they all ended."""
        ev = await self.get(f"/events/{event_id}", wait="final", timeout=timeout)
        ids: list[str] = ev["session_ids"]
        if not ids:
            raise RuntimeError(f"event {event_id} started no session: {ev}")
        return ids

    async def session(self, session_id: str) -> dict[str, Any]:
        data: dict[str, Any] = await self.get(f"/sessions/{session_id}")
        return data

    async def log(self, session_id: str, **params: Any) -> list[dict[str, Any]]:
        records: list[dict[str, Any]] = (await self.get(f"/sessions/{session_id}/log", **params))["records"]
        return records

    async def health(self) -> dict[str, Any]:
        data: dict[str, Any] = await self.get("/health")
        return data


class RawHttp:
    """A keep-alive HTTP/1.1 connection with the least client-side work: what the bench
    measures is akd, and httpx spends ~1 ms of CPU per request on a 2-core machine."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(
        self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        """(status, headers with lower-case names, body); the answer must carry a Content-Length."""
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        self.writer.write(
            f"{method} {path} HTTP/1.1\r\nHost: {self.host}\r\n{extra}Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        fields = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:] if ln)}
        length = int(fields.get("content-length", "0"))
        data = await self.reader.readexactly(length) if length else b""
        return int(lines[0].split()[1]), fields, data

    async def post(self, path: str, body: bytes) -> int:
        status, _, _ = await self.request("POST", path, body, {"Content-Type": "application/json"})
        return status

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


class LeanClient:
    """Timed webhook rounds (POST, then ``wait=final``) on one keep-alive connection of
    the minimal client: the bench's own httpx cost ~1 ms per request, and a webhook
    sender's client is not akd's latency. Untimed calls go through httpx (AkdApi)."""

    def __init__(self, api: AkdApi) -> None:
        base = httpx.URL(api.base)
        self.conn = RawHttp(base.host, base.port or 80)
        self.auth = {"Authorization": api.http.headers["Authorization"]}

    async def post_webhook(self, url: str) -> str:
        status, headers, body = await self.conn.request("POST", httpx.URL(url).raw_path.decode())
        if status != 202:
            raise RuntimeError(f"POST {url} answered {status}: {body[:200]!r}")
        return headers["autokitteh-event-id"]

    async def wait_event(self, event_id: str) -> list[str]:
        path = f"/api/v1/events/{event_id}?wait=final&timeout=30"
        status, _, body = await self.conn.request("GET", path, headers=self.auth)
        ids: list[str] = json.loads(body)["session_ids"] if status == 200 else []
        if not ids:
            raise RuntimeError(f"event {event_id} answered {status} with no session: {body[:200]!r}")
        return ids

    def close(self) -> None:
        self.conn.close()


@contextlib.asynccontextmanager
async def akd_api(akd: Akd) -> AsyncIterator[AkdApi]:
    api = AkdApi(akd)
    try:
        yield api
    finally:
        await api.close()


# -- raw temporalio baselines -------------------------------------------------------------

RAW_TIMEOUT = timedelta(seconds=30)


@activity.defn(name="bench.noop")
async def noop_activity() -> None:
    return None


@activity.defn(name="bench.now")
async def now_activity() -> float:
    return time.time()


@workflow.defn(name="bench.Empty", sandboxed=False)
class EmptyWorkflow:
    @workflow.run
    async def run(self) -> None:
        return None


@workflow.defn(name="bench.LocalChain", sandboxed=False)
class LocalChainWorkflow:
    @workflow.run
    async def run(self, n: int) -> int:
        for _ in range(n):
            await workflow.execute_local_activity(noop_activity, start_to_close_timeout=RAW_TIMEOUT)
        return n


@workflow.defn(name="bench.RegularChain", sandboxed=False)
class RegularChainWorkflow:
    @workflow.run
    async def run(self, n: int) -> int:
        for _ in range(n):
            await workflow.execute_activity(noop_activity, start_to_close_timeout=RAW_TIMEOUT)
        return n


@workflow.defn(name="bench.SleepResume", sandboxed=False)
class SleepResumeWorkflow:
    """``n`` local activities, a durable timer, one more activity: returns the lateness of
    the activity after the timer (wall clock after minus before minus the sleep)."""

    @workflow.run
    async def run(self, args: list[float]) -> float:
        n, sleep = int(args[0]), args[1]
        for _ in range(n):
            await workflow.execute_local_activity(noop_activity, start_to_close_timeout=RAW_TIMEOUT)
        before = await workflow.execute_local_activity(now_activity, start_to_close_timeout=RAW_TIMEOUT)
        await workflow.sleep(sleep)
        after = await workflow.execute_local_activity(now_activity, start_to_close_timeout=RAW_TIMEOUT)
        return float(after - before - sleep)


class RawTemporal:
    """A temporalio client and worker in the bench process, on akd's own dev server,
    on a task queue of their own."""

    def __init__(self, client: Client, task_queue: str) -> None:
        self.client = client
        self.task_queue = task_queue
        self.eager_started = 0

    def _id(self, kind: str) -> str:
        return f"bench-{kind}-{uuid.uuid4().hex}"

    async def empty(self, *, eager: bool) -> float:
        """Start-to-result of an empty workflow, in seconds."""
        t0 = time.perf_counter()
        handle = await self.client.start_workflow(
            EmptyWorkflow.run, id=self._id("empty"), task_queue=self.task_queue, request_eager_start=eager
        )
        await handle.result()
        elapsed = time.perf_counter() - t0
        self.eager_started += bool(getattr(handle, "__temporal_eagerly_started", False))
        return elapsed

    async def chain(self, kind: str, n: int) -> float:
        """Start-to-result of a workflow running ``n`` trivial activities in a row
        (``kind`` "local" or "regular"), in seconds."""
        wf = LocalChainWorkflow.run if kind == "local" else RegularChainWorkflow.run
        t0 = time.perf_counter()
        await self.client.execute_workflow(wf, n, id=self._id(kind), task_queue=self.task_queue)
        return time.perf_counter() - t0

    async def sleep_resume(self, n: int, sleep: float) -> float:
        """Lateness (s) of the first activity after a ``sleep`` s timer, after ``n`` local activities."""
        result: float = await self.client.execute_workflow(
            SleepResumeWorkflow.run, [float(n), sleep], id=self._id("sleep"), task_queue=self.task_queue
        )
        return result


@contextlib.asynccontextmanager
async def raw_temporal(akd: Akd, *, cache: bool = True) -> AsyncIterator[RawTemporal]:
    """Connect to ``akd``'s embedded Temporal and run a bench worker until the block ends.

    ``cache=False`` disables the worker's workflow cache, so every workflow task replays
    the workflow's whole history (the raw counterpart of akd resuming by replay).
    """
    client = await Client.connect(str(akd.info()["temporal_address"]))
    queue = f"bench-raw-{uuid.uuid4().hex[:8]}"
    worker = Worker(
        client,
        task_queue=queue,
        workflows=[EmptyWorkflow, LocalChainWorkflow, RegularChainWorkflow, SleepResumeWorkflow],
        activities=[noop_activity, now_activity],
        graceful_shutdown_timeout=timedelta(seconds=1),
        max_cached_workflows=1000 if cache else 0,
    )
    async with worker:
        yield RawTemporal(client, queue)


# -- processes and memory --------------------------------------------------------------


def descendants(pid: int) -> list[int]:
    """Every live descendant of ``pid`` (children found through /proc/*/stat ppid)."""
    found: list[int] = []
    frontier = [pid]
    while frontier:
        children = [c for p in frontier for c in children_of(p)]
        found += children
        frontier = children
    return found


def rss_kb(pid: int) -> int:
    """VmRSS of one process in KiB (0 if it is gone or a zombie)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return 0
    return 0


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def tree_rss_mb(pid: int) -> tuple[float, dict[int, int]]:
    """Summed VmRSS (MB) of ``pid`` and all its descendants, plus each one's KiB."""
    per = {p: rss_kb(p) for p in [pid, *descendants(pid)]}
    return sum(per.values()) / 1024.0, per

"""Page: sessions over time by state, and duration percentiles, as inline SVG charts.

The window is the last hour, day, week or month, or ``auto`` (the default): from the
first session of the last 30 days to now, so a fresh install already shows a useful
picture. Counting per bucket and state happens in SQLite; percentiles need the
durations themselves, two floats per ended session of the window.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from akd.api.common import ctx
from akd.api.stats import percentile
from akd.store import projects as projects_store
from akd.store import stats as store
from akd.store.states import FINAL, SessionState
from akd.store.stats import DurationPoint, StateBucket
from akd.web import charts
from akd.web.auth import page
from akd.web.common import choice_param, project_id_param
from akd.web.render import STATES, duration, render

RANGES = {"1h": 3600, "24h": 86400, "7d": 7 * 86400, "30d": 30 * 86400}
STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400)
MAX_BARS = 60
LINES = {"p50": 50, "p95": 95, "p99": 99}


@dataclass(frozen=True)
class Window:
    start: float
    step: int
    buckets: int

    def labels(self) -> list[str]:
        fmt = "%H:%M:%S" if self.step < 60 else "%H:%M" if self.buckets * self.step <= 86400 else "%m-%d %H:%M"
        if self.step >= 86400:
            fmt = "%Y-%m-%d"
        return [datetime.fromtimestamp(self.start + i * self.step).strftime(fmt) for i in range(self.buckets)]


def window_for(span: float, now: float) -> Window:
    """Buckets of a round size (1 s .. 1 day), at most ``MAX_BARS`` of them, ending now."""
    span = max(span, 10.0)
    step = next((s for s in STEPS if s * MAX_BARS >= span), 86400 * math.ceil(span / (86400 * MAX_BARS)))
    start = math.floor((now - span) / step) * step
    return Window(float(start), step, max(1, math.ceil((now - start) / step)))


async def _window(request: Request, key: str, project_id: str, now: float) -> Window:
    if key in RANGES:
        return window_for(RANGES[key], now)
    first = await store.first_session_since(ctx(request).db, now - RANGES["30d"], project_id)
    return window_for((now - first) * 1.05 if first is not None else 3600, now)


def _by_state(buckets: Sequence[StateBucket], w: Window) -> dict[str, list[int]]:
    series: dict[str, list[int]] = {state: [0] * w.buckets for state in STATES}
    for b in buckets:
        if b.state in series and 0 <= b.bucket < w.buckets:
            series[b.state][b.bucket] += b.n
    return series


def _percentiles(points: Sequence[DurationPoint], w: Window) -> tuple[dict[str, list[float | None]], list[float]]:
    per_bucket: list[list[float]] = [[] for _ in range(w.buckets)]
    for p in points:
        i = int((p.created_at - w.start) // w.step)
        if 0 <= i < w.buckets:
            per_bucket[i].append(max(0.0, p.duration))
    for values in per_bucket:
        values.sort()
    series = {name: [percentile(v, q) for v in per_bucket] for name, q in LINES.items()}
    return series, sorted(d for values in per_bucket for d in values)


@page
async def stats_page(request: Request) -> Response:
    c = ctx(request)
    now = time.time()
    key = choice_param(request, "range", ("auto", *RANGES)) or "auto"
    project_id = await project_id_param(request)
    w = await _window(request, key, project_id, now)
    by_state = _by_state(await store.state_buckets(c.db, w.start, w.step, project_id), w)
    lines, all_durations = _percentiles(await store.durations(c.db, w.start, project_id), w)
    labels = w.labels()
    totals = {state: sum(values) for state, values in by_state.items()}
    ended = sum(totals[state] for state in FINAL)
    return render(
        request, "stats.html", title="Stats", nav="stats", range=key, ranges=("auto", *RANGES), w=w,
        project=request.query_params.get("project", ""), projects=await projects_store.list_projects(c.db),
        totals=totals, total=sum(totals.values()), success=totals[SessionState.COMPLETED] / ended if ended else None,
        overall={name: percentile(all_durations, q) for name, q in (("p50", 50), ("p90", 90), ("p95", 95),
                                                                    ("p99", 99), ("max", 100))},
        sessions_chart=charts.stacked_bars(labels, dict(by_state), "sessions created per interval, by state"),
        duration_chart=charts.log_lines(labels, lines, "session duration percentiles (log scale)", duration),
        line_names=tuple(LINES), step=duration(w.step), since=w.start,
    )  # fmt: skip


routes = [Route("/stats", stats_page)]

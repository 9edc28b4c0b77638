"""/api/v1/stats: figures computed from the stored session records."""

from __future__ import annotations

import time
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from akd.api.common import ctx, int_param, must, ok, rfc3339
from akd.store import projects as projects_store
from akd.store import stats as stats_store
from akd.store.states import FINAL, ORDER, SessionState
from akd.store.stats import SessionFact

STATES = tuple(s.value for s in ORDER if s != SessionState.QUEUED)


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (``q`` in 0..100) of a sorted list."""
    if not values:
        return None
    rank = max(1, min(len(values), int(-(-q * len(values) // 100))))
    return values[rank - 1]


def summarize(rows: list[SessionFact]) -> dict[str, Any]:
    by_state = {s: 0 for s in STATES}
    durations: list[float] = []
    steps: list[int] = []
    for r in rows:
        by_state[r.state] = by_state.get(r.state, 0) + 1
        if r.ended_at is not None:
            durations.append(r.ended_at - (r.started_at or r.created_at))
            steps.append(r.steps)
    durations.sort()
    ended = sum(by_state[s] for s in FINAL)
    return {
        "sessions": len(rows),
        "by_state": by_state,
        "success_rate": by_state[SessionState.COMPLETED] / ended if ended else None,
        "failure_rate": by_state[SessionState.ERROR] / ended if ended else None,
        "duration": {
            "p50": percentile(durations, 50),
            "p95": percentile(durations, 95),
            "max": durations[-1] if durations else None,
        },
        "steps_per_session": sum(steps) / len(steps) if steps else None,
    }


async def stats(request: Request) -> JSONResponse:
    c = ctx(request)
    q = request.query_params
    project_id = ""
    if q.get("project"):
        prj = must(await projects_store.project_by_name(c.db, q["project"]), "project", q["project"])
        project_id = prj.project_id
    since = int_param(request, "since", 0, lo=0, hi=10 * 365 * 86400)
    rows = await stats_store.session_facts(c.db, project_id=project_id, deployment_id=q.get("deployment", ""),
                                           since=time.time() - since if since else 0.0)  # fmt: skip
    return ok(_report(rows, since))


def _report(rows: list[SessionFact], since: int) -> dict[str, Any]:
    groups: dict[str, dict[str, list[SessionFact]]] = {"project": {}, "deployment": {}}
    triggers: dict[str, int] = {}
    for r in rows:
        groups["project"].setdefault(r.project or "?", []).append(r)
        groups["deployment"].setdefault(r.deployment_id or "-", []).append(r)
        if r.trigger:
            key = f"{r.project}/{r.trigger}"
            triggers[key] = triggers.get(key, 0) + 1
    busiest = sorted(triggers.items(), key=lambda kv: (-kv[1], kv[0]))[:10]
    return {
        "since": rfc3339(time.time() - since) if since else None,
        "total": summarize(rows),
        "by_project": {k: summarize(v) for k, v in sorted(groups["project"].items())},
        "by_deployment": {k: summarize(v) for k, v in sorted(groups["deployment"].items())},
        "busiest_triggers": [{"trigger": k, "sessions": n} for k, n in busiest],
    }


async def counts(request: Request) -> JSONResponse:
    """``GET /stats/counts``: sessions by state, from the state index alone (cheap to poll)."""
    return ok({"by_state": await stats_store.counts_by_state(ctx(request).db)})


routes = [Route("/stats", stats), Route("/stats/counts", counts)]

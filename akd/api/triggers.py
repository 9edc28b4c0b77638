"""/api/v1/triggers: list and get, with each schedule's next fire times."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from croniter import croniter
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from akd.api.common import ctx, must, ok, rfc3339
from akd.api.projects import trigger_json
from akd.engine.schedules import next_fire_times
from akd.services.context import AppContext
from akd.store import projects as projects_store
from akd.store.triggers import TriggerRecord


def cron_next(expr: str, tz: str, count: int = 3) -> list[float]:
    """Next fire times of a 5-field cron (croniter); other forms are asked of Temporal."""
    if expr.startswith("@every") or len(expr.split()) != 5:
        return []
    start = datetime.now(ZoneInfo(tz) if tz else UTC)
    it = croniter(expr, start)
    return [float(it.get_next(float)) for _ in range(count)]


async def _with_schedule(c: AppContext, row: TriggerRecord) -> dict[str, Any]:
    data = trigger_json(row, c.base_url)
    data["project"] = row.project
    if row.type == "schedule":
        # A project without an active deployment has its schedules paused: nothing fires next.
        paused = await projects_store.active_deployment(c.db, row.project_id) is None
        times = [] if paused else cron_next(row.schedule, row.timezone)
        if not times and not paused:
            times = await next_fire_times(c.engine.client, row.trigger_id)
        data["next_fire_times"] = [rfc3339(t) for t in times]
        data["paused"] = paused
    return data


async def list_triggers(request: Request) -> JSONResponse:
    c = ctx(request)
    project = request.query_params.get("project", "")
    rows = await projects_store.triggers_listed(c.db, project)
    return ok([await _with_schedule(c, r) for r in rows])


async def get_trigger(request: Request) -> JSONResponse:
    c = ctx(request)
    ident = request.path_params["id"]
    project = request.query_params.get("project", "")
    row = await projects_store.trigger_found(c.db, ident, project)
    return ok(await _with_schedule(c, must(row, "trigger", ident)))


routes = [
    Route("/triggers", list_triggers),
    Route("/triggers/{id}", get_trigger),
]

"""Schedule triggers as Temporal Schedules, reconciled with the triggers table.

Each schedule trigger owns one Temporal Schedule (id ``akd-sched-<trigger_id>``)
whose action starts a tiny ``akd.Tick`` workflow; the tick stores a ``tick`` event and
dispatches it like any other. Without an active deployment the event is stored and
marked ``skipped``.

A project without an active deployment (deactivated) has its schedules paused, so they
neither fire nor list next fire times; activating a deployment resumes them.

Catch-up policy: ticks missed while akd (and so the embedded Temporal server) was
down are fired at restart only if they fell within the last ``CATCHUP_WINDOW``;
older ones are dropped. Overlapping ticks are all allowed (each tick is one event).
"""

from __future__ import annotations

import logging
from datetime import timedelta

from temporalio import workflow
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleState,
    ScheduleUpdate,
    ScheduleUpdateInput,
)
from temporalio.common import RetryPolicy
from temporalio.service import RPCError

from akd.engine.types import TickInput
from akd.store import projects
from akd.store.db import Database
from akd.store.triggers import ScheduleTrigger

log = logging.getLogger(__name__)

PREFIX = "akd-sched-"
CATCHUP_WINDOW = timedelta(seconds=60)
# The tick workflow's type name: schedules start it, retention lists old ones by it.
TICK_WORKFLOW = "akd.Tick"
PAUSED_NOTE = "paused by akd: the project has no active deployment"


@workflow.defn(name=TICK_WORKFLOW, sandboxed=False)
class TickWorkflow:
    @workflow.run
    async def run(self, inp: TickInput) -> None:
        await workflow.execute_local_activity(
            "akd.record_tick",
            inp,
            start_to_close_timeout=timedelta(seconds=60),
            retry_policy=RetryPolicy(maximum_interval=timedelta(seconds=5)),
        )


def tick_id(trigger_id: str) -> str:
    """The id of a trigger's tick runs; Temporal's schedule appends each run's time (see ticks.scheduled_at)."""
    return f"tick-{trigger_id}"


def schedule_for(scheduled: ScheduleTrigger, task_queue: str) -> Schedule:
    """The trigger's schedule (one of ``projects.schedule_triggers``: paused unless ``live``)."""
    trigger, live = scheduled.trigger, scheduled.live
    spec = ScheduleSpec(cron_expressions=[trigger.schedule], time_zone_name=trigger.timezone or None)
    action = ScheduleActionStartWorkflow(
        TICK_WORKFLOW, TickInput(trigger.trigger_id), id=tick_id(trigger.trigger_id), task_queue=task_queue
    )
    policy = SchedulePolicy(overlap=ScheduleOverlapPolicy.ALLOW_ALL, catchup_window=CATCHUP_WINDOW)
    state = ScheduleState(paused=not live, note="" if live else PAUSED_NOTE)
    return Schedule(action=action, spec=spec, policy=policy, state=state)


async def reconcile(client: Client, db: Database, task_queue: str) -> None:
    """Create, update or delete Temporal Schedules so they match the schedule triggers."""
    triggers = {PREFIX + r.trigger.trigger_id: r for r in await projects.schedule_triggers(db)}
    existing = set()
    async for listed in await client.list_schedules():
        if listed.id.startswith(PREFIX):
            existing.add(listed.id)
    for schedule_id, trigger in triggers.items():
        wanted = schedule_for(trigger, task_queue)
        if schedule_id in existing:
            await _update(client, schedule_id, wanted)
        else:
            try:
                await client.create_schedule(schedule_id, wanted)
            except ScheduleAlreadyRunningError:
                await _update(client, schedule_id, wanted)
    for schedule_id in existing - set(triggers):
        try:
            await client.get_schedule_handle(schedule_id).delete()
        except RPCError as exc:
            log.info("deleting schedule %s: %s", schedule_id, exc)


async def _update(client: Client, schedule_id: str, wanted: Schedule) -> None:
    def replace(_: ScheduleUpdateInput) -> ScheduleUpdate:
        return ScheduleUpdate(schedule=wanted)

    await client.get_schedule_handle(schedule_id).update(replace)


async def next_fire_times(client: Client, trigger_id: str, count: int = 3) -> list[float]:
    """The next times Temporal will fire this trigger's schedule (empty if unknown)."""
    try:
        desc = await client.get_schedule_handle(PREFIX + trigger_id).describe()
    except RPCError:
        return []
    if desc.schedule.state.paused:
        return []
    return [t.timestamp() for t in desc.info.next_action_times[:count]]

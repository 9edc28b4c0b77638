"""The Temporal client and worker that run session workflows inside akd."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime, timedelta

from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.workflowservice.v1 import DeleteWorkflowExecutionRequest
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import Worker

from akd.engine.activities import EngineContext, SessionActivities
from akd.engine.connect import TemporalTarget
from akd.engine.schedules import TICK_WORKFLOW, TickWorkflow, reconcile, tick_id
from akd.engine.sdk_calls import SdkCalls
from akd.engine.types import SessionInput, TickInput
from akd.engine.workflows import SessionWorkflow
from akd.errors import Unavailable

log = logging.getLogger(__name__)

# A short workflow-task timeout bounds how long a session waits after akd was killed
# in the middle of a segment: its unfinished task is retried after this much time, by
# this akd once it is back or by another one on the same task queue. On the embedded
# server 5 s: shorter (2 s was tried) re-ran healthy segments when an overloaded dev
# server was slow. On a cluster, where another akd can take over, 2.5 s
# ([temporal] workflow_task_timeout).
WORKFLOW_TASK_TIMEOUT = timedelta(seconds=5)
# Retention deletes workflow histories this many at a time, and at most this many tick
# workflows per sweep (the rest go at the next sweep).
FORGET_CONCURRENCY = 8
FORGET_TICKS_PER_SWEEP = 2000


# Sessions whose workflow state the worker keeps in memory. A parked session (a durable
# sleep or wait) needs none: when it wakes, its workflow is replayed from its short
# history (akd's workflow code is fixed, so replay is cheap), and each cached one cost
# about 65 KB of akd's memory (bench/bench_memory.py: 1,000 parked sessions grew akd by
# 101 MB with the SDK's default of 1,000 cached, 62 MB with 256). Running segments hold
# theirs, and so do those waiting for a runner slot (each also holds one of the worker's
# workflow-task slots): the cache must stay larger than those slots, so there is always
# an idle workflow to evict, and hold several times [runner] max_live.
WORKFLOW_TASK_SLOTS = 200
WORKFLOW_CACHE_MIN = WORKFLOW_TASK_SLOTS + 56


def workflow_cache(max_live: int) -> int:
    return max(WORKFLOW_CACHE_MIN, 4 * max_live)


class Engine:
    def __init__(
        self,
        ctx: EngineContext,
        *,
        target: TemporalTarget,
        task_queue: str,
        eager_start: bool = True,
        task_timeout: timedelta = WORKFLOW_TASK_TIMEOUT,
        worker: bool = True,
    ) -> None:
        self.ctx = ctx
        self.task_timeout = task_timeout
        # False: an API-only akd ([server] worker = false) starts workflows, sends signals and
        # reads Temporal, but runs no session: the other akd on the task queue do.
        self.runs_sessions = worker
        self.target = target
        self.task_queue = task_queue
        self.eager_start = eager_start
        sdk = SdkCalls(ctx.db, ctx.outcomes, wake=self.wake, start=self.start_session, oauth=ctx.oauth)
        self.activities = SessionActivities(ctx, sdk)
        self._client: Client | None = None
        self._worker: Worker | None = None
        self._worker_task: asyncio.Task[None] | None = None

    @property
    def client(self) -> Client:
        if self._client is None:
            raise Unavailable("Temporal is not connected yet")
        return self._client

    async def _connect(self, timeout: float = 60.0) -> Client:
        """Connect, waiting while the server's frontend reports "not healthy yet" (just started)."""
        deadline = asyncio.get_running_loop().time() + timeout
        delay = 0.05
        while True:
            try:
                return await Client.connect(
                    self.target.address,
                    namespace=self.target.namespace,
                    tls=self.target.tls,
                    api_key=self.target.api_key,
                )
            except RuntimeError as exc:
                if asyncio.get_running_loop().time() + delay > deadline:
                    raise Unavailable(f"cannot connect to Temporal at {self.target.address}: {exc}") from None
                log.info("Temporal at %s is not ready yet (%s); retrying", self.target.address, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 1.0)

    async def start(self) -> None:
        self._client = await self._connect()
        if not self.runs_sessions:
            return
        self._worker = Worker(
            self._client,
            task_queue=self.task_queue,
            workflows=[SessionWorkflow, TickWorkflow],
            activities=[self.activities.run_segment, self.activities.finish_stopped, self.activities.record_tick],
            max_concurrent_local_activities=1000,
            no_remote_activities=True,  # every activity of akd's workflows is a local one: no polling for others
            max_concurrent_workflow_tasks=WORKFLOW_TASK_SLOTS,
            max_cached_workflows=workflow_cache(self.ctx.hub.max_live),
            # Activations run inline on the event loop (the SDK's debug mode): each is short
            # and holds the GIL anyway, and handing every one to a thread and back cost a
            # GIL switch each way (throughput +3-4 %, akd CPU -0.5 ms per session). What the
            # mode gives up, deadlock detection, guards user workflow code; ours is fixed.
            debug_mode=True,
            graceful_shutdown_timeout=timedelta(seconds=1),
            # A task for a worker that died (a timer of a parked session, a signal) waits this
            # long on its sticky queue before any worker may take it: no longer than a task.
            sticky_queue_schedule_to_start_timeout=self.task_timeout,
        )
        self._worker_task = asyncio.create_task(self._worker.run(), name="temporal-worker")

    async def start_session(self, session_id: str) -> None:
        """Start the session's workflow; starting an already started one is a no-op.

        The runner of its first segment is started and given its spec meanwhile: the start
        request spends most of its time waiting for the server, and the segment then only
        has to tell the runner to go.
        """
        if self.runs_sessions:
            self.activities.preload(session_id)
        try:
            await self.client.start_workflow(
                SessionWorkflow.run,
                SessionInput(session_id),
                id=session_id,
                task_queue=self.task_queue,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                task_timeout=self.task_timeout,
                request_eager_start=self.eager_start and self.runs_sessions,  # eager: to this worker
            )
        except WorkflowAlreadyStartedError:
            self.ctx.hub.drop_prespawned(session_id)  # its segment runs (or ran) elsewhere
        except RPCError as exc:
            self.ctx.hub.drop_prespawned(session_id)
            raise Unavailable(f"Temporal refused to start session {session_id}: {exc}") from exc
        except BaseException:
            self.ctx.hub.drop_prespawned(session_id)
            raise

    async def closed_status(self, session_id: str) -> str | None:
        """The status of the session's workflow if it has closed, else None."""
        try:
            desc = await self.handle(session_id).describe()
        except RPCError:
            return None
        status = desc.status
        if status is None or status == WorkflowExecutionStatus.RUNNING:
            return None
        return status.name.lower()

    async def reconcile_schedules(self) -> None:
        """Make Temporal Schedules match the schedule triggers (after deploys, at start-up)."""
        try:
            await reconcile(self.client, self.ctx.db, self.task_queue)
        except RPCError as exc:
            log.warning("reconciling schedules failed: %s", exc)

    async def wake(self, session_id: str) -> None:
        """Tell a waiting session that its inbox changed (no-op if it has ended)."""
        try:
            await self.handle(session_id).signal(SessionWorkflow.wake)
        except RPCError as exc:
            log.debug("wake %s: %s", session_id, exc)

    async def end_sleep(self, session_id: str) -> None:
        """End the durable sleep the session's workflow is in (``akctl session wake``)."""
        await self.handle(session_id).signal(SessionWorkflow.wake_sleep)

    async def fire_schedule(self, trigger_id: str) -> None:
        """Run a schedule trigger's action now: a real tick, through the tick workflow its
        schedule starts. Not through the schedule itself: Temporal names a schedule's runs
        by the second, so a second fire within the same second was no tick at all. This
        run is named to the microsecond, in the schedule's form (``ticks.scheduled_at``)."""
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        await self.client.start_workflow(
            TickWorkflow.run, TickInput(trigger_id), id=f"{tick_id(trigger_id)}-{stamp}", task_queue=self.task_queue
        )

    async def forget_workflows(self, workflow_ids: list[str]) -> None:
        """Delete workflow histories retention no longer needs (a few at a time)."""
        gate = asyncio.Semaphore(FORGET_CONCURRENCY)

        async def one(workflow_id: str) -> None:
            async with gate:
                await self._delete_workflow(workflow_id)

        await asyncio.gather(*(one(wid) for wid in workflow_ids))

    async def forget_ticks(self, before: float) -> None:
        """Delete the histories of schedule-tick workflows that closed before ``before``.

        A tick's event and the session it started are what matter; the tick workflow itself
        is bookkeeping, so it goes with the same retention as sessions.
        """
        stamp = datetime.fromtimestamp(before, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        query = f"WorkflowType = '{TICK_WORKFLOW}' AND ExecutionStatus != 'Running' AND CloseTime < '{stamp}'"
        ids = []
        try:
            async for wf in self.client.list_workflows(query, limit=FORGET_TICKS_PER_SWEEP):
                ids.append(wf.id)
        except RPCError as exc:
            log.warning("listing old schedule ticks failed: %s", exc)
            return
        await self.forget_workflows(ids)

    async def _delete_workflow(self, workflow_id: str) -> None:
        request = DeleteWorkflowExecutionRequest(
            namespace=self.target.namespace, workflow_execution=WorkflowExecution(workflow_id=workflow_id)
        )
        try:
            await self.client.workflow_service.delete_workflow_execution(request)
        except RPCError as exc:
            if exc.status != RPCStatusCode.NOT_FOUND:
                log.warning("deleting the history of %s failed: %s", workflow_id, exc)

    def handle(self, session_id: str) -> WorkflowHandle[SessionWorkflow, str]:
        return self.client.get_workflow_handle_for(SessionWorkflow.run, session_id)

    async def stop(self) -> None:
        """Stop polling and wait (bounded) for in-flight tasks to settle."""
        if self._worker is not None:
            try:
                await asyncio.wait_for(self._worker.shutdown(), 10)
            except (TimeoutError, Exception):
                log.warning("the Temporal worker did not stop in time")
        if self._worker_task is not None:
            self._worker_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._worker_task

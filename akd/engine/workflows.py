"""The session workflow: fixed, deterministic code that drives segments of user code.

User code never runs here. A segment is one local activity that runs the session's
runner until the code ends or waits; waits become Temporal timers (and, later,
signals), after which the next segment replays the journal and continues live.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError, is_cancelled_exception

from akd.engine.types import SegmentInput, SegmentResult, SessionInput, StopInput

SESSION_WORKFLOW = "akd.Session"
SEGMENT_TIMEOUT = timedelta(days=30)
SEGMENT_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=200),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=10),
    maximum_attempts=0,
)


@workflow.defn(name=SESSION_WORKFLOW, sandboxed=False)
class SessionWorkflow:
    def __init__(self) -> None:
        self._wakeups = 0
        self._early = 0

    @workflow.signal(name="wake")
    def wake(self) -> None:
        """Something arrived in the session's inbox (an event, a signal)."""
        self._wakeups += 1

    @workflow.signal(name="wake_sleep")
    def wake_sleep(self) -> None:
        """``akctl session wake``: the durable sleep in progress ends now (its journaled
        deadline was moved to now before this signal was sent)."""
        self._early += 1

    async def _sleep(self, delay: float, seen: int) -> None:
        try:
            await workflow.wait_condition(lambda: self._early > seen, timeout=delay)
        except TimeoutError:
            pass

    async def _wait(self, result: SegmentResult, seen: int) -> None:
        timeout = None
        if result.until:
            timeout = result.until - workflow.now().timestamp()
            if timeout <= 0:
                return
        try:
            await workflow.wait_condition(lambda: self._wakeups > seen, timeout=timeout)
        except TimeoutError:
            pass

    @workflow.run
    async def run(self, inp: SessionInput) -> str:
        try:
            while True:
                seen, early = self._wakeups, self._early
                # The epoch: when this workflow task began, on Temporal's clock (see SegmentInput).
                segment = SegmentInput(inp.session_id, epoch=workflow.now().timestamp())
                result: SegmentResult = await workflow.execute_local_activity(
                    "akd.run_segment",
                    segment,
                    result_type=SegmentResult,
                    start_to_close_timeout=SEGMENT_TIMEOUT,
                    retry_policy=SEGMENT_RETRY,
                )
                if result.kind == "done":
                    return _outcome(result)
                if result.kind == "sleep":
                    delay = result.until - workflow.now().timestamp()
                    if delay > 0:
                        await self._sleep(delay, early)
                elif result.kind == "wait":
                    await self._wait(result, seen)
        except BaseException as exc:
            # A cancel during a segment arrives as an ActivityError caused by the cancel.
            if not is_cancelled_exception(exc):
                raise
            await workflow.execute_local_activity(
                "akd.finish_stopped",
                StopInput(inp.session_id),
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=SEGMENT_RETRY,
            )
            raise


def _outcome(result: SegmentResult) -> str:
    """The workflow ends as the session did: a session in error fails it (not retried)."""
    if result.state == "error":
        err = result.error or {}
        raise ApplicationError(
            str(err.get("message") or "the session ended in error"),
            type=str(err.get("type") or "Error"),
            non_retryable=True,
        )
    return result.state

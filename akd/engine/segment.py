"""One segment of a session: a runner runs the user code until it ends or waits.

Ordering guarantees: prints are buffered and committed no later than the step that
follows them (in the same transaction), so after a crash the runner's replay re-sends
exactly the prints that were not stored yet, and their dedupe keys drop repeats.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import pickle
import signal
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from akd.engine.runners import RunnerConn, RunnerGone, RunnerHub
from akd.engine.sdk_calls import Reply, SdkCalls
from akd.engine.types import SegmentResult
from akd.notify import Notifier
from akd.runner import watchdog
from akd.store import sessions as store
from akd.store.db import Database
from akd.store.sessions import LogRecord, SessionMoved, SessionRecord
from akd.store.stalls import is_storage_error
from akd.store.states import SessionState

log = logging.getLogger(__name__)

PRINT_FLUSH_SECONDS = 0.05
PRINT_FLUSH_COUNT = 500
# A write the disk refused is tried again after these many seconds, doubling up to the max.
STORAGE_RETRY_FIRST = 0.2
STORAGE_RETRY_MAX = 5.0
T = TypeVar("T")


class SegmentAborted(Exception):
    """akd is shutting down: the segment is abandoned and resumes after restart."""


@dataclass
class SegmentSpec:
    session_id: str
    init: dict[str, Any]
    payload: dict[str, Any]


class SegmentRun:
    def __init__(
        self,
        db: Database,
        hub: RunnerHub,
        sdk: SdkCalls,
        notifier: Notifier,
        spec: SegmentSpec,
        row: SessionRecord,
        *,
        node: str | None = None,
        replay_each_step: bool = False,
    ) -> None:
        self.db = db
        # The akd node running the segment: its writes hold only while the session is
        # still this node's (``SessionMoved`` else: another node took it over).
        self.node = node
        self.hub = hub
        self.sdk = sdk
        self.notifier = notifier
        self.row = row
        self.spec = spec
        self.sid = spec.session_id
        self.buffer: list[LogRecord] = []
        self.flush_at = 0.0
        self._read: asyncio.Future[tuple[dict[str, Any], bytes]] | None = None
        # The wait the last segment parked on (its seq and since): what a replayed request
        # at that seq waited for, once it is answered.
        self._parked: dict[str, Any] = json.loads(row.waiting) if row.waiting else {}
        # Park after each journaled step so the next segment replays (replay_each_step).
        self._replay_check = replay_each_step and row.durable

    async def run(self, conn: RunnerConn) -> SegmentResult:
        """Run the segment on ``conn`` (started by the caller, maybe ahead and already given this spec)."""
        try:
            if self._parked:
                await self._set_waiting(None)  # the wait the last segment parked on is over
            if conn.prepared is self.spec:
                await conn.send({"op": "go"})
            else:
                await conn.send({"op": "init", **self.spec.init}, pickle.dumps(self.spec.payload))
            return await self._loop(conn)
        except RunnerGone:
            return await self._runner_died(conn)
        except asyncio.CancelledError:
            # The session is being stopped: keep its last prints, let the runner end, then retire it.
            await asyncio.shield(self._stopped(conn))
            raise
        finally:
            await self.hub.retire(conn)

    async def _loop(self, conn: RunnerConn) -> SegmentResult:
        while True:
            msg, blob = await self._recv(conn)
            op = msg.get("op")
            if op == "print":
                self._buffer_print(msg)
            elif op == "step":
                await self._record_step(msg, blob)
                if self._replay_check:
                    return await self._park_for_replay(int(msg["seq"]))
                await conn.send({"op": "ack"})
            elif op == "wait":
                await self._flush()
                until = float(msg.get("until", 0))
                await self._set_waiting({"kind": str(msg["kind"]), "until": until, **self._since(int(msg["seq"]))})
                return SegmentResult(kind=str(msg["kind"]), until=until, seq=int(msg["seq"]))
            elif op == "call":
                parked = await self._call(conn, msg)
                if parked is not None:
                    return parked
            elif op == "done":
                return await self._done(msg)
            elif op == "lease":
                await self._check_lease()
                await conn.send({"op": "ack"})
            else:
                raise RuntimeError(f"runner sent an unknown message {op!r}")

    async def _check_lease(self) -> None:
        """The runner has heard nothing from akd for a while (it computed, or the machine
        stalled): before its next step, make sure the session is still this node's."""
        if self.node is None:
            return
        moved = await self._stored(lambda: store.moved_from(self.db, self.sid, self.node or ""), "a lease check")
        if moved is not None:
            raise SessionMoved(moved)

    async def _recv(self, conn: RunnerConn) -> tuple[dict[str, Any], bytes]:
        """The next frame; while prints are buffered, flush them on time without losing a read.

        One read is outstanding at a time and survives flush timeouts (a frame is never
        split); its result is handed out exactly once.
        """
        while True:
            if self._read is None:
                self._read = asyncio.ensure_future(conn.recv())
            fut = self._read
            if self.buffer and not fut.done():
                timeout = max(0.0, self.flush_at - time.monotonic())
                done, _ = await asyncio.wait({fut}, timeout=timeout)
                if not done:
                    await self._flush()
                    continue
            try:
                return await fut
            finally:
                self._read = None

    async def _call(self, conn: RunnerConn, msg: dict[str, Any]) -> SegmentResult | None:
        """An SDK request: answer it, or (durable sessions) park the session until it can be."""
        await self._flush()
        seq, name, payload = int(msg["seq"]), str(msg["name"]), dict(msg.get("payload") or {})
        waited: dict[str, Any] = {}
        while True:
            seen = self.notifier.generation
            since = waited or (self._parked if self._parked.get("seq") == seq else {})
            took = time.time() - float(since["since"]) if since else None
            journal = bool(msg.get("journal", True))
            result = await self.sdk.handle(self.row, seq, name, payload, journal=journal, waited=took, worker=self.node)
            if isinstance(result, Reply):
                if waited:
                    await self._set_waiting(None)
                if self._replay_check and msg.get("journal", True):
                    return await self._park_for_replay(seq)  # the reply is journaled: replay gives it
                await conn.send({"op": "reply"}, pickle.dumps(result.value, protocol=pickle.HIGHEST_PROTOCOL))
                return None
            if not waited:
                waited = {**result.waiting, "until": result.until or None, **self._since(seq)}
                await self._set_waiting(waited)
            if self.row.durable and journal:
                return SegmentResult(kind="wait", until=result.until, seq=seq)
            # A non-durable session cannot be replayed: its runner waits here instead.
            await self._wait_change(seen, result.until)

    async def _stopped(self, conn: RunnerConn) -> None:
        if self._read is not None:
            self._read.cancel()
        with contextlib.suppress(Exception):
            await self._flush()
        await conn.terminate()

    async def _park_for_replay(self, seq: int) -> SegmentResult:
        """End the segment right after a journaled step: the next one replays up to here."""
        await self._flush()
        return SegmentResult(kind="sleep", until=0.0, seq=seq)

    def _since(self, seq: int) -> dict[str, Any]:
        """When the wait at ``seq`` began: now, or when an earlier segment first parked on it."""
        first = self._parked.get("since") if self._parked.get("seq") == seq else None
        return {"seq": seq, "since": float(first) if first else time.time()}

    async def _set_waiting(self, waiting: dict[str, Any] | None) -> None:
        """What the session waits on now, for its view (``waiting`` in the API); None: nothing."""
        await self._stored(lambda: store.set_waiting(self.db, self.sid, waiting), "what the session waits on")
        self.notifier.changed()

    async def _wait_change(self, seen: int, until: float) -> None:
        await self.notifier.next_change(seen, (until - time.time()) if until else 3600.0)

    def _buffer_print(self, msg: dict[str, Any]) -> None:
        if not self.buffer:
            self.flush_at = time.monotonic() + PRINT_FLUSH_SECONDS
        self.buffer.append(LogRecord("print", {"text": msg["text"]}, dedupe=str(msg["key"]), t=time.time()))
        if len(self.buffer) >= PRINT_FLUSH_COUNT:
            self.flush_at = 0.0

    async def _flush(self) -> None:
        if self.buffer:
            records, self.buffer = self.buffer, []
            await self._stored(lambda: self._append_log(records), "prints")

    async def _append_log(self, records: list[LogRecord]) -> None:
        async with self.db.tx() as conn:
            await store.append_log(conn, self.sid, records)

    async def _record_step(self, msg: dict[str, Any], blob: bytes) -> None:
        data: dict[str, Any] = {
            k: msg[k]
            for k in ("seq", "name", "args", "result", "result_full", "ok", "duration", "error", "attempt")
            if k in msg
        }
        records = [*self.buffer, LogRecord(str(msg.get("kind", "step")), data, dedupe=f"j{msg['seq']}")]
        self.buffer = []
        seq, kind, name = int(msg["seq"]), str(msg.get("kind", "step")), str(msg["name"])
        await self._stored(
            lambda: store.record_step(self.db, self.sid, seq, kind, name, blob, records, worker=self.node),
            f"step #{seq} {name}",
        )

    async def _done(self, msg: dict[str, Any]) -> SegmentResult:
        records, self.buffer = self.buffer, []
        state = SessionState.COMPLETED if msg.get("ok") else SessionState.ERROR
        value = msg.get("value") if state == SessionState.COMPLETED else None
        error = msg.get("error") if state == "error" else None
        await self._stored(
            lambda: store.finish(
                self.db, self.sid, state, return_value=value, error=error, records=records, worker=self.node
            ),
            "the session's end",
        )
        self.notifier.changed()  # waiters (sync webhooks, watch, wait=final) learn at once
        return SegmentResult(kind="done", state=state, error=error or {})

    async def _stored(self, write: Callable[[], Awaitable[T]], what: str) -> T:
        """Run a write; while the disk refuses it, hold the session and try again.

        The runner waits for its ack meanwhile, so the outcome of the step in flight stays
        in memory and the step is not run again (a failed write used to kill the runner,
        and every retry of the segment re-ran the step). The stall is visible to the API
        (``waiting_for``) and leaves a ``storage`` log record once the write landed.
        """
        try:
            return await write()
        except Exception as exc:
            if not is_storage_error(exc):
                raise
            first = exc
        started, delay = time.monotonic(), STORAGE_RETRY_FIRST
        self.db.stalls.mark(self.sid, what, str(first))
        log.error("session %s: %s could not be stored (%s); holding it until writes succeed", self.sid, what, first)
        try:
            while True:
                await asyncio.sleep(delay)
                delay = min(delay * 2, STORAGE_RETRY_MAX)
                if self.hub.closing:
                    raise SegmentAborted("akd is shutting down")
                try:
                    result = await write()
                    break
                except Exception as exc:
                    if not is_storage_error(exc):
                        raise
        finally:
            self.db.stalls.clear(self.sid)
        waited = time.monotonic() - started
        log.warning("session %s: %s stored after waiting %.1f s for storage", self.sid, what, waited)
        note = {"waited": round(waited, 3), "what": what, "error": str(first)}
        self.buffer.append(LogRecord("storage", note, t=time.time()))
        if not self.flush_at:
            self.flush_at = time.monotonic() + PRINT_FLUSH_SECONDS
        return result

    async def _runner_died(self, conn: RunnerConn) -> SegmentResult:
        if self.hub.closing:
            raise SegmentAborted("akd is shutting down")
        code = await conn.exit_code()
        await self._flush()
        reason = _exit_reason(code)
        error = {
            "type": "RunnerExited",
            "message": f"the runner process ended unexpectedly ({reason})",
            "traceback": "",
        }
        await self._stored(
            lambda: store.finish(self.db, self.sid, "error", error=error, worker=self.node), "the session's end"
        )
        return SegmentResult(kind="done", state="error", error=error)


_SIGNAL_HINTS: dict[int, str] = {
    int(signal.SIGKILL): "killed (SIGKILL): out of memory, or killed from outside",
    int(signal.SIGXCPU): "CPU time limit exceeded ([runner] cpu_seconds)",
    int(signal.SIGSEGV): "crashed (SIGSEGV) in native code",
}


def _exit_reason(code: int | None) -> str:
    """Why a runner died, in words a user can act on."""
    if code is None:
        return "unknown exit status"
    if code >= 0:
        hint = watchdog.EXIT_HINTS.get(code)
        return f"exit code {code}: {hint}" if hint else f"exit code {code}"
    return _SIGNAL_HINTS.get(-code, f"killed by signal {-code}")

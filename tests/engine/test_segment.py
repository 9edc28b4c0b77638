"""akd.engine.segment.SegmentRun against a scripted runner, on a real SQLite store.

The test plays the runner's side of the protocol (akd.runner.protocol framing) over a
real socket pair; akd's side is the real RunnerConn, RunnerHub, SdkCalls and store. The
RunnerConn's pid is a real child process standing for the runner, so the segment's end
(``RunnerHub.retire``: SIGKILL to the runner's tree) is seen as that process's death.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import pickle
import signal
import socket
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from akd.engine.outcomes import OutcomeRegistry
from akd.engine.runners import RunnerConn, RunnerHub
from akd.engine.sdk_calls import SdkCalls
from akd.engine.segment import SegmentRun, SegmentSpec
from akd.engine.types import SegmentResult
from akd.notify import Notifier
from akd.runner.protocol import HEADER, decode_header, encode
from akd.store import projects as projects_store
from akd.store import sessions
from akd.store.db import Database, SqliteDatabase
from akd.store.sessions import NewSession, SessionMoved
from akd.store.states import SessionState

SID = "ses_seg"
NODE = "node-a"
DEADLINE = 10.0


class ScriptedRunner:
    """The runner's end of the socket pair, driven by the test frame by frame."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    async def send(self, msg: dict[str, Any], blob: bytes = b"") -> None:
        self.writer.write(encode(msg, blob))
        await self.writer.drain()

    async def recv(self) -> tuple[dict[str, Any], bytes]:
        async def frame() -> tuple[dict[str, Any], bytes]:
            jlen, blen = decode_header(await self.reader.readexactly(HEADER.size))
            body = await self.reader.readexactly(jlen)
            return json.loads(body), await self.reader.readexactly(blen) if blen else b""

        return await asyncio.wait_for(frame(), DEADLINE)

    async def expect(self, op: str) -> bytes:
        msg, blob = await self.recv()
        assert msg["op"] == op, msg
        return blob

    async def step(self, seq: int, value: Any) -> bytes:
        """A journaled step as the runner sends it: its record and its pickled outcome."""
        blob = pickle.dumps((True, value))
        msg = {"op": "step", "seq": seq, "kind": "step", "name": "main.effect", "ok": True, "args": f"{seq}"}
        await self.send({**msg, "duration": 0.001, "attempt": 1, "result": repr(value)}, blob)
        return blob

    async def print(self, key: str, text: str) -> None:
        await self.send({"op": "print", "key": key, "text": text})

    async def closed_by_akd(self) -> bool:
        """Whether akd closed its end (the next read is the end of the stream)."""
        return await asyncio.wait_for(self.reader.read(1), DEADLINE) == b""


@dataclass
class Segment:
    """One segment being run by akd on a scripted runner."""

    db: Database
    runner: ScriptedRunner
    task: asyncio.Task[SegmentResult]
    process: asyncio.subprocess.Process

    async def result(self) -> SegmentResult:
        """How the segment ended (or what it raised), once it has."""
        done, _ = await asyncio.wait({self.task}, timeout=DEADLINE)
        assert done, f"the segment still runs after {DEADLINE} s"
        return self.task.result()

    async def runner_exit_code(self) -> int:
        return await asyncio.wait_for(self.process.wait(), DEADLINE)


async def _open_store(tmp_path: Path) -> Database:
    db = SqliteDatabase(tmp_path / "akd.db")
    await db.open()
    async with db.tx() as conn:
        await projects_store.upsert_project(conn, "prj_a", "alpha", "", "")
        await sessions.insert_sessions(
            conn, [NewSession(SID, "prj_a", "dep_1", "bld_1", "trg_1", "evt_1", "main.py:run", durable=True)]
        )
    await sessions.set_running(db, SID, NODE, 1.0)
    return db


async def _no_wake(session_id: str) -> None:
    return None


@asynccontextmanager
async def segment(tmp_path: Path) -> AsyncIterator[Segment]:
    """A session running on this node (NODE) and its segment started on a scripted runner."""
    db = await _open_store(tmp_path)
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", "import sys; sys.stdin.read()", stdin=asyncio.subprocess.PIPE
    )
    try:
        reader, writer = await asyncio.open_unix_connection(sock=ours)
        conn = RunnerConn(SID, reader, writer, process.pid, asyncio.ensure_future(process.wait()))
        runner = ScriptedRunner(*await asyncio.open_unix_connection(sock=theirs))
        hub = RunnerHub(tmp_path)
        sdk = SdkCalls(db, OutcomeRegistry(), _no_wake, _no_wake)
        row = await sessions.get(db, SID)
        assert row is not None
        spec = SegmentSpec(SID, {"durable": True, "entrypoint": "main.py:run"}, {"event": {}, "journal": []})
        run = SegmentRun(db, hub, sdk, Notifier(), spec, row, node=NODE)
        task = asyncio.ensure_future(run.run(conn))
        init, payload = await runner.recv()
        assert init["op"] == "init" and init["entrypoint"] == "main.py:run"
        assert pickle.loads(payload) == spec.payload
        try:
            yield Segment(db, runner, task, process)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
            runner.writer.close()
    finally:
        if process.returncode is None:
            process.kill()
        await process.wait()
        await db.close()


def _run(tmp_path: Path, scenario: Callable[[Path], Coroutine[Any, Any, None]]) -> None:
    asyncio.run(scenario(tmp_path))


async def _log(db: Database, *kinds: str) -> list[tuple[str, str | None, dict[str, Any]]]:
    rows = await sessions.list_log(db, SID, kinds=kinds)
    return [(r.kind, r.dedupe, json.loads(r.data)) for r in rows]


async def _eventually(check: Callable[[], Awaitable[bool]]) -> None:
    deadline = asyncio.get_running_loop().time() + DEADLINE
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.01)


def test_steps_calls_and_prints_are_stored_in_order_with_their_dedupe_keys(tmp_path: Path) -> None:
    async def scenario(tmp_path: Path) -> None:
        async with segment(tmp_path) as seg:
            r, db = seg.runner, seg.db
            await r.print("p0.1", "one")
            await r.print("p0.2", "two")
            first = await r.step(0, "r0")
            await r.expect("ack")
            # Acked only once stored: the step with the prints before it, in their order.
            assert await sessions.load_journal(db, SID) == [("step", "main.effect", first)]
            assert [(k, d) for k, d, _ in await _log(db, "print", "step")] == [
                ("print", "p0.1"),
                ("print", "p0.2"),
                ("step", "j0"),
            ]
            await r.print("p1.1", "three")
            await r.send({"op": "call", "seq": 1, "name": "kv.set", "payload": {"key": "k", "value": 7}})
            assert pickle.loads(await r.expect("reply")) == (True, None)
            await r.send({"op": "call", "seq": 2, "name": "kv.get", "payload": {"key": "k"}})
            assert pickle.loads(await r.expect("reply")) == (True, 7)
            second = await r.step(3, "r3")
            await r.expect("ack")
            await r.print("p4.1", "four")  # no step after it: stored on the flush timer

            async def four_stored() -> bool:
                return len(await _log(db, "print")) == 4

            await _eventually(four_stored)
            log = await _log(db, "print", "step", "call")
            assert [(k, d) for k, d, _ in log] == [
                ("print", "p0.1"),
                ("print", "p0.2"),
                ("step", "j0"),
                ("print", "p1.1"),
                ("call", "j1"),
                ("call", "j2"),
                ("step", "j3"),
                ("print", "p4.1"),
            ]
            assert [data["text"] for kind, _, data in log if kind == "print"] == ["one", "two", "three", "four"]
            assert log[2][2]["seq"] == 0 and log[2][2]["result"] == "'r0'"
            journal = await sessions.load_journal(db, SID)
            assert [(kind, name) for kind, name, _ in journal] == [
                ("step", "main.effect"),
                ("call", "kv.set"),
                ("call", "kv.get"),
                ("step", "main.effect"),
            ]
            assert journal[0][2] == first and journal[3][2] == second
            row = await sessions.get(db, SID)
            assert row is not None and row.steps == 4 and row.state is SessionState.RUNNING

    _run(tmp_path, scenario)


def test_a_step_of_a_session_moved_to_another_node_is_not_stored(tmp_path: Path) -> None:
    async def scenario(tmp_path: Path) -> None:
        async with segment(tmp_path) as seg:
            r, db = seg.runner, seg.db
            first = await r.step(0, "r0")
            await r.expect("ack")
            await sessions.set_running(db, SID, "other-node", 2.0)  # a newer segment elsewhere
            before = await _log(db)
            await r.print("p1.1", "lost")
            await r.step(1, "r1")
            with pytest.raises(SessionMoved, match="other-node"):
                await seg.result()
            assert await sessions.load_journal(db, SID) == [("step", "main.effect", first)]
            assert await _log(db) == before  # neither the step nor its print
            row = await sessions.get(db, SID)
            assert row is not None and row.steps == 1 and row.worker == "other-node"
            assert await r.closed_by_akd()  # no ack: the connection ends
            assert await seg.runner_exit_code() == -signal.SIGKILL

    _run(tmp_path, scenario)


def test_a_lease_is_acked_while_the_session_is_this_nodes_and_ends_the_segment_once_moved(tmp_path: Path) -> None:
    async def scenario(tmp_path: Path) -> None:
        async with segment(tmp_path) as seg:
            r, db = seg.runner, seg.db
            await r.send({"op": "lease"})
            await r.expect("ack")
            await r.step(0, "r0")
            await r.expect("ack")
            await r.send({"op": "lease"})
            await r.expect("ack")
            assert not seg.task.done()
            await sessions.set_running(db, SID, "other-node", 2.0)
            await r.send({"op": "lease"})
            with pytest.raises(SessionMoved, match="other-node"):
                await seg.result()
            assert await r.closed_by_akd()  # the runner gets no ack, so it runs no step
            assert await seg.runner_exit_code() == -signal.SIGKILL
            assert len(await sessions.load_journal(db, SID)) == 1

    _run(tmp_path, scenario)


def test_done_stores_the_final_state_and_the_last_prints_once(tmp_path: Path) -> None:
    async def scenario(tmp_path: Path) -> None:
        async with segment(tmp_path) as seg:
            r, db = seg.runner, seg.db
            await r.step(0, "r0")
            await r.expect("ack")
            await r.print("p1.1", "last words")
            await r.send({"op": "done", "ok": True, "value": {"n": 3}})
            result = await seg.result()
            assert (result.kind, result.state) == ("done", SessionState.COMPLETED)
            row = await sessions.get(db, SID)
            assert row is not None and row.state is SessionState.COMPLETED
            assert json.loads(row.return_value or "null") == {"n": 3}
            assert row.error is None and row.ended_at is not None
            ends = [(d, data) for _, d, data in await _log(db, "print", "state")]
            assert ends[-2:] == [("p1.1", {"text": "last words"}), (None, {"state": "completed"})]
            assert await r.closed_by_akd()
            assert await seg.runner_exit_code() == -signal.SIGKILL
        # A later segment of the same session (its runner ending differently) changes nothing.
        async with segment(tmp_path) as again:
            await again.runner.send({"op": "done", "ok": False, "error": {"type": "E", "message": "m"}})
            await again.result()
            row = await sessions.get(again.db, SID)
            assert row is not None and row.state is SessionState.COMPLETED and row.error is None
            assert json.loads(row.return_value or "null") == {"n": 3}
            states = [data["state"] for _, _, data in await _log(again.db, "state")]
            assert states.count("completed") == 1 and "error" not in states

    _run(tmp_path, scenario)

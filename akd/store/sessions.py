"""Sessions, their logs (state changes, prints, steps) and their step journals."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from typing import Any

from akd.store.db import Connection, Database, Row
from akd.store.states import FINAL, LIVE, STARTED, SessionState, sql_set


@dataclass(frozen=True)
class NewSession:
    session_id: str
    project_id: str
    deployment_id: str
    build_id: str
    trigger_id: str
    event_id: str
    entrypoint: str
    durable: bool
    parent_id: str = ""
    inputs: bytes | None = None
    memo: str = "{}"
    state: str = SessionState.CREATED  # or SessionState.QUEUED
    flow_key: str | None = None  # the concurrency group's key value (with trigger_id)
    flow_limit: int | None = None


@dataclass(frozen=True, slots=True)
class SessionRecord:
    """One row of ``sessions`` as the layers above read it, with its project's name.

    ``error``, ``return_value`` and ``waiting`` stay the JSON text the store holds: most
    readers only test them for presence, and the few that show them parse them once.
    """

    session_id: str
    project_id: str
    deployment_id: str
    build_id: str
    trigger_id: str
    event_id: str
    parent_id: str
    entrypoint: str
    durable: bool
    state: SessionState
    inputs: bytes | None  # pickled
    memo: str  # a JSON object
    error: str | None
    return_value: str | None
    steps: int
    created_at: float
    updated_at: float
    started_at: float | None
    ended_at: float | None
    stop_reason: str | None
    restart_of: str  # the session a restart or rerun started from, or ""
    attempt: int
    flow_key: str | None
    flow_limit: int | None
    waiting: str | None
    worker: str | None  # the akd ([server] node) that runs or last ran its segment
    worker_epoch: float  # when the workflow task of that segment began (Temporal's clock)
    project: str  # the project's name; "" when the row was read without it or it is gone


# The record's columns in its field order, named: ``SessionRecord(*row)`` needs no lookup
# by name (a by-name read of 26 columns cost as much as the query itself).
_FIELDS = tuple(f.name for f in fields(SessionRecord))
_SELECT = "SELECT " + ", ".join(f"s.{name}" for name in _FIELDS[:-1])
_WITH_PROJECT = f"{_SELECT}, COALESCE(p.name, '') AS project FROM sessions s LEFT JOIN projects p USING (project_id)"
_STATES = {state.value: state for state in SessionState}
_DURABLE, _STATE = _FIELDS.index("durable"), _FIELDS.index("state")


def _session(row: Row) -> SessionRecord:
    values = list(row)
    values[_DURABLE] = bool(values[_DURABLE])
    values[_STATE] = _STATES[values[_STATE]]
    return SessionRecord(*values)


@dataclass(frozen=True)
class LogRecord:
    kind: str
    data: dict[str, Any]
    dedupe: str | None = None
    t: float = 0.0


async def insert_sessions(conn: Connection, sessions: Iterable[NewSession]) -> list[str]:
    """Insert sessions not yet created for their (event, trigger); return the new ids."""
    now = time.time()
    created = []
    for s in sessions:
        cur = await conn.execute(
            "INSERT OR IGNORE INTO sessions (session_id, project_id, deployment_id, build_id, trigger_id,"
            " event_id, parent_id, entrypoint, durable, state, inputs, memo, created_at, updated_at, flow_key,"
            " flow_limit) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                s.session_id,
                s.project_id,
                s.deployment_id,
                s.build_id,
                s.trigger_id,
                s.event_id,
                s.parent_id,
                s.entrypoint,
                int(s.durable),
                s.state,
                s.inputs,
                s.memo,
                now,
                now,
                s.flow_key,
                s.flow_limit,
            ),
        )
        if cur.rowcount:
            created.append(s.session_id)
            await _log(conn, s.session_id, LogRecord("state", {"state": s.state}, t=now))
    return created


async def _log(conn: Connection, session_id: str, rec: LogRecord) -> None:
    await conn.execute(
        "INSERT OR IGNORE INTO session_log (session_id, kind, dedupe, t, data) VALUES (?,?,?,?,?)",
        (session_id, rec.kind, rec.dedupe, rec.t or time.time(), json.dumps(rec.data)),
    )


async def append_log(conn: Connection, session_id: str, records: Sequence[LogRecord]) -> None:
    for rec in records:
        await _log(conn, session_id, rec)


async def set_running(db: Database, session_id: str, worker: str, epoch: float = 0.0) -> None:
    """A segment starts on ``worker``: a created session becomes running; a running one
    (resumed, maybe on another akd) names its new worker.

    ``epoch`` is when the workflow task that started the segment began (Temporal's clock).
    A segment of an older task than the one that started the session's current segment
    is stale (Temporal gave the task to an akd that stalled, then to another one): it
    gets ``SessionMoved`` and the session stays with the newer segment's node.
    """
    now = time.time()
    async with db.tx() as conn:
        cur = await conn.execute(
            "UPDATE sessions SET state='running', updated_at=?, started_at=COALESCE(started_at, ?), worker=?,"
            " worker_epoch=? WHERE session_id=? AND state='created'",
            (now, now, worker, epoch, session_id),
        )
        if cur.rowcount:
            await _log(conn, session_id, LogRecord("state", {"state": SessionState.RUNNING}, t=now))
            return
        cur = await conn.execute(
            "UPDATE sessions SET worker=?, worker_epoch=? WHERE session_id=? AND state='running' AND worker_epoch<=?",
            (worker, epoch, session_id, epoch),
        )
        if not cur.rowcount:
            found = await conn.execute_fetchall("SELECT worker, state FROM sessions WHERE session_id=?", (session_id,))
            if found and found[0][1] == SessionState.RUNNING:
                raise SessionMoved(_moved(session_id, found, worker) + " (a newer segment of it started there)")


async def set_waiting(db: Database, session_id: str, waiting: dict[str, Any] | None) -> None:
    """Record what the session waits on now (a JSON object), or that it waits on nothing."""
    async with db.tx() as conn:
        await conn.execute(
            "UPDATE sessions SET waiting=? WHERE session_id=?",
            (None if waiting is None else json.dumps(waiting), session_id),
        )


async def subscription_specs(conn: Connection, session_id: str, sub_ids: Sequence[str]) -> list[dict[str, str]]:
    """The source and filter of each of a session's subscriptions in ``sub_ids`` (in that order)."""
    marks = ",".join("?" * len(sub_ids))
    async with conn.execute(
        f"SELECT sub_id, source, filter FROM subscriptions WHERE session_id=? AND sub_id IN ({marks})",
        (session_id, *sub_ids),
    ) as cur:
        found = {row[0]: {"source": str(row[1]), "filter": str(row[2] or "")} for row in await cur.fetchall()}
    return [found[s] for s in dict.fromkeys(sub_ids) if s in found]


async def begin_attempt(db: Database, session_id: str, why: str, now: float | None = None) -> int:
    """A non-durable session starts its code from the top again: count it and log why."""
    now = now or time.time()
    async with db.tx() as conn:
        await conn.execute("UPDATE sessions SET attempt=attempt+1, updated_at=? WHERE session_id=?", (now, session_id))
        cur = await conn.execute("SELECT attempt FROM sessions WHERE session_id=?", (session_id,))
        row = await cur.fetchone()
        attempt = int(row[0]) if row is not None else 1
        await _log(conn, session_id, LogRecord("restart", {"attempt": attempt, "why": why}, f"a{attempt}", now))
    return attempt


class SessionMoved(Exception):
    """The session is no longer this akd's to run: another node took it over (this one
    stalled past Temporal's timeouts), or it was deleted. Nothing was written."""


async def _count_step(conn: Connection, session_id: str, now: float, worker: str | None) -> None:
    """Count a journaled step; with ``worker``, only while that node still runs the session
    (else ``SessionMoved``, and the caller's transaction, the step with it, rolls back)."""
    if worker is None:
        await conn.execute("UPDATE sessions SET steps=steps+1, updated_at=? WHERE session_id=?", (now, session_id))
        return
    cur = await conn.execute(
        "UPDATE sessions SET steps=steps+1, updated_at=? WHERE session_id=? AND worker=?", (now, session_id, worker)
    )
    if not cur.rowcount:
        raise SessionMoved(_moved(session_id, await conn.execute_fetchall(_WORKER, (session_id,)), worker))


_WORKER = "SELECT worker FROM sessions WHERE session_id=?"


def _moved(session_id: str, found: Sequence[Row], worker: str) -> str:
    if not found:
        return f"session {session_id} was deleted"
    return f"session {session_id} is now run by akd node {found[0][0]!r}, not by {worker!r}"


async def moved_from(db: Database, session_id: str, worker: str) -> str | None:
    """None while ``worker`` runs the session; else why not (what ``SessionMoved`` says)."""
    row = await db.fetchone(_WORKER, (session_id,))
    if row is not None and row[0] == worker:
        return None
    return _moved(session_id, [row] if row is not None else [], worker)


async def journal_insert(
    conn: Connection, session_id: str, seq: int, kind: str, name: str, outcome: bytes, *, worker: str | None = None
) -> None:
    now = time.time()
    await conn.execute(
        "INSERT OR REPLACE INTO journal (session_id, seq, kind, name, outcome, t) VALUES (?,?,?,?,?,?)",
        (session_id, seq, kind, name, outcome, now),
    )
    await _count_step(conn, session_id, now, worker)


async def record_step(
    db: Database,
    session_id: str,
    seq: int,
    kind: str,
    name: str,
    outcome: bytes,
    records: Sequence[LogRecord],
    *,
    worker: str | None = None,
) -> None:
    """Journal one step outcome together with the log records that preceded it (with
    ``worker``: only while that node runs the session, else ``SessionMoved``)."""
    async with db.tx() as conn:
        for rec in records:
            await _log(conn, session_id, rec)
        await journal_insert(conn, session_id, seq, kind, name, outcome, worker=worker)


async def finish(
    db: Database,
    session_id: str,
    state: str,
    *,
    return_value: Any = None,
    error: dict[str, Any] | None = None,
    records: Sequence[LogRecord] = (),
    worker: str | None = None,
) -> bool:
    """Move a session to a final state once; returns whether this call did it. With
    ``worker`` (the end its code reached): only while that node runs it, else ``SessionMoved``."""
    now = time.time()
    async with db.tx() as conn:
        for rec in records:
            await _log(conn, session_id, rec)
        fence, args = ("", ()) if worker is None else (" AND worker=?", (worker,))
        cur = await conn.execute(
            "UPDATE sessions SET state=?, return_value=?, error=?, updated_at=?, ended_at=?, waiting=NULL"
            " WHERE session_id=? AND state NOT IN " + sql_set(FINAL) + fence,
            (state, json.dumps(return_value), json.dumps(error) if error else None, now, now, session_id, *args),
        )
        if not cur.rowcount:
            if worker is not None:
                found = await conn.execute_fetchall(_WORKER, (session_id,))
                if not found or found[0][0] != worker:
                    raise SessionMoved(_moved(session_id, found, worker))
            return False
        data: dict[str, Any] = {"state": state}
        if error:
            data["error"] = error.get("message", "")
        await _log(conn, session_id, LogRecord("state", data, t=now))
        await conn.execute("UPDATE subscriptions SET active=0 WHERE session_id=? AND active=1", (session_id,))
        # A draining deployment becomes inactive when its last session ends.
        await conn.execute(
            "UPDATE deployments SET state='inactive', updated_at=? WHERE state='draining' AND deployment_id="
            "(SELECT deployment_id FROM sessions WHERE session_id=?) AND NOT EXISTS (SELECT 1 FROM sessions s"
            " WHERE s.deployment_id=deployments.deployment_id AND s.state IN " + sql_set(LIVE) + ")",
            (now, session_id),
        )
        return True


async def admit_queued(conn: Connection, trigger_id: str | None = None) -> list[str]:
    """Move queued sessions to 'created' while their group (trigger, key value) has fewer
    live sessions than its limit, oldest event first; the ids moved (to be started)."""
    groups = await conn.execute_fetchall(
        "SELECT trigger_id, flow_key, MIN(flow_limit) AS flow_limit FROM sessions WHERE state='queued'"
        + (" AND trigger_id=?" if trigger_id else "")
        + " GROUP BY trigger_id, flow_key",
        (trigger_id,) if trigger_id else (),
    )
    admitted: list[str] = []
    for group in groups:
        admitted += await _admit_group(conn, group["trigger_id"], group["flow_key"], int(group["flow_limit"] or 1))
    return admitted


async def _admit_group(conn: Connection, trigger_id: str, flow_key: str, limit: int) -> list[str]:
    live = await conn.execute_fetchall(
        "SELECT COUNT(*) AS n FROM sessions WHERE trigger_id=? AND flow_key=? AND state IN " + sql_set(STARTED),
        (trigger_id, flow_key),
    )
    free = limit - int(live[0]["n"])
    if free <= 0:
        return []
    rows = await conn.execute_fetchall(
        "SELECT session_id FROM sessions WHERE trigger_id=? AND flow_key=? AND state='queued'"
        " ORDER BY event_id, session_id LIMIT ?",
        (trigger_id, flow_key, free),
    )
    now = time.time()
    ids = [row["session_id"] for row in rows]
    for session_id in ids:
        await conn.execute(
            "UPDATE sessions SET state='created', updated_at=? WHERE session_id=? AND state='queued'", (now, session_id)
        )
        await _log(conn, session_id, LogRecord("state", {"state": SessionState.CREATED}, t=now))
    return ids


async def has_queued(db: Database) -> bool:
    return await db.fetchone("SELECT 1 FROM sessions WHERE state='queued' LIMIT 1") is not None


async def load_journal(db: Database, session_id: str) -> list[tuple[str, str, bytes]]:
    rows = await db.fetchall(
        "SELECT seq, kind, name, outcome FROM journal WHERE session_id=? ORDER BY seq", (session_id,)
    )
    entries = []
    for expected, row in enumerate(rows):
        if row["seq"] != expected:
            break  # a gap can only follow a torn write; replay stops at the first one
        entries.append((row["kind"], row["name"], bytes(row["outcome"])))
    return entries


async def get(db: Database, session_id: str) -> SessionRecord | None:
    row = await db.fetchone(
        f"{_WITH_PROJECT} WHERE session_id=?",
        (session_id,),
    )
    return None if row is None else _session(row)


async def latest_for_project(db: Database, project_id: str) -> SessionRecord | None:
    row = await db.fetchone(
        f"{_WITH_PROJECT} WHERE s.project_id=? ORDER BY s.created_at DESC, s.session_id DESC LIMIT 1",
        (project_id,),
    )
    return None if row is None else _session(row)


async def list_sessions(
    db: Database,
    *,
    project_id: str = "",
    deployment_id: str = "",
    state: str = "",
    limit: int = 50,
    before: str = "",
) -> list[SessionRecord]:
    where: list[str] = ["1=1"]
    params: list[Any] = []
    for column, value in (("s.project_id", project_id), ("s.deployment_id", deployment_id), ("s.state", state)):
        if value:
            where.append(f"{column}=?")
            params.append(value)
    if before:
        where.append("s.session_id < ?")
        params.append(before)
    params.append(limit)
    rows = await db.fetchall(
        f"{_WITH_PROJECT} WHERE {' AND '.join(where)} ORDER BY s.session_id DESC LIMIT ?",
        params,
    )
    return [_session(row) for row in rows]


async def unfinished(db: Database) -> list[SessionRecord]:
    rows = await db.fetchall(f"{_SELECT}, '' AS project FROM sessions s WHERE s.state IN {sql_set(STARTED)}")
    return [_session(row) for row in rows]


async def unfinished_ids(db: Database) -> set[str]:
    """The ids of the sessions not yet final (what periodic reconciliation compares)."""
    rows = await db.fetchall("SELECT session_id FROM sessions WHERE state IN " + sql_set(STARTED))
    return {row["session_id"] for row in rows}


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One row of ``session_log`` as the layers above read it."""

    id: int
    session_id: str
    kind: str
    dedupe: str | None
    t: float
    data: str  # a JSON object, parsed by the few readers that show it


@dataclass(frozen=True, slots=True)
class PrintText:
    """A print record's id, time and text."""

    id: int
    t: float
    text: str | None  # None only for a print record stored without text


_LOG_COLUMNS = ", ".join(f.name for f in fields(LogEntry))


async def list_prints(
    db: Database, session_id: str, *, after: int = 0, limit: int = 1000, descending: bool = False
) -> list[PrintText]:
    """Print records: the text is taken out of the JSON by SQLite itself."""
    sql = (
        "SELECT id, t, json_extract(data, '$.text') AS text FROM session_log"
        f" WHERE session_id=? AND kind='print' AND id > ? ORDER BY id {'DESC' if descending else 'ASC'} LIMIT ?"
    )
    return [PrintText(*r) for r in await db.fetch_page(sql, (session_id, after, limit), limit)]


async def list_log(
    db: Database,
    session_id: str,
    *,
    kinds: Sequence[str] = (),
    after: int = 0,
    limit: int = 1000,
    descending: bool = False,
) -> list[LogEntry]:
    """The session's log records (of ``kinds``, when given) after the one with id ``after``."""
    where = "session_id=? AND id > ?"
    params: list[Any] = [session_id, after]
    if kinds:
        where += f" AND kind IN ({','.join('?' * len(kinds))})"
        params.extend(kinds)
    order = "DESC" if descending else "ASC"
    params.append(limit)
    sql = f"SELECT {_LOG_COLUMNS} FROM session_log WHERE {where} ORDER BY id {order} LIMIT ?"
    return [LogEntry(*r) for r in await db.fetch_page(sql, params, limit)]


# -- reruns and early wakes (akctl session rerun / wake) ------------------------------------

_JOURNALED_KINDS = ("step", "sleep", "call")


def _scope_index(dedupe: str | None) -> int | None:
    """The journal position a print key or step record belongs to ("p3.1", "s3.2", "j3" -> 3)."""
    if not dedupe or dedupe[0] not in "psj":
        return None
    number = dedupe[1:].partition(".")[0]
    return int(number) if number.isdigit() else None


async def copy_journal(
    conn: Connection,
    source_id: str,
    target_id: str,
    entries: Sequence[tuple[str, str, bytes]],
    note: LogRecord,
) -> None:
    """Give ``target_id`` the journal ``entries`` (the first ones of ``source_id``'s, maybe
    one with a new outcome) and the log records of those steps and of the prints made
    before them, so its log reads like the original's up to there. Replay does not print
    again what was printed before a journaled step, hence the copied prints."""
    now = time.time()
    kept = len(entries)
    await conn.executemany(
        "INSERT INTO journal (session_id, seq, kind, name, outcome, t) VALUES (?,?,?,?,?,?)",
        [(target_id, seq, kind, name, outcome, now) for seq, (kind, name, outcome) in enumerate(entries)],
    )
    cur = await conn.execute(
        f"SELECT kind, dedupe, t, data FROM session_log WHERE session_id=? AND kind IN ('print',"
        f" {','.join('?' * len(_JOURNALED_KINDS))}) ORDER BY id",
        (source_id, *_JOURNALED_KINDS),
    )
    for kind, dedupe, t, data in await cur.fetchall():
        index = _scope_index(dedupe)
        if index is None or index >= kept:
            continue
        await conn.execute(
            "INSERT OR IGNORE INTO session_log (session_id, kind, dedupe, t, data) VALUES (?,?,?,?,?)",
            (target_id, kind, dedupe, t, data),
        )
    await _log(conn, target_id, note)
    await conn.execute("UPDATE sessions SET steps=?, restart_of=? WHERE session_id=?", (kept, source_id, target_id))


async def last_journal_entry(db: Database, session_id: str) -> tuple[int, str, bytes] | None:
    row = await db.fetchone(
        "SELECT seq, kind, outcome FROM journal WHERE session_id=? ORDER BY seq DESC LIMIT 1", (session_id,)
    )
    return None if row is None else (int(row["seq"]), str(row["kind"]), bytes(row["outcome"]))


async def move_sleep_deadline(db: Database, session_id: str, seq: int, outcome: bytes, note: LogRecord) -> bool:
    """Journal an earlier deadline for the sleep at ``seq`` (an early wake); False if it is not there."""
    async with db.tx() as conn:
        cur = await conn.execute(
            "UPDATE journal SET outcome=? WHERE session_id=? AND seq=? AND kind='sleep'", (outcome, session_id, seq)
        )
        if not cur.rowcount:
            return False
        await _log(conn, session_id, note)
    return True


async def states_of(db: Database, session_ids: Sequence[str]) -> list[str]:
    """The states of the sessions that exist among ``session_ids``."""
    if not session_ids:
        return []
    rows = await db.fetchall(
        f"SELECT state FROM sessions WHERE session_id IN ({','.join('?' * len(session_ids))})", tuple(session_ids)
    )
    return [str(r["state"]) for r in rows]


async def set_restart_of(conn: Connection, session_id: str, origin: str) -> None:
    await conn.execute("UPDATE sessions SET restart_of=? WHERE session_id=?", (origin, session_id))


async def request_stop(conn: Connection, session_id: str, reason: str, force: bool) -> None:
    """Record why the session is being stopped (its final error says it) and the request in its log."""
    await conn.execute("UPDATE sessions SET stop_reason=? WHERE session_id=?", (reason, session_id))
    await _log(conn, session_id, LogRecord("stop_request", {"reason": reason, "force": force}, t=time.time()))


async def delete_session(db: Database, session_id: str) -> None:
    """A session and everything of it: log, journal, inbox, subscriptions."""
    await delete_sessions(db, [session_id])


async def delete_sessions(db: Database, session_ids: Sequence[str]) -> None:
    """Sessions and everything of them, in one transaction."""
    marks = ",".join("?" * len(session_ids))
    async with db.tx() as conn:
        for table in ("session_log", "journal", "inbox", "subscriptions", "sessions"):
            await conn.execute(f"DELETE FROM {table} WHERE session_id IN ({marks})", tuple(session_ids))


async def ended_before(db: Database, cutoff: float, limit: int) -> list[str]:
    """Up to ``limit`` ids of sessions that ended before ``cutoff`` (what retention deletes)."""
    rows = await db.fetchall(
        "SELECT session_id FROM sessions WHERE state IN " + sql_set(FINAL) + " AND ended_at < ? LIMIT ?",
        (cutoff, limit),
    )
    return [str(r["session_id"]) for r in rows]


@dataclass(frozen=True, slots=True)
class SessionOfEvent:
    session_id: str
    state: str


async def sessions_of_event(db: Database, event_id: str) -> list[SessionOfEvent]:
    """The id and state of each session an event started, by id."""
    sql = "SELECT session_id, state FROM sessions WHERE event_id=? ORDER BY session_id"
    return [SessionOfEvent(*r) for r in await db.fetchall(sql, (event_id,))]


# -- lookups of the SDK's requests and of dispatch (akd.engine.sdk_calls, akd.services.dispatch) --


async def exists(conn: Connection, session_id: str) -> bool:
    """Whether the session is stored (read in the caller's transaction)."""
    async with conn.execute("SELECT 1 FROM sessions WHERE session_id=?", (session_id,)) as cur:
        return await cur.fetchone() is not None


async def created_before(db: Database, cutoff: float, limit: int) -> list[str]:
    """Up to ``limit`` ids of sessions still ``created`` since before ``cutoff``, oldest first
    (their workflow start failed, or they wait behind others to start)."""
    rows = await db.fetchall(
        "SELECT session_id FROM sessions WHERE state=? AND created_at < ? ORDER BY created_at LIMIT ?",
        (SessionState.CREATED, cutoff, limit),
    )
    return [str(r["session_id"]) for r in rows]


async def ids_of_event(db: Database, event_id: str, state: SessionState | None = None) -> list[str]:
    """The ids of the sessions an event started (only those in ``state`` when given)."""
    if state is None:
        rows = await db.fetchall("SELECT session_id FROM sessions WHERE event_id=?", (event_id,))
    else:
        rows = await db.fetchall("SELECT session_id FROM sessions WHERE event_id=? AND state=?", (event_id, state))
    return [str(r["session_id"]) for r in rows]

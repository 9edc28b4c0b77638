"""akd's side of the SDK: requests a runner makes (key-value store, subscriptions,
signals, child sessions, sync-webhook outcomes, OAuth token refresh).

Every answer is journaled in the same transaction as the change it makes, so a
request replayed after a crash (or retried) takes effect exactly once. A request that
needs the network (``@handles_io``) does its I/O before that transaction, so no write
waits on a vendor; only its answer is journaled.
"""

from __future__ import annotations

import json
import pickle
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import cel

from akd.engine.outcomes import OutcomeRegistry, outcome_from_payload
from akd.engine.session_env import OAuthTokens
from akd.errors import AkdError
from akd.ids import has_prefix, new_id
from akd.manifest import parse_manifest
from akd.oauth import rfc3339
from akd.runner.errors import AutoKittehError
from akd.store import events as events_store
from akd.store import inbox, kv, published, runtime_lookups, subscriptions
from akd.store import outcomes as outcomes_store
from akd.store import sessions as sessions_store
from akd.store.db import Connection, Database
from akd.store.sessions import LogRecord, NewSession, SessionRecord

MAX_VALUE_BYTES = 64 * 1024


@dataclass
class Reply:
    value: Any


@dataclass
class Park:
    """Nothing to answer yet: end the segment and wait (until ``until``, 0 = forever).

    ``waiting`` says on what, for the session view: ``{"kind": "event", "subscriptions":
    [{"source", "filter"}]}`` or ``{"kind": "signal", "names": [...]}``.
    """

    until: float
    waiting: dict[str, Any] = field(default_factory=dict)


Handler = Callable[["Request", Connection, SessionRecord, dict[str, Any]], Awaitable[Any]]
IoHandler = Callable[["Request", SessionRecord, dict[str, Any]], Awaitable[Any]]
_HANDLERS: dict[str, Handler] = {}
_IO_HANDLERS: dict[str, IoHandler] = {}


def handles(name: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        _HANDLERS[name] = fn
        return fn

    return register


def handles_io(name: str) -> Callable[[IoHandler], IoHandler]:
    """A request answered outside the write transaction (it waits on the network)."""

    def register(fn: IoHandler) -> IoHandler:
        _IO_HANDLERS[name] = fn
        return fn

    return register


class SdkCalls:
    def __init__(
        self,
        db: Database,
        outcomes: OutcomeRegistry,
        wake: Callable[[str], Awaitable[None]],
        start: Callable[[str], Awaitable[None]],
        oauth: OAuthTokens | None = None,
    ) -> None:
        self.db = db
        self.outcomes = outcomes
        self.wake = wake
        self.start = start
        self.oauth = oauth
        self._sources: dict[str, dict[str, str]] = {}

    async def sources(self, conn: Connection, build_id: str) -> dict[str, str]:
        """Trigger and connection names of a build's manifest (what subscribe() accepts),
        each with what it is: ``trigger`` or ``connection``."""
        if build_id not in self._sources:
            text = await runtime_lookups.build_manifest(conn, build_id)
            names: dict[str, str] = {}
            if text is not None:
                manifest = parse_manifest(text)
                names = {c.name: "connection" for c in manifest.connections}
                names |= {t.name: "trigger" for t in manifest.triggers}
            self._sources[build_id] = names
        return self._sources[build_id]

    async def handle(
        self,
        session: SessionRecord,
        seq: int,
        name: str,
        payload: dict[str, Any],
        journal: bool = True,
        waited: float | None = None,
        worker: str | None = None,
    ) -> Reply | Park:
        """Perform one request; journal its outcome (durable sessions) with the change.

        ``waited``: how long the session waited for this answer (a next_event or
        next_signal that parked), kept in its log record. ``worker``: the node running the
        session; the journaled change holds only while the session is still its own."""
        handler, io = _HANDLERS.get(name), _IO_HANDLERS.get(name)
        req = Request(self, [])
        early: Any = None
        if io is not None:
            try:
                early = await io(req, session, payload)
            except AutoKittehError as exc:
                early = exc
        async with self.db.tx() as conn:
            if io is not None:
                outcome: tuple[bool, Any] = (not isinstance(early, AutoKittehError), early)
            elif handler is None:
                outcome = (False, AutoKittehError(f"unknown SDK request {name!r}"))
            else:
                try:
                    value = await handler(req, conn, session, payload)
                except AutoKittehError as exc:
                    value = exc
                if isinstance(value, Park):
                    return value
                outcome = (False, value) if isinstance(value, AutoKittehError) else (True, value)
            if journal and seq >= 0:
                blob = pickle.dumps(outcome, protocol=pickle.HIGHEST_PROTOCOL)
                await sessions_store.journal_insert(conn, session.session_id, seq, "call", name, blob, worker=worker)
                record = {"seq": seq, "name": name, "ok": outcome[0]}
                if waited is not None:
                    record["waited"] = round(waited, 3)
                if not outcome[0]:
                    record["error"] = f"{type(outcome[1]).__name__}: {outcome[1]}"
                await sessions_store.append_log(conn, session.session_id, [LogRecord("call", record, dedupe=f"j{seq}")])
        for action in req.after_commit:
            await action()
        return Reply(outcome)


@dataclass
class Request:
    """One request being handled: the shared services plus its own after-commit actions."""

    sdk: SdkCalls
    after_commit: list[Callable[[], Awaitable[None]]]

    @property
    def outcomes(self) -> OutcomeRegistry:
        return self.sdk.outcomes

    async def wake(self, session_id: str) -> None:
        await self.sdk.wake(session_id)

    async def start(self, session_id: str) -> None:
        await self.sdk.start(session_id)

    async def sources(self, conn: Connection, build_id: str) -> dict[str, str]:
        return await self.sdk.sources(conn, build_id)


# -- key-value store ----------------------------------------------------------------


def _encode(value: Any) -> str:
    text = json.dumps(value)
    if len(text.encode()) > MAX_VALUE_BYTES:
        raise AutoKittehError(f"value is {len(text.encode())} bytes once encoded; the limit is {MAX_VALUE_BYTES}")
    return text


async def _kv_get(conn: Connection, project_id: str, key: str) -> Any:
    text = await kv.get(conn, project_id, key)
    return None if text is None else json.loads(text)


async def _kv_set(conn: Connection, project_id: str, key: str, value: Any) -> None:
    if value is None:  # the SDK's rule: storing None deletes the key
        await kv.delete(conn, project_id, key)
    else:
        await kv.put(conn, project_id, key, _encode(value))


def _key(payload: dict[str, Any]) -> str:
    key = payload.get("key")
    if not isinstance(key, str) or not key:
        raise AutoKittehError("key must be a non-empty string")
    return key


@handles("kv.get")
async def kv_get(calls: Request, conn: Connection, s: SessionRecord, p: dict[str, Any]) -> Any:
    return await _kv_get(conn, s.project_id, _key(p))


@handles("kv.set")
async def kv_set(calls: Request, conn: Connection, s: SessionRecord, p: dict[str, Any]) -> Any:
    await _kv_set(conn, s.project_id, _key(p), p.get("value"))
    return None


@handles("kv.del")
async def kv_del(calls: Request, conn: Connection, s: SessionRecord, p: dict[str, Any]) -> Any:
    old = await _kv_get(conn, s.project_id, _key(p))
    await _kv_set(conn, s.project_id, _key(p), None)
    return old


@handles("kv.add")
async def kv_add(calls: Request, conn: Connection, s: SessionRecord, p: dict[str, Any]) -> Any:
    current = await _kv_get(conn, s.project_id, _key(p))
    delta = p.get("value")
    if current is None:
        current = 0
    if not isinstance(current, int | float) or isinstance(current, bool):
        raise AutoKittehError(f"add_values: stored value of {_key(p)!r} is not a number")
    if not isinstance(delta, int | float) or isinstance(delta, bool):
        raise AutoKittehError("add_values: value must be a number")
    total = current + delta
    await _kv_set(conn, s.project_id, _key(p), total)
    return total


@handles("kv.check_and_set")
async def kv_cas(calls: Request, conn: Connection, s: SessionRecord, p: dict[str, Any]) -> Any:
    current = await _kv_get(conn, s.project_id, _key(p))
    if current != p.get("expected"):
        return False
    await _kv_set(conn, s.project_id, _key(p), p.get("value"))
    return True


@handles("kv.keys")
async def kv_keys(calls: Request, conn: Connection, s: SessionRecord, p: dict[str, Any]) -> Any:
    return await kv.keys(conn, s.project_id)


@handles("kv.publish")
async def kv_publish(calls: Request, conn: Connection, s: SessionRecord, p: dict[str, Any]) -> Any:
    if not await published.set_published(conn, s.project_id, _key(p), True):
        raise AutoKittehError(f"publish_value: no value stored under key {_key(p)!r}")
    return None


@handles("kv.unpublish")
async def kv_unpublish(calls: Request, conn: Connection, s: SessionRecord, p: dict[str, Any]) -> Any:
    if not await published.set_published(conn, s.project_id, _key(p), False):
        raise AutoKittehError(f"unpublish_value: no value stored under key {_key(p)!r}")
    return None


# -- subscriptions and waits ----------------------------------------------------------


@handles("deadline")
async def deadline(calls: Request, conn: Connection, s: SessionRecord, p: dict[str, Any]) -> Any:
    return time.time() + max(0.0, float(p["timeout"]))


@handles("subscribe")
async def subscribe(calls: Request, conn: Connection, s: SessionRecord, p: dict[str, Any]) -> Any:
    source, expr = str(p.get("source", "")), str(p.get("filter") or "")
    if source not in await calls.sources(conn, s.build_id):
        raise AutoKittehError(f"subscribe: no trigger or connection named {source!r} in this project")
    if expr:
        try:
            cel.compile(expr)
        except ValueError as exc:
            raise AutoKittehError(f"subscribe: invalid filter {expr!r}: {exc}") from None
    sub_id = new_id("sub")
    await subscriptions.add(conn, sub_id, s.session_id, s.project_id, source, expr)
    return sub_id


@handles("unsubscribe")
async def unsubscribe(calls: Request, conn: Connection, s: SessionRecord, p: dict[str, Any]) -> Any:
    if not await subscriptions.deactivate(conn, str(p.get("sub_id")), s.session_id):
        raise AutoKittehError(f"unsubscribe: no active subscription {p.get('sub_id')!r} in this session")
    return None


async def _take_or_park(
    conn: Connection, s: SessionRecord, kind: str, keys: list[str], until: float | None, waiting: dict[str, Any]
) -> Any:
    payload = await inbox.take(conn, s.session_id, kind, keys)
    if payload is not None:
        return pickle.loads(payload)
    if until is not None and time.time() >= until:
        return None
    return Park(until or 0.0, {"kind": kind, **waiting})


@handles("next_event")
async def next_event(calls: Request, conn: Connection, s: SessionRecord, p: dict[str, Any]) -> Any:
    subs = [str(x) for x in p.get("subs") or []]
    if not subs:
        raise AutoKittehError("next_event: no subscription ids given")
    # One read both checks the ids (each must be one of this session's subscriptions,
    # active or not) and gives what the session view shows of them.
    found = await sessions_store.subscription_specs(conn, s.session_id, subs)
    if len(found) != len(set(subs)):
        raise AutoKittehError(f"next_event: unknown subscription id in {subs}; use the ids subscribe() returned")
    kinds = await calls.sources(conn, s.build_id)
    specs = [{**spec, "source_kind": kinds.get(spec["source"], "")} for spec in found]
    return await _take_or_park(conn, s, "event", subs, p.get("deadline"), {"subscriptions": specs})


@handles("next_signal")
async def next_signal(calls: Request, conn: Connection, s: SessionRecord, p: dict[str, Any]) -> Any:
    names = [str(x) for x in p.get("names") or []]
    if not names:
        raise AutoKittehError("next_signal: no signal names given")
    return await _take_or_park(conn, s, "signal", names, p.get("deadline"), {"names": names})


@handles("signal")
async def signal(calls: Request, conn: Connection, s: SessionRecord, p: dict[str, Any]) -> Any:
    target = str(p.get("session_id", ""))
    if not has_prefix(target, "ses") or not await sessions_store.exists(conn, target):
        raise AutoKittehError(f"signal: no session {target!r}")
    payload = {"name": p.get("name"), "payload": p.get("payload")}
    await inbox.deliver(conn, target, "signal", str(p.get("name")), pickle.dumps(payload))
    calls.after_commit.append(lambda: calls.wake(target))
    return None


@handles("start")
async def start(calls: Request, conn: Connection, s: SessionRecord, p: dict[str, Any]) -> Any:
    loc = str(p.get("loc", ""))
    file, _, fn = loc.partition(":")
    if not file.endswith(".py") or not fn.isidentifier():
        raise AutoKittehError(f'start: loc must look like "file.py:function", got {loc!r}')
    deployment_id, build_id, project_id = s.deployment_id, s.build_id, s.project_id
    if p.get("project"):
        live = await runtime_lookups.active_deployment_named(conn, str(p["project"]))
        if live is None:
            raise AutoKittehError(f"start: project {p['project']!r} has no active deployment")
        deployment_id, build_id, project_id = live.deployment_id, live.build_id, live.project_id
    child = new_id("ses")
    await sessions_store.insert_sessions(conn, [NewSession(
        session_id=child, project_id=project_id, deployment_id=deployment_id, build_id=build_id,
        trigger_id="", event_id="", entrypoint=loc, durable=s.durable, parent_id=s.session_id,
        inputs=pickle.dumps(p.get("data") or {}), memo=json.dumps(p.get("memo") or {}),
    )])  # fmt: skip
    calls.after_commit.append(lambda: calls.start(child))
    return child


async def _outcome_event(calls: Request, s: SessionRecord, p: dict[str, Any]) -> str:
    """The event an outcome answers: the session's own, or another event of its project."""
    event_id = str(p.get("event_id") or "")
    if not event_id or event_id == s.event_id:
        return s.event_id
    row = await events_store.get_event(calls.sdk.db, event_id)
    if row is None or row.project_id != s.project_id:
        raise AutoKittehError(f"outcome: no event {event_id!r} in this project")
    return event_id


@handles("http_outcome")
async def http_outcome(calls: Request, conn: Connection, s: SessionRecord, p: dict[str, Any]) -> Any:
    event_id = await _outcome_event(calls, s, p)
    if event_id:
        outcome = outcome_from_payload(p)
        if not calls.outcomes.deliver(event_id, outcome) and calls.outcomes.shared:
            # No waiter here: the request may wait on another akd of the store.
            await outcomes_store.put(conn, event_id, outcome.status, outcome.headers, outcome.body, outcome.more)
    return None


# -- connections ----------------------------------------------------------------------


@handles_io("connection.refresh_oauth")
async def refresh_oauth(calls: Request, s: SessionRecord, p: dict[str, Any]) -> Any:
    """A new OAuth access token for one of the project's connections (akd refreshes it)."""
    integration, connection = p.get("integration", ""), p.get("connection", "")
    if not isinstance(integration, str) or not isinstance(connection, str) or not connection:
        raise AutoKittehError("refresh_oauth: integration and connection must be strings (connection non-empty)")
    if calls.sdk.oauth is None:
        raise AutoKittehError("refresh_oauth: OAuth refresh is not available in this akd")
    try:
        fresh = await calls.sdk.oauth.refresh_named(s.project_id, s.session_id, integration, connection)
    except AkdError as exc:
        raise AutoKittehError(f"refresh_oauth({connection!r}): {exc.message}") from None
    return {"access_token": fresh.access_token, "expiry": rfc3339(fresh.expiry) if fresh.expiry is not None else ""}

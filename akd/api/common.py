"""Shared pieces of the HTTP API: context access, JSON rendering, serializers."""

from __future__ import annotations

import functools
import json
import math
from datetime import UTC, datetime
from typing import Any, TypeVar

from starlette.requests import Request
from starlette.responses import JSONResponse

from akd.errors import InvalidArgument, NotFound, PayloadTooLarge
from akd.services.context import AppContext
from akd.store.sessions import SessionRecord
from akd.store.stalls import Stall
from akd.store.states import FINAL

T = TypeVar("T")


def ctx(request: Request) -> AppContext:
    value: AppContext = request.app.state.ctx
    return value


def rfc3339(t: float | None) -> str | None:
    """``2026-11-23T14:40:40.123Z`` (UTC, milliseconds truncated, as datetime.isoformat does).

    The date and time of each whole second come from a cache: a page of 10,000 prints
    spans a few seconds, and formatting each through datetime costs ~1.5 us apiece.
    """
    if t is None:
        return None
    sec = math.floor(t)
    micros = round((t - sec) * 1_000_000)  # rounded to microseconds first, like datetime
    if micros >= 1_000_000:
        sec, micros = sec + 1, micros - 1_000_000
    return f"{_second(sec)}.{micros // 1000:03d}Z"


@functools.lru_cache(maxsize=16384)
def _second(sec: int) -> str:
    return datetime.fromtimestamp(sec, UTC).strftime("%Y-%m-%dT%H:%M:%S")


def ok(data: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(data, status_code=status)


def raw_headers(request: Request) -> dict[str, str]:
    """The request's headers as the vendor sent them, names in Title-Case (a repeated
    header: its last value), to store with a delivery."""
    return {k.decode("latin-1").title(): v.decode("latin-1") for k, v in request.scope["headers"]}


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, read as it arrives: ``PayloadTooLarge`` as soon as it passes
    ``limit`` bytes (or declares more), so an oversized body is never held in memory."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"request body is {declared} bytes; the limit is {limit} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"request body exceeds the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def json_body(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.body() or b"{}")
    except json.JSONDecodeError as exc:
        raise InvalidArgument(f"request body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise InvalidArgument("request body must be a JSON object")
    return body


def int_param(request: Request, name: str, default: int, *, lo: int = 1, hi: int = 10_000) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidArgument(f"query parameter {name} must be an integer, got {raw!r}") from None
    if not lo <= value <= hi:
        raise InvalidArgument(f"query parameter {name} must be between {lo} and {hi}")
    return value


def session_json(s: SessionRecord, stall: Stall | None = None) -> dict[str, Any]:
    """A session as the API shows it; ``stall``: what it waits for storage to record, if anything."""
    return {
        "session_id": s.session_id,
        "project": s.project or None,  # null for a session whose project is gone, as the API always showed it
        "project_id": s.project_id,
        "deployment_id": s.deployment_id,
        "build_id": s.build_id,
        "trigger_id": s.trigger_id,
        "event_id": s.event_id,
        "parent_session_id": s.parent_id,
        "restart_of": s.restart_of or None,  # the session a restart or rerun started from
        "entrypoint": s.entrypoint,
        "durable": s.durable,
        "state": s.state.value,
        "steps": s.steps,
        "attempt": s.attempt,
        "worker": s.worker,  # the akd that runs or last ran it ([server] node)
        "created_at": rfc3339(s.created_at),
        "updated_at": rfc3339(s.updated_at),
        "started_at": rfc3339(s.started_at),
        "ended_at": rfc3339(s.ended_at),
        "duration": (s.ended_at - (s.started_at or s.created_at)) if s.ended_at else None,
        "error": json.loads(s.error) if s.error else None,
        "return_value": json.loads(s.return_value) if s.return_value else None,
        "waiting": waiting_json(s),
        "waiting_for": None if stall is None else {
            "what": "storage", "detail": f"{stall.what}: {stall.reason}", "since": rfc3339(stall.since),
        },
    }  # fmt: skip


def waiting_json(s: SessionRecord) -> dict[str, Any] | None:
    """What a live session waits on: ``{"kind": "sleep", "until"}``, ``{"kind": "event",
    "subscriptions": [{"source", "filter"}], "until"}`` or ``{"kind": "signal", "names",
    "until"}`` (``until`` null: no timeout), each with ``since``; None when it waits on nothing."""
    if not s.waiting or s.state in FINAL:
        return None
    data: dict[str, Any] = json.loads(s.waiting)
    data.pop("seq", None)  # the journal position akd resumes it at: internal
    return {**data, "until": rfc3339(data["until"]) if data.get("until") else None, "since": rfc3339(data.get("since"))}


def must(found: T | None, what: str, ident: str) -> T:
    if found is None:
        raise NotFound(f"{what} {ident!r} not found")
    return found


def public_request_url(request: Request) -> str:
    """The URL a caller used, as it saw it: akd's public URL (``[server] public_url``) and
    the request's path and query (what URL-signing vendors such as Twilio sign)."""
    query = request.url.query
    return f"{ctx(request).base_url}{request.url.path}" + (f"?{query}" if query else "")

"""``ANY /webhooks/{slug}[/{suffix}]``: store the event, answer 202, then dispatch."""

from __future__ import annotations

import asyncio
import contextlib
import json
import pickle
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from akd.api.common import ctx, public_request_url, read_body
from akd.engine.outcomes import Outcome, RemoteOutcomes
from akd.errors import BadGateway, GatewayTimeout, NotFound, Unauthenticated
from akd.services.context import AppContext
from akd.signatures import verify
from akd.store import projects as projects_store
from akd.store import sessions as sessions_store
from akd.store.events import NewEvent
from akd.store.states import FINAL
from akd.store.triggers import TriggerRecord
from akd.store.vars import load_env_vars

METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
# How often a sync webhook on a shared store looks for outcomes stored by other akd.


def canonical_header(name: str) -> str:
    """``x-github-event`` -> ``X-Github-Event`` (the canonical MIME header form)."""
    return "-".join(part[:1].upper() + part[1:].lower() for part in name.split("-"))


def joined(pairs: list[tuple[str, str]], key: Any = lambda k: k) -> dict[str, str]:
    out: dict[str, str] = {}
    for k, v in pairs:
        k = key(k)
        out[k] = f"{out[k]}, {v}" if k in out else v
    return out


def body_data(raw: bytes, content_type: str) -> dict[str, Any]:
    text: str | None = None
    with contextlib.suppress(UnicodeDecodeError):
        text = raw.decode("utf-8")
    form = None
    if text is not None and content_type.split(";")[0].strip().lower() == "application/x-www-form-urlencoded":
        form = joined(parse_qsl(text, keep_blank_values=True))
    parsed = None
    if text:
        # RecursionError: 100,000 nested brackets fit in 512 KiB; such a body is only text.
        with contextlib.suppress(ValueError, RecursionError):
            parsed = json.loads(text)
        # Only bodies with many brackets can nest deep; counting them runs at C speed.
        if parsed is not None and text.count("[") + text.count("{") > MAX_JSON_DEPTH and too_deep(parsed):
            parsed = None  # every reader (API, UI, runner) would have to recurse through it
    return {"bytes": raw or None, "text": text if raw else None, "form": form, "json": parsed}


# Deeper JSON bodies are kept as text only (``json`` is None): each read path renders a
# body with recursive code (json.dumps, templates, pickling), and ~450 levels broke them.
MAX_JSON_DEPTH = 200


def too_deep(value: Any, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether lists and dicts in ``value`` nest deeper than ``limit`` (walked without recursion)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return True
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values() if isinstance(v, (dict, list)))
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item if isinstance(v, (dict, list)))
    return False


def event_data(request: Request, slug: str, suffix: str, raw: bytes) -> dict[str, Any]:
    path = request.url.path
    query = request.url.query
    return {
        "method": request.method,
        "raw_url": path + (f"?{query}" if query else ""),
        "url": {"path": path, "path_suffix": suffix, "query": joined(parse_qsl(query, keep_blank_values=True))},
        "headers": joined(
            [(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.scope["headers"]], key=canonical_header
        ),
        "body": body_data(raw, request.headers.get("content-type", "")),
    }


async def webhook(request: Request) -> Response:
    c = ctx(request)
    slug = request.path_params["slug"]
    suffix = request.path_params.get("suffix", "")
    live = await projects_store.trigger_by_slug(c.db, slug)
    if live is None or live.deployment_id is None:
        raise NotFound(f"no active webhook at /webhooks/{slug}")
    trg = live.trigger
    raw = await read_body(request, c.config.sessions.max_body_bytes)
    await check_signature(c, trg, request, raw)
    data = pickle.dumps(event_data(request, slug, suffix, raw))
    c.quota.admit(trg.trigger_id, len(data))
    ev = NewEvent(
        project_id=trg.project_id, trigger_id=trg.trigger_id, trigger_name=trg.name,
        event_type=request.method.lower(), source="webhook", data=data,
    )  # fmt: skip
    if trg.is_sync:
        return await sync_response(c, ev)
    event_id = (await c.dispatcher.ingest(ev)).event_id
    return JSONResponse({"event_id": event_id}, status_code=202, headers={"AutoKitteh-Event-ID": event_id})


async def check_signature(c: AppContext, trg: TriggerRecord, request: Request, raw: bytes) -> None:
    """Triggers with ``<name>__signature`` and ``<name>__signing_secret`` vars need signed requests."""
    names = (f"{trg.name}__signature", f"{trg.name}__signing_secret")
    if not await projects_store.var_names(c.db, trg.project_id, names):
        return
    env = await load_env_vars(c.db, c.config.data_dir, trg.project_id)
    scheme, secret = env.get(names[0], ""), env.get(names[1], "")
    if not scheme or not secret:
        raise Unauthenticated(f"webhook {trg.name} needs both {names[0]} and {names[1]} set to accept requests")
    verify(scheme.strip().lower(), secret, request.headers, raw, url=public_request_url(request))


async def sync_response(c: AppContext, ev: NewEvent) -> Response:
    """Store and dispatch ``ev``, then answer with the first http_outcome of the sessions
    it started (DESIGN.md section 4)."""
    event_id = ev.event_id
    outcomes = c.engine.ctx.outcomes
    queue = outcomes.expect(event_id)  # before the sessions start: none of their outcomes is missed
    remote = RemoteOutcomes(c.db, event_id, queue) if outcomes.shared else None
    headers = {"AutoKitteh-Event-ID": event_id}

    def done() -> None:
        outcomes.forget(event_id)
        if remote is not None:
            remote.stop()

    try:
        session_ids = (await c.dispatcher.ingest(ev, wait=True)).session_ids or []
        if not session_ids:
            done()
            return JSONResponse(BadGateway("the event started no session").to_dict(), 502, headers=headers)
        first = await next_outcome(c, queue, session_ids, c.config.sessions.sync_timeout, remote)
    except BaseException:
        done()
        raise
    if isinstance(first, Response):
        done()
        first.headers.update(headers)
        return first
    if not first.more:
        done()
        return Response(first.body, first.status, headers={**first.headers, **headers})

    async def chunks() -> AsyncIterator[bytes]:
        try:
            yield first.body
            while True:
                nxt = await next_outcome(c, queue, session_ids, c.config.sessions.sync_timeout, remote)
                if isinstance(nxt, Response):
                    return
                yield nxt.body
                if not nxt.more:
                    return
        finally:
            done()

    return StreamingResponse(chunks(), first.status, headers={**first.headers, **headers})


async def next_outcome(c: AppContext, queue: asyncio.Queue[Outcome], session_ids: list[str], timeout: float,
                       remote: RemoteOutcomes | None = None) -> Outcome | Response:  # fmt: skip
    """Wait for an outcome; answer 204/500 at once when every session ended without one, 504 on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        if not queue.empty():
            return queue.get_nowait()
        states = await sessions_store.states_of(c.db, session_ids)
        if states and all(state in FINAL for state in states):
            if remote is not None:  # an outcome stored by another akd just before its session ended
                await remote.pull()
            if not queue.empty():
                return queue.get_nowait()
            return Response(status_code=500 if "error" in states else 204)
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return JSONResponse(GatewayTimeout(f"no http_outcome within {timeout:g} s").to_dict(), 504)
        getter = asyncio.ensure_future(queue.get())
        changed = asyncio.ensure_future(_next_change(c, remaining))
        done, _ = await asyncio.wait({getter, changed}, return_when=asyncio.FIRST_COMPLETED)
        changed.cancel()
        if getter in done:
            return getter.result()
        getter.cancel()


async def _next_change(c: AppContext, timeout: float) -> None:
    await c.notifier.next_change(c.notifier.generation, min(timeout, 1.0))


routes = [
    Route("/webhooks/{slug}", webhook, methods=METHODS),
    Route("/webhooks/{slug}/{suffix:path}", webhook, methods=METHODS),
]

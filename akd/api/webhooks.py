"""``ANY /webhooks/{slug}[/{suffix}]``: store the event, answer 202, then dispatch."""

from __future__ import annotations

import contextlib
import json
import pickle
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from akd.api.common import ctx
from akd.errors import NotFound, PayloadTooLarge
from akd.ids import new_id
from akd.store import events as events_store
from akd.store import projects as projects_store

METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


def canonical_header(name: str) -> str:
    """``x-github-event`` -> ``X-Github-Event`` (the canonical MIME header form)."""
    return "-".join(part[:1].upper() + part[1:].lower() for part in name.split("-"))


def joined(pairs: list[tuple[str, str]], key: Any = lambda k: k) -> dict[str, str]:
    out: dict[str, str] = {}
    for k, v in pairs:
        k = key(k)
        out[k] = f"{out[k]}, {v}" if k in out else v
    return out


async def read_body(request: Request, limit: int) -> bytes:
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


def body_data(raw: bytes, content_type: str) -> dict[str, Any]:
    text: str | None = None
    with contextlib.suppress(UnicodeDecodeError):
        text = raw.decode("utf-8")
    form = None
    if text is not None and content_type.split(";")[0].strip().lower() == "application/x-www-form-urlencoded":
        form = joined(parse_qsl(text, keep_blank_values=True))
    parsed = None
    if text:
        with contextlib.suppress(ValueError):
            parsed = json.loads(text)
    return {"bytes": raw or None, "text": text if raw else None, "form": form, "json": parsed}


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
    trg = await projects_store.trigger_by_slug(c.db, slug)
    if trg is None or trg["deployment_id"] is None:
        raise NotFound(f"no active webhook at /webhooks/{slug}")
    raw = await read_body(request, c.config.sessions.max_body_bytes)
    event_id = new_id("evt")
    data = event_data(request, slug, suffix, raw)
    await events_store.insert_event(
        c.db,
        event_id,
        project_id=trg["project_id"],
        trigger_id=trg["trigger_id"],
        trigger_name=trg["name"],
        event_type=request.method.lower(),
        source="webhook",
        data=pickle.dumps(data),
    )
    assert c.dispatcher is not None
    c.dispatcher.submit(event_id)
    return JSONResponse({"event_id": event_id}, status_code=202, headers={"AutoKitteh-Event-ID": event_id})


routes = [
    Route("/webhooks/{slug}", webhook, methods=METHODS),
    Route("/webhooks/{slug}/{suffix:path}", webhook, methods=METHODS),
]

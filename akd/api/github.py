"""GitHub deliveries: ``POST /github/webhook/{key}`` (a connection's own URL, AutoKitteh's
path for PAT webhooks) and ``POST /github/webhook`` (AutoKitteh's global path, routed to
the connection whose secret verifies the delivery).

Verified over the raw bytes before anything is parsed or stored: ``X-Hub-Signature-256``
only (never the SHA-1 header), with the connection's ``pat_secret`` (PAT mode) or
``webhook_secret`` (a GitHub App). A connection without a secret refuses deliveries
rather than accepting unsigned ones. ``event_type`` is ``X-GitHub-Event`` and ``data``
the JSON payload, as AutoKitteh delivers them; ``X-GitHub-Delivery`` dedupes.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from akd.api.common import ctx, raw_headers, read_body
from akd.errors import InvalidArgument, NotFound, Unauthenticated
from akd.services import connection_events
from akd.services.connection_events import RawDelivery
from akd.services.connections import values_of
from akd.signatures import verify
from akd.store import connections as store
from akd.store.connections import ConnectionRecord

SECRET_VARS = ("pat_secret", "webhook_secret")


async def _secret(request: Request, rec: ConnectionRecord) -> str:
    values = await values_of(ctx(request).db, ctx(request).config.data_dir, rec.connection_id)
    return next((values[name] for name in SECRET_VARS if values.get(name)), "")


async def _by_key(request: Request, key: str) -> ConnectionRecord:
    db = ctx(request).db
    found = await store.by_webhook_key(db, key)
    if found is None:
        found = next((rec for rec, var in await store.by_var(db, "github", "pat_key")
                      if var.value.decode("utf-8", "replace") == key), None)  # fmt: skip
    if found is None or found.integration != "github":
        raise NotFound("no GitHub connection at this URL")
    return found


async def _by_signature(request: Request, raw: bytes) -> ConnectionRecord:
    """The global path: the GitHub connection whose webhook secret signed this delivery."""
    c = ctx(request)
    for rec in [r for r in await store.list_all(c.db) if r.integration == "github"]:
        secret = await _secret(request, rec)
        if not secret:
            continue
        try:
            verify("github", secret, request.headers, raw)
        except Unauthenticated:
            continue
        return rec
    raise Unauthenticated("no GitHub connection's webhook secret verifies this delivery")


async def deliver(request: Request) -> Response:
    c = ctx(request)
    raw = await read_body(request, c.config.sessions.max_body_bytes)
    key = request.path_params.get("key", "")
    if key:
        rec = await _by_key(request, key)
        secret = await _secret(request, rec)
        if not secret:
            raise Unauthenticated(
                f"connection {rec.project}/{rec.name} has no webhook secret (pat_secret or webhook_secret): "
                "set it to the secret of the GitHub webhook; unsigned deliveries are refused"
            )
        verify("github", secret, request.headers, raw)
    else:
        rec = await _by_signature(request, raw)
    event_type = request.headers.get("x-github-event", "")
    if not event_type:
        raise InvalidArgument("missing X-GitHub-Event header")
    if event_type == "ping":  # the handshake when a webhook is created: answered, not stored
        return JSONResponse({"ok": True, "connection": f"{rec.project}/{rec.name}"})
    try:
        data: Any = json.loads(raw)
    except ValueError:
        raise InvalidArgument("a GitHub delivery must be JSON (content type application/json)") from None
    if not isinstance(data, dict):
        raise InvalidArgument("a GitHub delivery must be a JSON object")
    accepted = await connection_events.accept(
        c.dispatcher, rec, event_type=event_type, data=data,
        delivery_id=request.headers.get("x-github-delivery"),
        raw=RawDelivery(raw_headers(request), raw, "github X-Hub-Signature-256"), source="github",
    )  # fmt: skip
    body = {"event_id": accepted.event_id, "duplicate": accepted.duplicate}
    return JSONResponse(body, status_code=202, headers={"AutoKitteh-Event-ID": accepted.event_id})


async def connection_fields(request: Request, rec: ConnectionRecord) -> dict[str, Any]:
    """``webhook_url``: the connection's own delivery URL, ``/github/webhook/<pat_key>``
    (a key is made when the connection has no ``pat_key``)."""
    c = ctx(request)
    values = await values_of(c.db, c.config.data_dir, rec.connection_id)
    key = values.get("pat_key") or await connection_events.webhook_key(c.db, rec)
    return {"webhook_url": f"{c.base_url}/github/webhook/{key}"}


routes = [
    Route("/github/webhook", deliver, methods=["POST"]),
    Route("/github/webhook/{key}", deliver, methods=["POST"]),
]

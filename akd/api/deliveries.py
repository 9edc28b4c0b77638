"""/api/v1 deliveries as data: a connection's vendor deliveries (list), one delivery's raw
record and verification (part of ``GET /events/{id}``), replay, and simulate.

Simulate builds a signed, vendor-shaped request (:mod:`akd.services.simulate`) and sends
it to the connection's own URL through this same ASGI app, in process: the vendor's
route verifies it, stores it and dispatches it exactly as it would a real delivery.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from akd.api.common import ctx, int_param, json_body, ok, rfc3339
from akd.api.connections import INBOUND
from akd.errors import FailedPrecondition, InvalidArgument
from akd.services import connections as connections_service
from akd.services import deliveries as service
from akd.services import simulate as simulator
from akd.store import events as events_store
from akd.store.connections import ConnectionRecord
from akd.store.events import DeliveryRecord

# What `event get` shows of a body unless asked for all of it (`?full=1`).
BODY_LIMIT = 64 * 1024
# How long simulate and replay wait for the delivery to be dispatched (its sessions created).
DISPATCH_WAIT = 15.0


# Where a route other than the connection's own URL goes (Slack commands and interactions).
ROUTE_PATHS: dict[str, Callable[[str, str], str]] = {
    "slack": lambda path, route: path.replace("/slack/event/", f"/slack/{route}/", 1),
}


def body_json(body: bytes, *, full: bool) -> dict[str, Any]:
    """A raw body for JSON: ``text`` when it is UTF-8, else ``base64``; capped at BODY_LIMIT."""
    shown = body if full else body[:BODY_LIMIT]
    out: dict[str, Any] = {"size": len(body), "truncated": len(shown) < len(body)}
    try:
        out["text"] = shown.decode()
    except UnicodeDecodeError as exc:
        if exc.start >= len(shown) - 3 and len(shown) < len(body):  # the cap cut a character in two
            out["text"] = shown[: exc.start].decode()
        else:
            out["base64"] = base64.b64encode(shown).decode()
    return out


async def summary_json(request: Request, rec: DeliveryRecord) -> dict[str, Any]:
    """A delivery as ``event list --connection`` shows it."""
    return {
        "event_id": rec.event_id,
        "event_type": rec.event_type,
        "trigger": rec.connection_name,  # as for every event of a connection (its trigger_name)
        "project": rec.project,
        "delivery_id": rec.delivery_id,
        "connection_id": rec.connection_id,
        "connection": f"{rec.project}/{rec.connection_name}",
        "source": rec.source,
        "state": rec.state,
        "reason": await service.skip_reason(ctx(request).db, rec),
        "replay_of": service.replay_of(rec) or None,
        "session_ids": list(rec.session_ids),
        "created_at": rfc3339(rec.created_at),
    }


async def delivery_json(request: Request, rec: DeliveryRecord) -> dict[str, Any]:
    """The raw delivery and its verification, for ``GET /events/{id}`` of a delivery."""
    view = service.raw_view(rec)
    full = request.query_params.get("full", "") in ("1", "true", "yes")
    return {
        "delivery_id": rec.delivery_id,
        "connection_id": rec.connection_id,
        "connection": f"{rec.project}/{rec.connection_name}",
        "verified_by": view.verified_by,
        "replay_of": view.replay_of or None,
        "reason": await service.skip_reason(ctx(request).db, rec),
        "headers": view.headers,
        "body": body_json(view.body, full=full),
    }


async def _connection(request: Request) -> ConnectionRecord:
    return await connections_service.resolve(
        ctx(request).db, f"{request.path_params['project']}/{request.path_params['name']}"
    )


async def list_deliveries(request: Request) -> JSONResponse:
    c = ctx(request)
    rec = await _connection(request)
    rows = await service.list_for(c.db, rec.connection_id, int_param(request, "limit", 50))
    return ok([await summary_json(request, r) for r in rows])


async def _settled(request: Request, event_id: str) -> DeliveryRecord | None:
    """The delivery once it is dispatched (or after DISPATCH_WAIT), with its sessions."""
    c = ctx(request)

    async def dispatched() -> bool | None:
        ev = await events_store.get_event(c.db, event_id)
        return True if ev is None or ev.state != "pending" else None

    await c.engine_notifier().wait_for(dispatched, DISPATCH_WAIT)
    return await events_store.get_delivery(c.db, event_id)


async def replay(request: Request) -> JSONResponse:
    c = ctx(request)
    done = await service.replay(c.db, c.dispatcher, request.path_params["id"])
    return ok({"event_id": done.event_id, "replay_of": done.replay_of, "session_ids": done.session_ids}, status=201)


async def _send(request: Request, url: str, sim: simulator.SimulatedRequest) -> httpx.Response:
    """POST the simulated delivery to this app's own route, in process (no socket, and no
    trip through a tunnel when ``public_url`` is set): only the vendor's headers go along."""
    transport = httpx.ASGITransport(app=request.app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport) as client:
        client.headers.clear()  # httpx's own defaults (Accept-Encoding, Connection, ...) are not the vendor's
        return await client.post(url, content=sim.body, headers=sim.headers)


def _answer(res: httpx.Response) -> dict[str, Any]:
    try:
        body = res.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _refusal(res: httpx.Response) -> FailedPrecondition:
    error = _answer(res).get("error")
    message = str(error.get("message")) if isinstance(error, dict) else res.text[:200]
    who = "akd's verification" if res.status_code == 401 else "the vendor's route"
    return FailedPrecondition(f"{who} refused the simulated delivery ({res.status_code}): {message}",
                              details={"status": res.status_code})  # fmt: skip


async def simulate(
    request: Request, rec: ConnectionRecord, event_type: str, data: dict[str, Any], secret: str = ""
) -> dict[str, Any]:
    """Sign ``event_type``'s fixture (``data`` merged in) with the connection's secret (or
    ``secret``), deliver it through the vendor's route and wait for its dispatch."""
    c = ctx(request)
    vendor = simulator.vendor(rec.integration)
    simulator.fixture(rec.integration, event_type)  # an unknown type fails before the secret is asked for
    values = await connections_service.values_of(c.db, c.config.data_dir, rec.connection_id)
    key = secret or simulator.secret_of(vendor, values, f"{rec.project}/{rec.name}")
    url = str((await INBOUND[rec.integration](request, rec))["webhook_url"])  # the connection's own URL
    sim = simulator.build(rec.integration, event_type, data, key, url)
    # The route's own path: a public_url may put a prefix (a tunnel's) before akd's paths.
    path = url[len(c.base_url) :] if c.base_url and url.startswith(c.base_url) else urlsplit(url).path
    if sim.route and rec.integration in ROUTE_PATHS:
        path = ROUTE_PATHS[rec.integration](path, sim.route)
    origin = urlsplit(url)
    started = time.time()
    res = await _send(request, f"{origin.scheme}://{origin.netloc}{path}", sim)
    event_id = res.headers.get("AutoKitteh-Event-ID", "")
    if res.status_code >= 300 or not event_id:
        raise _refusal(res) if res.status_code >= 300 else FailedPrecondition(
            f"the vendor's route acknowledged the delivery without storing it: {res.text[:200]}")  # fmt: skip
    stored = await _settled(request, event_id)
    # A delivery id given in --data that akd already has: the route answered for the earlier event.
    duplicate = stored is not None and stored.created_at < started
    return {"event_id": event_id, "event_type": event_type, "connection": f"{rec.project}/{rec.name}",
            "delivery_id": sim.delivery_id, "status": res.status_code, "duplicate": duplicate,
            "session_ids": [] if stored is None or duplicate else list(stored.session_ids)}  # fmt: skip


async def simulate_route(request: Request) -> JSONResponse:
    rec = await _connection(request)
    body = await json_body(request)
    data = body.get("data") if body.get("data") is not None else {}
    if not isinstance(data, dict):
        raise InvalidArgument("data must be a JSON object (it is merged into the fixture's event data)")
    event_type = str(body.get("event_type") or "")
    if not event_type:
        raise InvalidArgument(f"event_type is required; fixtures: {', '.join(simulator.fixtures(rec.integration))}")
    return ok(await simulate(request, rec, event_type, data, str(body.get("secret") or "")), status=201)


async def list_fixtures(request: Request) -> JSONResponse:
    rec = await _connection(request)
    simulator.vendor(rec.integration)
    return ok({"connection": f"{rec.project}/{rec.name}", "integration": rec.integration,
               "event_types": simulator.fixtures(rec.integration)})  # fmt: skip


_ONE = "/connections/{project}/{name}"

routes = [
    Route(f"{_ONE}/deliveries", list_deliveries),
    Route(f"{_ONE}/simulate", simulate_route, methods=["POST"]),
    Route(f"{_ONE}/fixtures", list_fixtures),
    Route("/events/{id}/replay", replay, methods=["POST"]),
]

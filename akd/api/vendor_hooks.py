"""Deliveries from the vendors that sign with one of :mod:`akd.signatures`' presets:
Jira, Confluence, Linear, Twilio, Zoom, Stripe, Standard Webhooks (Svix) and Discord
interactions. One table says, per integration, where it posts, how it signs, which
connection var holds the secret and how its events are shaped
(:mod:`akd.services.vendor_events`).

Each connection has its own URL, ``<path>/<key>`` (``akctl connection get --json`` shows
it as ``webhook_url``). Where AutoKitteh serves a global path (``/jira/webhook``,
``/confluence/webhook/<category>``, ``/linear/event``, ``/twilio/message``,
``/zoom/event``) akd serves it too: a delivery there goes to every connection of that
integration whose secret verifies it.

The signature is checked over the raw bytes before anything is parsed or stored; a
connection without its secret refuses deliveries (401). Discord's PING and Zoom's
``endpoint.url_validation`` are answered, not stored. A verified delivery is stored with
the vendor's delivery id (a repeat answers 2xx and starts nothing), then dispatched.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from akd.api.common import ctx, public_request_url, raw_headers, read_body
from akd.errors import InvalidArgument, NotFound, Unauthenticated
from akd.services import connection_events, vendor_events
from akd.services.connection_events import Accepted, RawDelivery
from akd.services.connections import values_of
from akd.services.vendor_events import CONFLUENCE_CATEGORIES, DISCORD_REPLIES, Delivery, Shaped
from akd.signatures import preset, verify, zoom_encrypted_token
from akd.store import connections as store
from akd.store.connections import ConnectionRecord

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'
Handshake = Callable[[Delivery, str], Response | None]  # a verified delivery and its secret
Reply = Callable[[Delivery, list[Accepted]], Response]


def _confluence_secrets(values: dict[str, str], category: str) -> list[str]:
    return ["webhook_secret", *([f"WebhookSecret_{category}"] if category else [])]  # AutoKitteh: one per category


def _twilio_secrets(values: dict[str, str], category: str) -> list[str]:
    # The auth token signs webhooks; in apiKey mode Password is an API key's secret, which does not.
    return ["auth_token", *(["Password"] if values.get("auth_type", "apiToken") == "apiToken" else [])]


def _discord_ping(d: Delivery, secret: str) -> Response | None:
    return JSONResponse({"type": 1}) if d.payload.get("type") == 1 else None  # the endpoint check


def _zoom_validation(d: Delivery, secret: str) -> Response | None:
    if d.payload.get("event") != "endpoint.url_validation":
        return None
    inner = d.payload.get("payload")
    plain = inner.get("plainToken") if isinstance(inner, dict) else None
    if not isinstance(plain, str) or not plain:
        raise InvalidArgument("endpoint.url_validation without payload.plainToken")
    return JSONResponse({"plainToken": plain, "encryptedToken": zoom_encrypted_token(secret, plain)})


def _twiml(d: Delivery, accepted: list[Accepted]) -> Response:
    """TwiML that sends no reply: the session answers, if it wants to."""
    return Response(EMPTY_TWIML, media_type="text/xml", headers={"AutoKitteh-Event-ID": accepted[0].event_id})


def _discord_deferred(d: Delivery, accepted: list[Accepted]) -> Response:
    kind = d.payload.get("type")
    reply = DISCORD_REPLIES.get(kind, {"type": 5}) if isinstance(kind, int) else {"type": 5}
    return JSONResponse(reply, headers={"AutoKitteh-Event-ID": accepted[0].event_id})


@dataclass(frozen=True)
class Vendor:
    integration: str
    path: str  # AutoKitteh's path where it has one; a connection's own URL is <path>/<key>
    scheme: str  # the signature preset
    secret_vars: tuple[str, ...]  # connection vars tried in order (what the refusal names)
    shape: Callable[[Delivery], Shaped]
    where: str  # where the user finds the secret (for the refusal message)
    global_path: bool = False  # AutoKitteh serves <path> itself: routed by whose secret verifies
    status: int = 202
    secrets: Callable[[dict[str, str], str], list[str]] | None = None  # when the vars depend on the delivery
    handshake: Handshake | None = None  # answered after verification, not stored
    reply: Reply | None = None  # the answer to a stored delivery (default: the event id as JSON)
    forms: bool = False  # may post application/x-www-form-urlencoded bodies
    categories: tuple[str, ...] = ()  # the words a <path>/<category> URL may end in


VENDORS: dict[str, Vendor] = {v.integration: v for v in (
    Vendor("jira", "/jira/webhook", "atlassian", ("webhook_secret",), vendor_events.jira,
           "the secret of the Jira webhook (Settings > System > WebHooks)", global_path=True),
    Vendor("confluence", "/confluence/webhook", "atlassian", ("webhook_secret",), vendor_events.confluence,
           "the secret of the Confluence webhook", global_path=True, secrets=_confluence_secrets,
           categories=CONFLUENCE_CATEGORIES),
    Vendor("linear", "/linear/event", "linear", ("private_webhook_secret",), vendor_events.linear,
           "the signing secret of the Linear webhook (Settings > API > Webhooks)", global_path=True, status=200),
    Vendor("twilio", "/twilio/message", "twilio", ("auth_token", "Password"), vendor_events.twilio,
           "the account's auth token (Console > Account info)", global_path=True, secrets=_twilio_secrets,
           reply=_twiml, forms=True),
    Vendor("zoom", "/zoom/event", "zoom", ("private_secret_token",), vendor_events.zoom,
           "the app's secret token (Features > Access > Secret Token)", global_path=True, status=200,
           handshake=_zoom_validation),
    Vendor("stripe", "/stripe/webhook", "stripe", ("webhook_secret",), vendor_events.stripe,
           "the endpoint's signing secret (whsec_..., Developers > Webhooks)"),
    Vendor("standardwebhooks", "/standardwebhooks/webhook", "standardwebhooks", ("webhook_secret",),
           vendor_events.standardwebhooks, "the endpoint's signing secret (whsec_...)"),
    Vendor("discord", "/discord/interactions", "discord", ("public_key",), vendor_events.discord,
           "the application's public key (Developer Portal > General Information)", handshake=_discord_ping,
           reply=_discord_deferred),
)}  # fmt: skip


@dataclass(frozen=True)
class Target:
    """A connection a delivery verified for, and the secret that verified it."""

    rec: ConnectionRecord
    secret: str


def _vendor(request: Request) -> Vendor:
    return VENDORS[request.url.path.split("/")[1]]


async def _secret(request: Request, v: Vendor, rec: ConnectionRecord, category: str) -> str:
    values = await values_of(ctx(request).db, ctx(request).config.data_dir, rec.connection_id)
    names = v.secrets(values, category) if v.secrets is not None else v.secret_vars
    return next((values[n] for n in names if values.get(n)), "")


async def _by_key(request: Request, v: Vendor, key: str, raw: bytes, category: str) -> list[Target]:
    rec = await store.by_webhook_key(ctx(request).db, key)
    if rec is None or rec.integration != v.integration:
        raise NotFound(f"no {v.integration} connection at this URL")
    secret = await _secret(request, v, rec, category)
    if not secret:
        raise Unauthenticated(
            f"connection {rec.project}/{rec.name} has no {' or '.join(v.secret_vars)}: set it to {v.where}; "
            "unsigned deliveries are refused"
        )
    verify(v.scheme, secret, request.headers, raw, url=public_request_url(request))
    return [Target(rec, secret)]


async def _by_signature(request: Request, v: Vendor, raw: bytes, category: str) -> list[Target]:
    """A global path: every connection of the integration whose secret verifies the delivery."""
    found = []
    for rec in [r for r in await store.list_all(ctx(request).db) if r.integration == v.integration]:
        secret = await _secret(request, v, rec, category)
        try:
            if secret:
                verify(v.scheme, secret, request.headers, raw, url=public_request_url(request))
                found.append(Target(rec, secret))
        except Unauthenticated:
            continue
    if not found:
        raise Unauthenticated(f"no {v.integration} connection's {' or '.join(v.secret_vars)} verifies this delivery")
    return found


def _parse(v: Vendor, request: Request, raw: bytes) -> tuple[dict[str, Any], bool]:
    """The payload, and whether it came as a form (Twilio); everyone else posts JSON."""
    if v.forms and request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        form = parse_qs(raw.decode("utf-8", "replace"), keep_blank_values=True)
        return {k: values[0] for k, values in form.items()}, True
    try:
        payload: Any = json.loads(raw)
    except ValueError:
        raise InvalidArgument(f"a {v.integration} delivery must be JSON") from None
    if not isinstance(payload, dict):
        raise InvalidArgument(f"a {v.integration} delivery must be a JSON object")
    return payload, False


def _answer(v: Vendor, d: Delivery, accepted: list[Accepted]) -> Response:
    if v.reply is not None:
        return v.reply(d, accepted)
    body: dict[str, Any] = {"event_id": accepted[0].event_id, "duplicate": all(a.duplicate for a in accepted)}
    if len(accepted) > 1:
        body["event_ids"] = [a.event_id for a in accepted]
    return JSONResponse(body, status_code=v.status, headers={"AutoKitteh-Event-ID": accepted[0].event_id})


def _key_and_category(v: Vendor, request: Request) -> tuple[str, str]:
    key, category = request.path_params.get("key", ""), request.path_params.get("category", "")
    if key in v.categories and not category:
        return "", key  # AutoKitteh's global <path>/<category>
    return key, category


async def deliver(request: Request) -> Response:
    c, v = ctx(request), _vendor(request)
    raw = await read_body(request, c.config.sessions.max_body_bytes)
    key, category = _key_and_category(v, request)
    if key:
        targets = await _by_key(request, v, key, raw, category)
    else:
        targets = await _by_signature(request, v, raw, category)
    payload, form = _parse(v, request, raw)
    delivery = Delivery({k.lower(): val for k, val in request.headers.items()}, raw, payload, category, form)
    answer = v.handshake(delivery, targets[0].secret) if v.handshake is not None else None
    if answer is not None:
        return answer
    shaped = v.shape(delivery)
    stored = RawDelivery(raw_headers(request), raw, preset(v.scheme).label)
    accepted = [
        await connection_events.accept(c.dispatcher, t.rec, event_type=shaped.event_type, data=shaped.data,
                                       delivery_id=shaped.delivery_id, raw=stored, source=v.integration)
        for t in targets
    ]  # fmt: skip
    return _answer(v, delivery, accepted)


async def connection_fields(request: Request, rec: ConnectionRecord) -> dict[str, Any]:
    """``webhook_url``: the connection's own delivery URL, ``<akd>/<path>/<key>``."""
    c = ctx(request)
    key = await connection_events.webhook_key(c.db, rec)
    return {"webhook_url": f"{c.base_url}{VENDORS[rec.integration].path}/{key}"}


def _routes(v: Vendor) -> list[Route]:
    routes = [Route(f"{v.path}/{{key}}", deliver, methods=["POST"])]
    if v.categories:
        routes.append(Route(f"{v.path}/{{key}}/{{category}}", deliver, methods=["POST"]))
    if v.global_path:
        routes.append(Route(v.path, deliver, methods=["POST"]))
    return routes


routes = [route for v in VENDORS.values() for route in _routes(v)]

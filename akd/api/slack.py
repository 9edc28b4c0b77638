"""Slack deliveries over HTTP: a connection's own URLs ``POST /slack/{event,command,
interaction}/{key}`` and AutoKitteh's global paths ``POST /slack/event``,
``/slack/command``, ``/slack/interaction`` (routed by the payload's ``api_app_id`` and
``team_id`` to the connections whose ``install_ids`` var, ``<app>/<enterprise>/<team>`` as
AutoKitteh stores it, or ``app_id``/``team_id`` vars match; else to every Slack
connection whose signing secret verifies).

The v0 signature is checked over the raw bytes with the connection's
``private_signing_secret`` before anything is parsed or stored; a connection without one
refuses deliveries. ``url_verification`` and ``ssl_check`` are answered, not stored. The
shapes (event type, data, delivery id) are in :mod:`akd.services.slack_events`.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from akd.api.common import ctx, raw_headers, read_body
from akd.errors import InvalidArgument, NotFound, Unauthenticated
from akd.services import connection_events, slack_events
from akd.services.connection_events import Accepted, RawDelivery
from akd.services.connections import values_of
from akd.signatures import verify
from akd.store import connections as store
from akd.store.connections import ConnectionRecord

SECRET_VAR = "private_signing_secret"
KINDS = ("event", "command", "interaction")


def _form(raw: bytes) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(raw.decode("utf-8", "replace"), keep_blank_values=True).items()}


def _payload(kind: str, raw: bytes) -> dict[str, Any]:
    """The delivery's JSON object (events), form (commands) or form field ``payload``."""
    try:
        parsed: Any = json.loads(raw) if kind == "event" else _form(raw)
        if kind == "interaction" and "payload" in parsed:
            parsed = json.loads(parsed["payload"])
    except ValueError:
        what = "JSON" if kind == "event" else "form data"
        raise InvalidArgument(f"a Slack {kind} delivery is not valid {what}") from None
    if not isinstance(parsed, dict):
        raise InvalidArgument(f"a Slack {kind} delivery must be an object")
    return parsed


def _ids(kind: str, raw: bytes) -> tuple[str, str, str]:
    """App, enterprise and team ids, read (unverified) only to pick whose secret to try."""
    try:
        p = _payload(kind, raw)
    except InvalidArgument:
        return "", "", ""
    team = p.get("team") if isinstance(p.get("team"), dict) else {}
    ent = p.get("enterprise") if isinstance(p.get("enterprise"), dict) else {}
    return (str(p.get("api_app_id") or ""), str((ent or {}).get("id") or p.get("enterprise_id") or ""),
            str((team or {}).get("id") or p.get("team_id") or ""))  # fmt: skip


def _matches(values: dict[str, str], app: str, ent: str, team: str) -> bool:
    if values.get("install_ids"):
        return values["install_ids"] == f"{app}/{ent}/{team}"
    return bool(app) and values.get("app_id") == app and values.get("team_id", team) == team


async def _secret(request: Request, rec: ConnectionRecord) -> str:
    return (await values_of(ctx(request).db, ctx(request).config.data_dir, rec.connection_id)).get(SECRET_VAR, "")


async def _by_key(request: Request, key: str, raw: bytes) -> ConnectionRecord:
    rec = await store.by_webhook_key(ctx(request).db, key)
    if rec is None or rec.integration != "slack":
        raise NotFound("no Slack connection at this URL")
    secret = await _secret(request, rec)
    if not secret:
        raise Unauthenticated(
            f"connection {rec.project}/{rec.name} has no {SECRET_VAR}: set it to the Slack app's signing secret "
            "(Basic Information > App Credentials); unsigned deliveries are refused"
        )
    verify("slack", secret, request.headers, raw)
    return rec


async def _by_ids(request: Request, kind: str, raw: bytes) -> list[ConnectionRecord]:
    """The global paths: the Slack connections this delivery is for, whose secret verifies it
    (those the payload's ids name; when none of them verifies, any that does)."""
    c = ctx(request)
    app, ent, team = _ids(kind, raw)
    named: list[ConnectionRecord] = []
    others: list[ConnectionRecord] = []
    for rec in [r for r in await store.list_all(c.db) if r.integration == "slack"]:
        values = await values_of(c.db, c.config.data_dir, rec.connection_id)
        if not values.get(SECRET_VAR):
            continue
        try:
            verify("slack", values[SECRET_VAR], request.headers, raw)
        except Unauthenticated:
            continue
        (named if _matches(values, app, ent, team) else others).append(rec)
    if not named and not others:
        raise Unauthenticated("no Slack connection's private_signing_secret verifies this delivery")
    return named or others


def _handshake(kind: str, payload: dict[str, Any]) -> Response | None:
    if kind == "event" and payload.get("type") == "url_verification":  # the Request URL check
        return JSONResponse({"challenge": payload.get("challenge", "")})
    if payload.get("ssl_check"):  # Slack probing the certificate of a command URL
        return Response(status_code=200)
    return None


def _shape(kind: str, payload: dict[str, Any]) -> slack_events.Shaped | None:
    if kind == "event":
        return slack_events.from_callback(payload)
    if kind == "command":
        return slack_events.from_command(payload)
    return slack_events.from_interaction(payload)


def _answer(kind: str, payload: dict[str, Any], accepted: list[Accepted]) -> Response:
    """2xx at once (the event is stored); commands echo to the user as AutoKitteh does,
    interactions get an empty 200 (a body would be read as a view response)."""
    first = accepted[0]
    headers = {"AutoKitteh-Event-ID": first.event_id}
    if kind == "command":
        return JSONResponse(slack_events.command_reply(payload), headers=headers)
    if kind == "interaction":
        return Response(status_code=200, headers=headers)
    body: dict[str, Any] = {"event_id": first.event_id, "duplicate": all(a.duplicate for a in accepted)}
    if len(accepted) > 1:
        body["event_ids"] = [a.event_id for a in accepted]
    return JSONResponse(body, status_code=202, headers=headers)


async def deliver(request: Request) -> Response:
    c = ctx(request)
    kind = request.url.path.split("/")[2]
    raw = await read_body(request, c.config.sessions.max_body_bytes)
    key = request.path_params.get("key", "")
    recs = [await _by_key(request, key, raw)] if key else await _by_ids(request, kind, raw)
    payload = _payload(kind, raw)
    answer = _handshake(kind, payload)
    if answer is not None:
        return answer
    shaped = _shape(kind, payload)
    if shaped is None:  # another envelope type, or the bot's own message: acknowledged, not kept
        return JSONResponse({"ignored": True})
    raw_delivery = RawDelivery(raw_headers(request), raw, "slack v0 signature")
    accepted = [
        await connection_events.accept(c.dispatcher, rec, event_type=shaped.event_type, data=shaped.data,
                                       delivery_id=shaped.delivery_id, raw=raw_delivery, source="slack")
        for rec in recs
    ]  # fmt: skip
    return _answer(kind, payload, accepted)


async def connection_fields(request: Request, rec: ConnectionRecord) -> dict[str, Any]:
    """``webhook_url`` (the Events API Request URL; ``/slack/command/<key>`` and
    ``/slack/interaction/<key>`` take the same key) and, for a Socket Mode connection,
    the state of its websocket."""
    c = ctx(request)
    key = await connection_events.webhook_key(c.db, rec)
    fields: dict[str, Any] = {"webhook_url": f"{c.base_url}/slack/event/{key}"}
    supervisor = getattr(request.app.state, "socket_mode", None)
    state = supervisor.state_of(rec.connection_id) if supervisor is not None else None
    if state is not None:
        fields["socket_mode"] = state
    return fields


routes = [
    *[Route(f"/slack/{kind}", deliver, methods=["POST"]) for kind in KINDS],
    *[Route(f"/slack/{kind}/{{key}}", deliver, methods=["POST"]) for kind in KINDS],
]

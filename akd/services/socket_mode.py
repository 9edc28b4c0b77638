"""Slack Socket Mode: akd holds the websocket, so an app needs no public URL.

For every Slack connection with an app-level token (``private_app_token``, auth_type
``socketMode``), ``POST <base>apps.connections.open`` (base = the connection's
``base_url`` or Slack's) gives a ``wss://`` URL; akd connects, reads ``hello``, and for
each ``events_api`` / ``slash_commands`` / ``interactive`` envelope stores the delivery
(:func:`connection_events.accept`) and only then acks it, so an envelope akd could not
keep is redelivered by Slack. A ``disconnect`` envelope with reason ``refresh_requested``
or ``warning`` (Slack closes that socket soon) opens the new socket before the old one is
closed, so there is no moment without one; a dropped socket reconnects at once. A failure
(``apps.connections.open`` refused, e.g. ``invalid_auth``; a socket that would not open or
closed right after its hello; ``disconnect`` with another reason, e.g. ``link_disabled``)
is shown in the connection's state with the number of failed attempts, and retried after
a wait that doubles each time (1 s, 2 s, 4 s, ... up to 30 s). One socket per app token:
connections that share a token all get its events, as AutoKitteh dispatches them.

The supervisor re-scans the connections every few seconds, so a token set, changed or
removed is picked up without a restart.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from akd.services import connection_events, slack_events
from akd.services.connection_events import RawDelivery
from akd.services.connections import values_of
from akd.services.dispatch import Dispatcher
from akd.store import connections as store
from akd.store.connections import ConnectionRecord
from akd.store.db import Database

log = logging.getLogger(__name__)

SLACK_API = "https://slack.com/api/"
LOOPBACK = ("127.0.0.1", "localhost", "::1")
DELIVERIES = ("events_api", "slash_commands", "interactive")
REFRESH = ("refresh_requested", "warning")  # disconnect reasons after which Slack wants a new socket
HELLO_TIMEOUT = 15.0
MIN_LIFETIME = 1.0  # a socket that closes sooner after its hello counts as a failure (backoff)


class SocketModeError(Exception):
    """Slack refused to open a socket (e.g. ``invalid_auth``), or gave an unusable URL."""


@dataclass
class _Socket:
    """One app token's websocket: its connections, its state, the task that holds it."""

    token: str
    base_url: str
    recs: list[ConnectionRecord]
    state: str = "connecting"  # connecting | connected | reconnecting | error
    message: str = ""
    attempts: int = 0  # failed attempts since the socket was last connected
    retry_in: float = 0.0  # seconds the supervisor waits after the last failure
    connected_at: float = 0.0  # time.monotonic() of the last hello
    task: asyncio.Task[None] | None = field(default=None, repr=False)

    def status(self) -> dict[str, Any]:
        return {"state": self.state, "message": self.message, "attempts": self.attempts, "retry_in": self.retry_in}


class SocketMode:
    """Starts, re-targets and stops the Socket Mode websockets of all Slack connections."""

    def __init__(self, db: Database, data_dir: Path, dispatcher: Dispatcher, rescan: float = 5.0) -> None:
        self.db = db
        self.data_dir = data_dir
        self.dispatcher = dispatcher
        self.rescan = rescan
        self.backoff = (1.0, 30.0)  # first retry after a failure, the longest wait
        self._sockets: dict[str, _Socket] = {}
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="slack-socket-mode")

    async def stop(self) -> None:
        tasks = [t for t in [self._task, *(s.task for s in self._sockets.values())] if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._sockets.clear()

    def state_of(self, connection_id: str) -> dict[str, Any] | None:
        """``{"state", "message", "attempts", "retry_in"}`` of the connection's socket; None
        when it has none."""
        for sock in self._sockets.values():
            if any(r.connection_id == connection_id for r in sock.recs):
                return sock.status()
        return None

    async def _run(self) -> None:
        while True:
            try:
                await self.scan()
            except Exception:  # a database hiccup must not end Socket Mode for good
                log.exception("Slack Socket Mode: scanning the connections failed")
            await asyncio.sleep(self.rescan)

    async def _wanted(self) -> dict[str, tuple[str, list[ConnectionRecord]]]:
        wanted: dict[str, tuple[str, list[ConnectionRecord]]] = {}
        for rec in [r for r in await store.list_all(self.db) if r.integration == "slack"]:
            values = await values_of(self.db, self.data_dir, rec.connection_id)
            token = values.get("private_app_token", "")
            if token and values.get("auth_type", "socketMode") in ("", "socketMode"):
                base = values.get("base_url") or SLACK_API
                wanted.setdefault(token, (base, []))[1].append(rec)
        return wanted

    async def scan(self) -> None:
        """Match the sockets to the connections' tokens now (the loop does this every few seconds)."""
        wanted = await self._wanted()
        for token in list(self._sockets):
            sock = self._sockets[token]
            if token not in wanted or wanted[token][0] != sock.base_url:
                if sock.task is not None:
                    sock.task.cancel()
                del self._sockets[token]
        for token, (base, recs) in wanted.items():
            if token in self._sockets:
                self._sockets[token].recs = recs
                continue
            sock = self._sockets[token] = _Socket(token, base, recs)
            sock.task = asyncio.create_task(self._hold(sock), name="slack-socket")

    async def _hold(self, sock: _Socket) -> None:
        """Connect, serve, reconnect: at once when Slack asks (the new socket is up before the
        old one closes) or the socket drops; after a growing wait when opening one failed."""
        ws: ClientConnection | None = None
        try:
            while True:
                try:
                    if ws is None:
                        ws = await self._connect(sock)
                    ws = await self._after(sock, ws, await self._serve(sock, ws))
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    if ws is not None:
                        await ws.close()
                        ws = None
                    await self._failed(sock, exc)
        finally:
            if ws is not None:
                await ws.close()

    async def _after(self, sock: _Socket, ws: ClientConnection, reason: str | None) -> ClientConnection | None:
        """What follows a served socket: ``reason`` is the ``disconnect`` envelope's, None
        when the socket closed. Returns the socket to serve next (None: open a new one)."""
        if reason in REFRESH:
            sock.state, sock.message = "reconnecting", f"Slack asked for a fresh connection ({reason})"
            try:
                return await self._connect(sock)  # make before break: no moment without a socket
            finally:
                await ws.close()
        await ws.close()
        if reason is not None:  # e.g. link_disabled: Socket Mode was turned off for the app
            raise SocketModeError(f"Slack closed the connection: {reason}")
        if time.monotonic() - sock.connected_at < MIN_LIFETIME:
            raise SocketModeError("the socket closed right after it opened")
        sock.state, sock.message = "reconnecting", "the socket was closed"
        return None

    async def _failed(self, sock: _Socket, exc: Exception) -> None:
        """Show the failure, then wait: the first retry after ``backoff[0]``, each next one twice as long."""
        sock.attempts += 1
        wait = min(self.backoff[0] * 2 ** (sock.attempts - 1), self.backoff[1])
        sock.state, sock.message, sock.retry_in = "error", f"{type(exc).__name__}: {exc}", wait
        log.warning("Slack Socket Mode (%s): %s; retry %d in %.0f s", _names(sock), sock.message, sock.attempts, wait)
        await asyncio.sleep(wait)

    async def _connect(self, sock: _Socket) -> ClientConnection:
        """A fresh socket that has said ``hello``."""
        ws = await connect(await self._open(sock), open_timeout=15)
        try:
            first: Any = json.loads(await asyncio.wait_for(ws.recv(), HELLO_TIMEOUT))
            if not isinstance(first, dict) or first.get("type") != "hello":
                kind = first.get("type") if isinstance(first, dict) else type(first).__name__
                raise SocketModeError(f"expected hello as the first message, got {kind!r}")
        except BaseException:
            await ws.close()
            raise
        sock.state, sock.message, sock.attempts, sock.retry_in = "connected", "", 0, 0.0
        sock.connected_at = time.monotonic()
        return ws

    async def _open(self, sock: _Socket) -> str:
        """``apps.connections.open``: a fresh websocket URL for the app token."""
        async with httpx.AsyncClient(timeout=15) as client:
            res = await client.post(f"{sock.base_url}apps.connections.open",
                                    headers={"Authorization": f"Bearer {sock.token}"})  # fmt: skip
        body = res.json() if res.headers.get("content-type", "").startswith("application/json") else {}
        if not body.get("ok") or not isinstance(body.get("url"), str):
            raise SocketModeError(f"apps.connections.open failed: {body.get('error') or f'HTTP {res.status_code}'}")
        url: str = body["url"]
        parts = urlsplit(url)
        if parts.scheme != "wss" and not (parts.scheme == "ws" and parts.hostname in LOOPBACK):
            raise SocketModeError(f"apps.connections.open gave {parts.scheme}:// (only wss://, or ws:// on loopback)")
        return url

    async def _serve(self, sock: _Socket, ws: ClientConnection) -> str | None:
        """Read envelopes until Slack says ``disconnect`` (its reason) or the socket closes (None)."""
        try:
            async for message in ws:
                envelope: Any = json.loads(message)
                kind = envelope.get("type") if isinstance(envelope, dict) else None
                if kind == "disconnect":
                    reason = str(envelope.get("reason") or "refresh_requested")
                    log.info("Slack Socket Mode (%s): disconnect (%s)", _names(sock), reason)
                    return reason
                if kind in DELIVERIES:
                    raw = message.encode() if isinstance(message, str) else bytes(message)
                    ack = await self._keep(sock, envelope, raw)
                    await ws.send(json.dumps(ack))  # only after the store commit
                else:
                    log.debug("Slack Socket Mode: ignored a %r message", kind)
        except ConnectionClosed:
            pass
        return None

    async def _keep(self, sock: _Socket, envelope: dict[str, Any], raw: bytes) -> dict[str, Any]:
        """Store the envelope's delivery for each of the token's connections; the ack to send."""
        shaped = slack_events.from_envelope(envelope)
        if shaped is not None:
            delivery = RawDelivery({"Envelope-Type": str(envelope.get("type"))}, raw, "slack socket mode (app token)")
            for rec in sock.recs:
                await connection_events.accept(
                    self.dispatcher, rec, event_type=shaped.event_type, data=shaped.data,
                    delivery_id=shaped.delivery_id, raw=delivery, source="slack",
                )  # fmt: skip
        ack: dict[str, Any] = {"envelope_id": envelope.get("envelope_id", "")}
        if envelope.get("type") == "slash_commands" and envelope.get("accepts_response_payload"):
            ack["payload"] = slack_events.command_reply(envelope.get("payload") or {})
        return ack


def _names(sock: _Socket) -> str:
    return ", ".join(f"{r.project}/{r.name}" for r in sock.recs)

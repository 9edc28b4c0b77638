"""Slack with Socket Mode: the Web API stand-in plus ``apps.connections.open`` (app-level
tokens) and a websocket server on a free local port, driven by the test.

Each websocket connection gets ``hello`` first; the test then queues envelopes with
:meth:`send` for an app token (taken by that token's newest connection; each token has its
queue, as each Slack app has) and reads what came back in :attr:`acks`.
:meth:`disconnect` sends Slack's ``disconnect`` envelope, after which that connection
takes nothing more (the client is expected to open a new one); :meth:`drop` cuts the
newest connection without a close frame. As Slack does, an envelope that was sent but not
acked when its connection closed is sent again (same ``envelope_id``, ``retry_attempt``
+1) on the next connection. :attr:`log` records each connection's ``hello`` and close, in
order; :attr:`opens` each ``apps.connections.open`` call. Hooks let a test act at the
moment an envelope went out (:attr:`on_sent`) or an ack came in (:attr:`on_ack`; False
drops that ack, as if it were lost on the way).
"""

from __future__ import annotations

import collections
import itertools
import json
import re
import socket
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

from websockets.exceptions import ConnectionClosed
from websockets.sync.server import ServerConnection, serve

from tests.standins.base import Answer, Recorded
from tests.standins.slack import SlackStandIn

DROP = {"type": "__drop__"}  # an outbox marker: cut the connection that takes it


class SlackSocketStandIn(SlackStandIn):
    def __init__(self, app_tokens: set[str] | None = None, tokens: set[str] | None = None) -> None:
        super().__init__(tokens)
        self.app_tokens = app_tokens if app_tokens is not None else {"xapp-good-token"}
        self.acks: list[dict[str, Any]] = []  # every message the client sent, in order
        self.hellos = 0  # websocket connections that got their hello
        self.opens: list[tuple[str, bool]] = []  # (app token, granted) per apps.connections.open
        self.log: list[tuple[str, int]] = []  # ("hello" | "closed", connection number), in order
        self.on_sent: Callable[[dict[str, Any]], None] | None = None
        self.on_ack: Callable[[dict[str, Any]], bool] | None = None
        self._outboxes: dict[str, collections.deque[dict[str, Any]]] = collections.defaultdict(collections.deque)
        self._generations: dict[str, int] = collections.defaultdict(int)  # per token: who may take from its outbox
        self._token_of: dict[str, str] = {}  # websocket URL ticket -> the app token it was opened for
        self._tokens: dict[int, str] = {}  # connection number -> app token
        self._tickets = itertools.count(1)
        self._numbers = itertools.count(1)  # each websocket connection's number, as in :attr:`log`
        self._ws = serve(self._serve_socket, "127.0.0.1", 0)
        self._ws_thread = threading.Thread(target=self._ws.serve_forever, name="SlackSocket", daemon=True)
        self.route("POST", r"/api/apps\.connections\.open", self._open)

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self._ws.socket.getsockname()[1]}"

    def start(self) -> SlackSocketStandIn:
        super().start()
        self._ws_thread.start()
        return self

    def stop(self) -> None:
        self._ws.shutdown()
        self._ws_thread.join(5)
        super().stop()

    def send(self, envelope: dict[str, Any], app_token: str | None = None) -> None:
        """Queue ``envelope`` for ``app_token`` (default: the token of the newest connection)."""
        with self._lock:
            token = app_token or self._tokens.get(max(self._tokens, default=0), "")
            self._outboxes[token].append(envelope)

    def disconnect(self, reason: str = "refresh_requested", app_token: str | None = None) -> None:
        self.send({"type": "disconnect", "reason": reason, "debug_info": {"host": "standin"}}, app_token)

    def drop(self, app_token: str | None = None) -> None:
        """Cut the connection that takes this next (after what was queued before), no close frame."""
        self.send(DROP, app_token)

    def newest(self, app_token: str) -> int:
        """The number of ``app_token``'s connection that said hello last (0: none yet)."""
        with self._lock:
            return max((n for n, t in self._tokens.items() if t == app_token), default=0)

    def connections(self, app_token: str) -> int:
        """How many websocket connections ``app_token`` opened (each got its hello)."""
        with self._lock:
            return sum(1 for t in self._tokens.values() if t == app_token)

    def acked(self, envelope_id: str) -> int:
        with self._lock:
            return sum(1 for a in self.acks if a.get("envelope_id") == envelope_id)

    def open_count(self, token: str) -> int:
        with self._lock:
            return sum(1 for t, _ in self.opens if t == token)

    def _open(self, req: Recorded, _: re.Match[str]) -> Answer:
        token = req.auth.removeprefix("Bearer ")
        granted = token in self.app_tokens
        with self._lock:
            self.opens.append((token, granted))
        if not granted:
            return 200, {"ok": False, "error": "invalid_auth"}
        ticket = str(next(self._tickets))
        with self._lock:
            self._token_of[ticket] = token
        return 200, {"ok": True, "url": f"{self.ws_url}/link/?ticket={ticket}"}

    def _serve_socket(self, ws: ServerConnection) -> None:
        ticket = parse_qs(urlsplit(ws.request.path if ws.request else "").query).get("ticket", [""])[0]
        with self._lock:
            token = self._token_of.get(ticket, "")
            self._generations[token] += 1
            mine = self._generations[token]
            number = next(self._numbers)
            self._tokens[number] = token
            self.hellos += 1
            self.log.append(("hello", number))
        ws.send(json.dumps({"type": "hello", "num_connections": 1, "connection_info": {"app_id": "A1"},
                            "debug_info": {"host": "standin"}}))  # fmt: skip
        unacked: dict[str, dict[str, Any]] = {}
        try:
            while True:
                if mine == self._generations[token]:
                    self._relay(ws, token, unacked)
                self._receive(ws, unacked)
        except (ConnectionClosed, OSError):
            pass
        finally:
            self._closed(number, token, unacked)

    def _closed(self, number: int, token: str, unacked: dict[str, dict[str, Any]]) -> None:
        """Slack retries what the closed connection never acked, on the next connection."""
        with self._lock:
            self.log.append(("closed", number))
            for envelope in reversed(list(unacked.values())):
                retry = {**envelope, "retry_attempt": int(envelope.get("retry_attempt") or 0) + 1,
                         "retry_reason": "timeout"}  # fmt: skip
                self._outboxes[token].appendleft(retry)

    def _take(self, token: str) -> dict[str, Any] | None:
        with self._lock:
            outbox = self._outboxes[token]
            return outbox.popleft() if outbox else None

    def _relay(self, ws: ServerConnection, token: str, unacked: dict[str, dict[str, Any]]) -> None:
        envelope = self._take(token)
        if envelope is None:
            return
        if envelope is DROP:
            ws.socket.shutdown(socket.SHUT_RDWR)  # the peer sees the TCP connection end, no close frame
            raise ConnectionClosed(None, None)
        if envelope.get("envelope_id"):
            unacked[str(envelope["envelope_id"])] = envelope
        ws.send(json.dumps(envelope))
        if envelope.get("type") == "disconnect":
            with self._lock:
                self._generations[token] += 1  # this connection takes nothing more (until a new one opens)
        if self.on_sent is not None:
            self.on_sent(envelope)

    def _receive(self, ws: ServerConnection, unacked: dict[str, dict[str, Any]]) -> None:
        try:
            message = ws.recv(timeout=0.02)
        except TimeoutError:
            return
        ack: dict[str, Any] = json.loads(message)
        if self.on_ack is not None and not self.on_ack(ack):
            return  # lost on the way: Slack never saw it
        unacked.pop(str(ack.get("envelope_id", "")), None)
        with self._lock:
            self.acks.append(ack)

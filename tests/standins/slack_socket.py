"""Slack with Socket Mode: the Web API stand-in plus ``apps.connections.open`` (app-level
tokens) and a websocket server on a free local port, driven by the test.

Each websocket connection gets ``hello`` first; the test then queues envelopes with
:meth:`send` (taken by the newest connection) and reads what came back in :attr:`acks`.
:meth:`disconnect` sends Slack's ``disconnect`` envelope, after which that connection
takes nothing more (the client is expected to open a new one).
"""

from __future__ import annotations

import itertools
import json
import queue
import re
import threading
from typing import Any

from websockets.exceptions import ConnectionClosed
from websockets.sync.server import ServerConnection, serve

from tests.standins.base import Answer, Recorded
from tests.standins.slack import SlackStandIn


class SlackSocketStandIn(SlackStandIn):
    def __init__(self, app_tokens: set[str] | None = None, tokens: set[str] | None = None) -> None:
        super().__init__(tokens)
        self.app_tokens = app_tokens if app_tokens is not None else {"xapp-good-token"}
        self.acks: list[dict[str, Any]] = []  # every message the client sent, in order
        self.hellos = 0  # websocket connections that got their hello
        self._outbox: queue.Queue[dict[str, Any]] = queue.Queue()
        self._generation = 0  # the connection allowed to take from the outbox
        self._tickets = itertools.count(1)
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

    def send(self, envelope: dict[str, Any]) -> None:
        self._outbox.put(envelope)

    def disconnect(self, reason: str = "refresh_requested") -> None:
        self._outbox.put({"type": "disconnect", "reason": reason, "debug_info": {"host": "standin"}})

    def acked(self, envelope_id: str) -> int:
        with self._lock:
            return sum(1 for a in self.acks if a.get("envelope_id") == envelope_id)

    def _open(self, req: Recorded, _: re.Match[str]) -> Answer:
        if req.auth.removeprefix("Bearer ") not in self.app_tokens:
            return 200, {"ok": False, "error": "invalid_auth"}
        return 200, {"ok": True, "url": f"{self.ws_url}/link/?ticket={next(self._tickets)}"}

    def _serve_socket(self, ws: ServerConnection) -> None:
        with self._lock:
            self._generation += 1
            mine = self._generation
            self.hellos += 1
        ws.send(json.dumps({"type": "hello", "num_connections": 1, "connection_info": {"app_id": "A1"},
                            "debug_info": {"host": "standin"}}))  # fmt: skip
        try:
            while True:
                if mine == self._generation:
                    self._relay(ws)
                self._receive(ws)
        except ConnectionClosed:
            return

    def _relay(self, ws: ServerConnection) -> None:
        try:
            envelope = self._outbox.get(timeout=0.02)
        except queue.Empty:
            return
        ws.send(json.dumps(envelope))
        if envelope.get("type") == "disconnect":
            with self._lock:
                self._generation += 1  # this connection takes nothing more (until a new one opens)

    def _receive(self, ws: ServerConnection) -> None:
        try:
            message = ws.recv(timeout=0.02)
        except TimeoutError:
            return
        with self._lock:
            self.acks.append(json.loads(message))

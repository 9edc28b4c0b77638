"""What one HTTP client may hold: connections, and the time to send a request.

uvicorn's h11 protocol has no deadline for a request head or body (only a keep-alive
timeout once a response is sent) and no cap on open connections: 300 idle sockets or
slow partial heads (slowloris) held every descriptor of a daemon with a 256-fd limit,
and each one stayed open for as long as its client liked. ``LimitedH11Protocol`` adds:

- a **head deadline**: a request head must be complete within ``header_timeout`` of the
  connection opening (or of its first byte after a keep-alive pause);
- a **body deadline**: the whole body must arrive within ``body_timeout`` of the head;
  past it the client gets 408 (if no response started) and the connection is closed;
- an **idle timeout**: a keep-alive connection with no request is closed after
  ``idle_timeout`` (uvicorn's ``timeout_keep_alive``);
- a **connection cap**: past ``max_connections`` a new connection first closes the
  oldest one that has no request in flight (idle, or still sending its head); when every
  one is busy with a request the newcomer gets 503 with the JSON error body;
- no reading of a body nobody wants: when a response ends before its request body did
  (401, 404, 413...), the rest is not read: the connection sends its FIN and is closed
  after ``LINGER`` seconds, so a client that reads as it sends still sees the answer.

The deadlines are totals, not idle gaps, so trickling a byte now and then buys nothing.
"""

from __future__ import annotations

import asyncio
import json
import logging
import resource
from http import HTTPStatus
from typing import Any, ClassVar, Literal

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from akd.config import ServerConfig
from akd.errors import AkdError, RequestTimeout, Unavailable

log = logging.getLogger(__name__)

# Seconds a connection whose answer is sent stays half-open before it is closed.
LINGER = 1.0
# Seconds between two log lines about refused connections.
REPORT_EVERY = 10.0
# Descriptors akd needs besides HTTP connections (databases, runners, Temporal, logs).
FD_RESERVE = 256


def raw_response(err: AkdError) -> bytes:
    """A complete HTTP/1.1 response carrying ``err`` as the JSON error body, then close."""
    body = json.dumps(err.to_dict()).encode()
    head = (
        f"HTTP/1.1 {err.status} {HTTPStatus(err.status).phrase}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    )
    return head.encode() + body


class ConnectionTable:
    """The open connections of one server, oldest first."""

    def __init__(self, limits: ServerConfig) -> None:
        self.limits = limits
        self._open: dict[LimitedH11Protocol, None] = {}
        self._refused = 0
        self._reported_at = -REPORT_EVERY

    def admit(self, conn: LimitedH11Protocol) -> bool:
        """Register ``conn``; at the cap, close the oldest idle connection to make room.
        False when every connection is busy with a request (the caller refuses ``conn``)."""
        if len(self._open) >= self.limits.max_connections:
            victim = next((c for c in self._open if not c.busy), None)
            if victim is None:
                return False
            victim.close("evicted: the connection limit was reached")
        self._open[conn] = None
        return True

    def forget(self, conn: LimitedH11Protocol) -> None:
        self._open.pop(conn, None)

    def note_refusal(self, now: float) -> None:
        """Count a refused connection; log the count at most every ``REPORT_EVERY`` seconds
        (a flood of connections must not become a flood of log lines)."""
        self._refused += 1
        if now - self._reported_at >= REPORT_EVERY:
            log.warning(
                "refused %d HTTP connection(s): all %d connections are busy with requests ([server] max_connections)",
                self._refused, self.limits.max_connections,
            )  # fmt: skip
            self._refused, self._reported_at = 0, now


class LimitedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with deadlines and a connection cap (see the module doc)."""

    table: ClassVar[ConnectionTable]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.timeout_keep_alive = self.table.limits.idle_timeout  # type: ignore[assignment]
        self._deadline: asyncio.TimerHandle | None = None
        self._phase: Literal["head", "body"] | None = None
        self._closing = False

    @property
    def busy(self) -> bool:
        """A request is in flight: its head arrived and its response is not complete."""
        return self.cycle is not None and not self.cycle.response_complete and not self._closing

    # -- asyncio.Protocol -------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if not self.table.admit(self):
            self._refuse()
            return
        self._arm("head")

    def data_received(self, data: bytes) -> None:
        if self._closing:
            return  # a refused or lingering connection: its bytes are not wanted
        super().data_received(data)
        self._follow_state()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        self.table.forget(self)
        super().connection_lost(exc)

    def on_response_complete(self) -> None:
        if self.conn.their_state is h11.SEND_BODY and not self.transport.is_closing():
            # Answered before the body ended (401, 404, 413...): do not read the rest.
            self.server_state.total_requests += 1
            self._linger()
            return
        super().on_response_complete()
        self._follow_state()

    # -- deadlines ----------------------------------------------------------------------

    def _follow_state(self) -> None:
        """Arm the deadline that fits what the client is sending now."""
        if self._closing or self.transport.is_closing():
            return
        state = self.conn.their_state
        if state is h11.IDLE:
            if self._phase is None and self.timeout_keep_alive_task is None:
                self._arm("head")  # the first bytes of a new head (after a keep-alive pause)
        elif state is h11.SEND_BODY:
            if self._phase != "body":
                self._arm("body")
        else:
            self._disarm()

    def _arm(self, phase: Literal["head", "body"]) -> None:
        self._disarm()
        limits = self.table.limits
        if phase == "head":
            self._deadline = self.loop.call_later(limits.header_timeout, self._head_late)
        else:
            self._deadline = self.loop.call_later(limits.body_timeout, self._body_late)
        self._phase = phase

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
        self._deadline = None
        self._phase = None

    def _head_late(self) -> None:
        self.close(f"no complete request head within {self.table.limits.header_timeout:g} s")

    def _body_late(self) -> None:
        limit = self.table.limits.body_timeout
        cycle = self.cycle
        if cycle is not None and not cycle.response_started and self.conn.our_state is h11.SEND_RESPONSE:
            err = RequestTimeout(
                f"the request body did not arrive within {limit:g} s ([server] body_timeout)",
                details={"body_timeout": limit},
            )
            self.transport.write(raw_response(err))
        self.close(f"request body not complete within {limit:g} s")

    # -- closing ------------------------------------------------------------------------

    def close(self, why: str) -> None:
        """Close now; the request in flight (if any) sees a disconnect."""
        log.debug("closing HTTP connection from %s: %s", self.client, why)
        self._closing = True
        self._disarm()
        self.table.forget(self)
        if self.cycle is not None and not self.cycle.response_complete:
            self.cycle.disconnected = True
            self.cycle.message_event.set()
        self.transport.close()

    def _refuse(self) -> None:
        limit = self.table.limits.max_connections
        self.table.note_refusal(self.loop.time())
        err = Unavailable(
            f"akd is serving {limit} requests at once ([server] max_connections); retry shortly",
            details={"max_connections": limit},
        )
        self.transport.write(raw_response(err))
        self._linger()

    def _linger(self) -> None:
        """Send FIN after what is written, read no more, close after ``LINGER`` seconds."""
        self._closing = True
        self._disarm()
        self.table.forget(self)
        self.flow.pause_reading()
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.loop.call_later(LINGER, self.transport.close)


def protocol_class(limits: ServerConfig) -> type[LimitedH11Protocol]:
    """A protocol class bound to one server's limits and connection table."""

    class Bound(LimitedH11Protocol):
        table = ConnectionTable(limits)

    return Bound


def ensure_fd_headroom(max_connections: int) -> None:
    """Raise the soft open-files limit so ``max_connections`` sockets fit beside akd's own
    descriptors; warn when the hard limit does not allow it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = max_connections + FD_RESERVE
    if soft != resource.RLIM_INFINITY and soft < needed:
        target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        if target < needed:
            log.warning(
                "the open-files limit (%d) leaves room for about %d HTTP connections, fewer than "
                "[server] max_connections = %d; lower it or raise `ulimit -n`",
                target, max(0, target - FD_RESERVE), max_connections,
            )  # fmt: skip

"""The wire protocol between akd and a runner process.

A frame is an 8-byte header (big-endian u32 JSON length, u32 blob length), a JSON
object and an opaque blob. Blobs carry pickles made by the runner (step outcomes,
return values) or by akd from plain data (the event); akd stores runner pickles
without ever unpickling them.

runner -> akd: ``hello``, ``print``, ``step``, ``wait``, ``done``, ``call`` (SDK request)
akd -> runner: ``init``, ``ack``, ``reply``
"""

from __future__ import annotations

import json
import socket
import struct
from typing import Any

HEADER = struct.Struct(">II")
MAX_FRAME = 64 * 1024 * 1024


def encode(msg: dict[str, Any], blob: bytes = b"") -> bytes:
    body = json.dumps(msg, separators=(",", ":")).encode()
    return HEADER.pack(len(body), len(blob)) + body + blob


def decode_header(header: bytes) -> tuple[int, int]:
    jlen, blen = HEADER.unpack(header)
    if jlen + blen > MAX_FRAME:
        raise ValueError(f"frame of {jlen + blen} bytes exceeds the {MAX_FRAME} byte limit")
    return int(jlen), int(blen)


class SyncChannel:
    """Blocking framing over a connected socket (the runner's side).

    Reads are unbuffered (exact-size ``recv`` calls), so ``select`` on the socket
    always tells whether a whole new frame may be waiting.
    """

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    def send(self, msg: dict[str, Any], blob: bytes = b"") -> None:
        self.sock.sendall(encode(msg, blob))

    def _read_exact(self, size: int) -> bytes:
        chunks, remaining = [], size
        while remaining:
            chunk = self.sock.recv(min(remaining, 1 << 20), socket.MSG_WAITALL)
            if not chunk:
                raise EOFError("akd closed the connection")
            chunks.append(chunk)
            remaining -= len(chunk)
        return b"".join(chunks)

    def recv(self) -> tuple[dict[str, Any], bytes]:
        jlen, blen = decode_header(self._read_exact(HEADER.size))
        body = self._read_exact(jlen)
        blob = self._read_exact(blen) if blen else b""
        msg: dict[str, Any] = json.loads(body)
        return msg, blob

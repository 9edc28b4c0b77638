"""A TLS front for a plain gRPC server, standing in for a Temporal cluster that needs TLS.

Temporal's dev server speaks only plain gRPC. A real cluster (self-hosted behind TLS, or
Temporal Cloud) terminates TLS, often asking for a client certificate. This proxy does
that part for tests: it accepts TLS on 127.0.0.1 with a certificate of a test CA
(offering HTTP/2 by ALPN, as gRPC clients require), optionally verifies the client's
certificate against the same CA, and forwards the decrypted bytes to the dev server.
Each connection that passed the handshake is counted, so a test can tell that the
traffic really went through TLS.
"""

from __future__ import annotations

import asyncio
import datetime
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

SERVER_NAME = "temporal.test"


@dataclass(frozen=True)
class Pki:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )


def _issue(
    subject: str, key: ec.EllipticCurvePrivateKey, ca_key: ec.EllipticCurvePrivateKey, *, ca: bool = False
) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name("akd test CA"))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
    else:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(subject)]), critical=False)
    return builder.sign(ca_key, hashes.SHA256())


def make_pki(root: Path) -> Pki:
    """A CA, a server certificate for SERVER_NAME and a client certificate, as PEM files."""
    root.mkdir(parents=True, exist_ok=True)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    pki = Pki(*(root / n for n in ("ca.pem", "server.pem", "server.key", "client.pem", "client.key")))
    pki.ca.write_bytes(_issue("akd test CA", ca_key, ca_key, ca=True).public_bytes(serialization.Encoding.PEM))
    pairs = ((pki.server_cert, pki.server_key, SERVER_NAME), (pki.client_cert, pki.client_key, "akd"))
    for cert, key_path, subject in pairs:
        key = ec.generate_private_key(ec.SECP256R1())
        cert.write_bytes(_issue(subject, key, ca_key).public_bytes(serialization.Encoding.PEM))
        _write_key(key_path, key)
    return pki


@dataclass
class TlsProxy:
    pki: Pki
    upstream_port: int
    require_client_cert: bool = True
    port: int = 0
    handshakes: int = 0
    _loop: asyncio.AbstractEventLoop = field(default_factory=asyncio.new_event_loop)
    _writers: set[asyncio.StreamWriter] = field(default_factory=set)

    def _context(self) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.pki.server_cert, self.pki.server_key)
        ctx.set_alpn_protocols(["h2"])
        if self.require_client_cert:
            ctx.verify_mode = ssl.CERT_REQUIRED
            ctx.load_verify_locations(self.pki.ca)
        return ctx

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, ssl.SSLError):
            pass
        finally:
            writer.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.handshakes += 1
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        self._writers |= {writer, up_writer}
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))
        self._writers -= {writer, up_writer}

    async def _shutdown(self, server: asyncio.Server) -> None:
        server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await server.wait_closed()

    @contextmanager
    def running(self) -> Iterator[TlsProxy]:
        loop = self._loop
        server = loop.run_until_complete(asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=self._context()))
        self.port = server.sockets[0].getsockname()[1]
        thread = threading.Thread(target=loop.run_forever, name="tls-proxy", daemon=True)
        thread.start()
        try:
            yield self
        finally:
            asyncio.run_coroutine_threadsafe(self._shutdown(server), loop).result(10)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(10)
            loop.close()

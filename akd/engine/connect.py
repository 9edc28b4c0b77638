"""How akd reaches Temporal: the address, namespace, TLS and API key of one cluster.

The embedded dev server is plain gRPC on loopback; an external cluster may need TLS
(the system's CAs or a private one), a client certificate (mutual TLS) or an API key.
Files are read once, at start, so a bad path stops akd with its name instead of failing
the first connection attempt with a transport error.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from temporalio.service import TLSConfig

from akd.config import TemporalConfig
from akd.errors import InvalidArgument


@dataclass(frozen=True)
class TemporalTarget:
    address: str
    namespace: str
    tls: TLSConfig | bool = False
    api_key: str | None = None

    @property
    def secure(self) -> bool:
        return self.tls is not False


def _read(setting: str, path: str) -> bytes:
    try:
        return Path(path).expanduser().read_bytes()
    except OSError as exc:
        raise InvalidArgument(f"config [temporal] {setting}: cannot read {path}: {exc.strerror}") from None


def _tls(cfg: TemporalConfig) -> TLSConfig | bool:
    files = (cfg.tls_ca_file, cfg.tls_cert_file, cfg.tls_key_file)
    if not any(files) and not cfg.tls_server_name:
        # An API key is only ever sent over TLS (Temporal Cloud requires it).
        return bool(cfg.tls or cfg.api_key)
    return TLSConfig(
        server_root_ca_cert=_read("tls_ca_file", cfg.tls_ca_file) if cfg.tls_ca_file else None,
        domain=cfg.tls_server_name or None,
        client_cert=_read("tls_cert_file", cfg.tls_cert_file) if cfg.tls_cert_file else None,
        client_private_key=_read("tls_key_file", cfg.tls_key_file) if cfg.tls_key_file else None,
    )


def external_target(cfg: TemporalConfig) -> TemporalTarget:
    """The cluster ``[temporal] address`` names, with its TLS and API key settings."""
    return TemporalTarget(cfg.address, cfg.namespace, _tls(cfg), cfg.api_key or None)


def embedded_target(address: str, namespace: str) -> TemporalTarget:
    return TemporalTarget(address, namespace)


def task_timeout(cfg: TemporalConfig) -> timedelta:
    """``[temporal] workflow_task_timeout``, or its default for the embedded server or a cluster."""
    if cfg.workflow_task_timeout > 0:
        return timedelta(seconds=cfg.workflow_task_timeout)
    return timedelta(seconds=2.5 if cfg.address else 5.0)

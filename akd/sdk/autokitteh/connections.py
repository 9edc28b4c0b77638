"""``autokitteh.connections``: connection names, OAuth token refresh and JWT signing."""

from __future__ import annotations

import base64
import json
import os
import re
from datetime import UTC, datetime
from typing import Any

from akd.runner import context
from akd.runner.errors import AutoKittehError

_NAME = re.compile(r"[A-Za-z_]\w*")


def check_connection_name(connection: str) -> None:
    """Raise ValueError unless ``connection`` is a valid connection name (an identifier)."""
    if not isinstance(connection, str) or not _NAME.fullmatch(connection):
        raise ValueError(f"Invalid AutoKitteh connection name: {connection!r}")


def refresh_oauth(integration: str, connection: str) -> tuple[str, datetime]:
    """A fresh OAuth access token of ``connection`` and its expiry (naive UTC, as AutoKitteh's).

    akd refreshes it with the connection's refresh token and the integration's OAuth app.
    """
    check_connection_name(connection)
    reply = context.get().request("connection.refresh_oauth", {"integration": integration, "connection": connection})
    if not isinstance(reply, dict) or not reply.get("access_token"):
        raise AutoKittehError(f"refresh_oauth: akd gave no access token for {connection!r}: {reply!r}")
    return str(reply["access_token"]), _naive_utc(str(reply.get("expiry") or ""))


def _naive_utc(stamp: str) -> datetime:
    if not stamp:
        return datetime.now(UTC).replace(tzinfo=None)
    parsed = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed


def encode_jwt(payload: dict[str, int], connection: str, algorithm: str) -> str:
    """``payload`` as a JWT signed with the connection's GitHub App key (var ``private_key``,
    else env ``GITHUB_PRIVATE_KEY``). Only RS256, as in AutoKitteh."""
    check_connection_name(connection)
    if algorithm != "RS256":
        raise AutoKittehError(f"encode_jwt: unsupported algorithm {algorithm!r} (only RS256)")
    key = os.environ.get(f"{connection}__private_key") or os.environ.get("GITHUB_PRIVATE_KEY", "")
    if not key:
        from ._integrations import not_initialized

        raise not_initialized(connection, "no private_key to sign a JWT with")
    claims: dict[str, Any] = {k: str(v) if k == "iss" else v for k, v in payload.items()}  # PyJWT wants a str
    try:
        import jwt
    except ImportError:
        return _rs256(claims, key)
    return str(jwt.encode(claims, key, algorithm="RS256"))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _rs256(payload: dict[str, Any], pem: str) -> str:
    """RS256 without PyJWT (cryptography is one of akd's own dependencies)."""
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    key = serialization.load_pem_private_key(pem.encode(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise AutoKittehError("encode_jwt: private_key is not an RSA key")
    head = _b64(json.dumps({"alg": "RS256", "typ": "JWT"}, separators=(",", ":")).encode())
    body = _b64(json.dumps(payload, separators=(",", ":")).encode())
    signature = key.sign(f"{head}.{body}".encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{head}.{body}.{_b64(signature)}"


__all__ = ["check_connection_name", "encode_jwt", "refresh_oauth"]

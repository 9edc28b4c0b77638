"""Webhook signatures: a webhook trigger ``T`` can require signed requests.

Set two project vars (mark the secret one ``secret``)::

    T__signature       = github | slack | sha256
    T__signing_secret  = <the shared secret>

- ``github``: ``X-Hub-Signature-256: sha256=<hex HMAC-SHA256(secret, body)>``.
- ``slack``: ``X-Slack-Request-Timestamp: <unix seconds>`` and
  ``X-Slack-Signature: v0=<hex HMAC-SHA256(secret, "v0:<timestamp>:<body>")>``.
- ``sha256`` (generic): ``X-Signature-Timestamp: <unix seconds>`` and
  ``X-Signature-256: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>``.

Unsigned, wrongly signed and (for schemes with a timestamp) stale requests, more than
five minutes off or with a timestamp that is not a finite number (``nan``, ``inf``),
get 401 before anything is stored.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import time
from collections.abc import Mapping

from akd.errors import InvalidArgument, Unauthenticated

MAX_SKEW = 300.0
SCHEMES = ("github", "slack", "sha256")


def _hex(secret: str, message: bytes) -> str:
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def _timestamp(headers: Mapping[str, str], name: str, now: float) -> str:
    raw = headers.get(name, "")
    try:
        ts = float(raw)
    except ValueError:
        raise Unauthenticated(f"missing or invalid {name} header") from None
    if not math.isfinite(ts):  # "nan" compares false with everything: it would never be stale
        raise Unauthenticated(f"invalid {name} header: {raw.strip()!r} is not a time")
    if abs(now - ts) > MAX_SKEW:
        raise Unauthenticated(f"stale request: {name} is {abs(now - ts):.0f} s away from now (limit {MAX_SKEW:.0f} s)")
    return raw


def _check(given: str, expected: str, header: str) -> None:
    if not given:
        raise Unauthenticated(f"unsigned request: the {header} header is missing")
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise Unauthenticated(f"bad signature in {header}")


def verify(scheme: str, secret: str, headers: Mapping[str, str], body: bytes, now: float | None = None) -> None:
    """Raise ``Unauthenticated`` unless the request is signed per ``scheme`` with ``secret``."""
    now = time.time() if now is None else now
    if scheme == "github":
        _check(headers.get("x-hub-signature-256", ""), "sha256=" + _hex(secret, body), "X-Hub-Signature-256")
    elif scheme == "slack":
        ts = _timestamp(headers, "x-slack-request-timestamp", now)
        expected = "v0=" + _hex(secret, b"v0:" + ts.encode() + b":" + body)
        _check(headers.get("x-slack-signature", ""), expected, "X-Slack-Signature")
    elif scheme == "sha256":
        ts = _timestamp(headers, "x-signature-timestamp", now)
        expected = "sha256=" + _hex(secret, ts.encode() + b"." + body)
        _check(headers.get("x-signature-256", ""), expected, "X-Signature-256")
    else:
        raise InvalidArgument(f"unknown webhook signature scheme {scheme!r}; use one of {', '.join(SCHEMES)}")

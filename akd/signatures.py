"""Signature presets: how each vendor signs a delivery, checked over the raw bytes.

Used by vendor deliveries to connections (:mod:`akd.api.vendor_hooks`, GitHub, Slack) and
by webhook triggers: a webhook trigger ``T`` can require signed requests with two project
vars (mark the secret one ``secret``)::

    T__signature       = github | slack | sha256 (or any preset below)
    T__signing_secret  = <the shared secret>

The presets (``verify(scheme, secret, headers, body, now, url=...)``):

- ``github``: ``X-Hub-Signature-256: sha256=<hex HMAC-SHA256(secret, body)>``.
- ``slack``: ``X-Slack-Request-Timestamp: <unix seconds, an integer>`` and
  ``X-Slack-Signature: v0=<hex HMAC-SHA256(secret, "v0:<timestamp>:<body>")>``.
- ``sha256`` (generic): ``X-Signature-Timestamp: <unix seconds>`` and
  ``X-Signature-256: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>``.
- ``atlassian`` (Jira, Confluence): ``X-Hub-Signature: sha256=<hex HMAC-SHA256(secret,
  body)>`` (admin webhooks with a secret), or ``Authorization: Bearer <JWT>`` signed HS256
  with the secret (an OAuth app's dynamic webhooks, as AutoKitteh checks them; ``exp``
  honoured; such a JWT names the sender but does not cover the body).
- ``linear``: ``Linear-Signature: <hex HMAC-SHA256(secret, body)>`` and the body's
  ``webhookTimestamp`` (milliseconds) within a minute of now, as Linear advises.
- ``twilio``: ``X-Twilio-Signature: <base64 HMAC-SHA1(auth token, url + the form params
  sorted, each name then value)>``; a JSON body is signed over the URL alone, whose
  ``bodySHA256`` query parameter must be the hex SHA-256 of the body. ``url`` is the
  public URL Twilio called (with and without the default port both count).
- ``stripe``: ``Stripe-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret,
  "<t>.<body>")>`` (any ``v1`` may match: Stripe sends several while a secret rolls).
- ``standardwebhooks`` (Svix and the Standard Webhooks spec): ``webhook-id``,
  ``webhook-timestamp`` and ``webhook-signature: v1,<base64 HMAC-SHA256(key,
  "<id>.<timestamp>.<body>")>`` (space-separated, any may match; ``svix-*`` headers too),
  the key being the base64 after ``whsec_``.
- ``discord``: ``X-Signature-Ed25519: <hex ed25519 signature of timestamp + body>`` and
  ``X-Signature-Timestamp``, checked with the application's public key (hex).
- ``zoom``: ``x-zm-request-timestamp`` and ``x-zm-signature: v0=<hex HMAC-SHA256(secret,
  "v0:<timestamp>:<body>")>``.

Unsigned, wrongly signed and (for schemes with a timestamp) stale requests, more than
five minutes off (Linear: one minute), or with a timestamp that is not a finite number
(``nan``, ``inf``; Slack, Stripe, Standard Webhooks, Discord and Zoom: not an integer),
get ``Unauthenticated`` (401) before anything is stored.

``sign(scheme, secret, body, url=..., now=...)`` is the inverse: the headers a vendor
would send (for ``discord`` the secret is the private key's 32-byte seed in hex), so
``akctl connection simulate`` can sign fixtures through the real verification path.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import math
import re
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import parse_qs, parse_qsl, urlsplit, urlunsplit

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from akd.errors import InvalidArgument, Unauthenticated

MAX_SKEW = 300.0
LINEAR_SKEW = 60.0  # Linear: "within a minute"
_INTEGER = re.compile(r"[0-9]{1,13}")


@dataclass(frozen=True)
class Signed:
    """What a verifier sees: lowercased headers, the raw body, the URL the vendor called, now."""

    secret: str
    headers: Mapping[str, str]
    body: bytes
    url: str
    now: float

    def header(self, name: str) -> str:
        return self.headers.get(name, "").strip()


# -- shared pieces ------------------------------------------------------------------------


def _hex(secret: str | bytes, message: bytes) -> str:
    key = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def _b64(key: bytes, message: bytes, digest: str = "sha256") -> str:
    return base64.b64encode(hmac.new(key, message, digest).digest()).decode()


def _fresh(ts: float, name: str, now: float, skew: float = MAX_SKEW) -> None:
    if abs(now - ts) > skew:
        raise Unauthenticated(f"stale request: {name} is {abs(now - ts):.0f} s away from now (limit {skew:.0f} s)")


def _timestamp(s: Signed, name: str) -> str:
    """A finite number of seconds within the window (the generic scheme's rule)."""
    raw = s.headers.get(name, "")
    try:
        ts = float(raw)
    except ValueError:
        raise Unauthenticated(f"missing or invalid {name} header") from None
    if not math.isfinite(ts):  # "nan" compares false with everything: it would never be stale
        raise Unauthenticated(f"invalid {name} header: {raw.strip()!r} is not a time")
    _fresh(ts, name, s.now)
    return raw


def _whole(raw: str, name: str) -> int:
    if not raw:
        raise Unauthenticated(f"missing {name} header")
    if not _INTEGER.fullmatch(raw):
        raise Unauthenticated(f"invalid {name} header: {raw!r} is not a whole number of seconds")
    return int(raw)


def _int_timestamp(raw: str, name: str, now: float) -> str:
    """Unix seconds written as a plain integer (what Slack, Stripe, Svix, Discord send)."""
    _fresh(_whole(raw, name), name, now)
    return raw


def _check(given: str, expected: str, header: str) -> None:
    if not given:
        raise Unauthenticated(f"unsigned request: the {header} header is missing")
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise Unauthenticated(f"bad signature in {header}")


def _any(given: list[str], expected: str, header: str) -> None:
    if not given:
        raise Unauthenticated(f"unsigned request: no signature in the {header} header")
    if not any(hmac.compare_digest(g.encode(), expected.encode()) for g in given):
        raise Unauthenticated(f"bad signature in {header}")


def _ts(now: float) -> str:
    return str(int(now))


# -- GitHub, Slack, generic ---------------------------------------------------------------


def _verify_github(s: Signed) -> None:
    _check(s.header("x-hub-signature-256"), "sha256=" + _hex(s.secret, s.body), "X-Hub-Signature-256")


def _sign_github(secret: str, body: bytes, url: str, now: float) -> dict[str, str]:
    return {"X-Hub-Signature-256": "sha256=" + _hex(secret, body)}


def _verify_slack(s: Signed) -> None:
    ts = _int_timestamp(s.header("x-slack-request-timestamp"), "x-slack-request-timestamp", s.now)
    expected = "v0=" + _hex(s.secret, b"v0:" + ts.encode() + b":" + s.body)
    _check(s.header("x-slack-signature"), expected, "X-Slack-Signature")


def _sign_slack(secret: str, body: bytes, url: str, now: float) -> dict[str, str]:
    ts = _ts(now)
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": "v0=" + _hex(secret, f"v0:{ts}:".encode() + body)}


def _verify_sha256(s: Signed) -> None:
    ts = _timestamp(s, "x-signature-timestamp")
    _check(s.header("x-signature-256"), "sha256=" + _hex(s.secret, ts.encode() + b"." + s.body), "X-Signature-256")


def _sign_sha256(secret: str, body: bytes, url: str, now: float) -> dict[str, str]:
    ts = _ts(now)
    return {"X-Signature-Timestamp": ts, "X-Signature-256": "sha256=" + _hex(secret, ts.encode() + b"." + body)}


# -- Atlassian (Jira, Confluence) ---------------------------------------------------------


def _unb64url(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _verify_jwt(s: Signed, token: str) -> None:
    parts = token.split(".")
    try:
        if len(parts) != 3:
            raise ValueError
        header, claims = json.loads(_unb64url(parts[0])), json.loads(_unb64url(parts[1]))
        given = _unb64url(parts[2])
    except (ValueError, binascii.Error):
        raise Unauthenticated("malformed JWT in the Authorization header") from None
    if not isinstance(header, dict) or header.get("alg") != "HS256" or not isinstance(claims, dict):
        raise Unauthenticated("the Authorization JWT must be signed HS256")
    expected = hmac.new(s.secret.encode(), f"{parts[0]}.{parts[1]}".encode(), hashlib.sha256).digest()
    if not hmac.compare_digest(given, expected):
        raise Unauthenticated("bad signature in the Authorization JWT")
    exp = claims.get("exp")
    if exp is not None and (not isinstance(exp, int | float) or not math.isfinite(exp) or s.now > exp + 30):
        raise Unauthenticated("the Authorization JWT has expired")


def _verify_atlassian(s: Signed) -> None:
    auth = s.header("authorization")
    if not s.header("x-hub-signature") and auth.lower().startswith("bearer "):
        _verify_jwt(s, auth[7:].strip())
        return
    _check(s.header("x-hub-signature"), "sha256=" + _hex(s.secret, s.body), "X-Hub-Signature")


def _sign_atlassian(secret: str, body: bytes, url: str, now: float) -> dict[str, str]:
    return {"X-Hub-Signature": "sha256=" + _hex(secret, body)}


# -- Linear -------------------------------------------------------------------------------


def _verify_linear(s: Signed) -> None:
    _check(s.header("linear-signature"), _hex(s.secret, s.body), "Linear-Signature")
    try:
        stamp = json.loads(s.body).get("webhookTimestamp")
    except (ValueError, AttributeError):
        raise Unauthenticated("a Linear delivery must be a JSON object with webhookTimestamp") from None
    if isinstance(stamp, bool) or not isinstance(stamp, int | float) or not math.isfinite(stamp):
        raise Unauthenticated("missing or invalid webhookTimestamp in the Linear delivery")
    _fresh(stamp / 1000, "webhookTimestamp", s.now, LINEAR_SKEW)


def _sign_linear(secret: str, body: bytes, url: str, now: float) -> dict[str, str]:
    """The signature header; the body itself carries ``webhookTimestamp`` (ms), so a
    fixture must put a fresh one there before it is signed."""
    return {"Linear-Signature": _hex(secret, body)}


# -- Twilio -------------------------------------------------------------------------------


def _url_variants(url: str) -> list[str]:
    """The URL as given, without its port and with the scheme's default port: Twilio's
    own validators accept each, since what Twilio signed depends on how it was configured."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    userinfo = parts.netloc.rpartition("@")[0]
    prefix = f"{userinfo}@" if userinfo else ""
    default = {"https": 443, "http": 80}.get(parts.scheme)
    variants = [url, urlunsplit(parts._replace(netloc=prefix + host))]
    if default is not None:
        variants.append(urlunsplit(parts._replace(netloc=f"{prefix}{host}:{default}")))
    return list(dict.fromkeys(variants))


def _twilio_message(url: str, body: bytes, content_type: str) -> bytes:
    if "bodySHA256" in parse_qs(urlsplit(url).query) or not content_type.startswith("application/x-www-form"):
        return url.encode()
    # Sorted by name, then value, each pair once: what Twilio's own validators compute.
    pairs = sorted(set(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)))
    return (url + "".join(k + v for k, v in pairs)).encode()


def _verify_twilio(s: Signed) -> None:
    if not s.url:
        raise InvalidArgument("the twilio scheme signs the URL Twilio called, and none was given")
    given = s.header("x-twilio-signature")
    if not given:
        raise Unauthenticated("unsigned request: the X-Twilio-Signature header is missing")
    query = parse_qs(urlsplit(s.url).query)
    content_type = s.header("content-type").lower()
    if "bodySHA256" in query:
        if not hmac.compare_digest(query["bodySHA256"][0], hashlib.sha256(s.body).hexdigest()):
            raise Unauthenticated("bad bodySHA256: the body is not the one Twilio signed")
    elif s.body and not content_type.startswith("application/x-www-form"):
        # The signature covers the URL alone: without bodySHA256 any body would pass.
        raise Unauthenticated("a Twilio request that is not a form must carry bodySHA256 in its URL")
    for url in _url_variants(s.url):
        expected = _b64(s.secret.encode(), _twilio_message(url, s.body, content_type), "sha1")
        if hmac.compare_digest(given.encode(), expected.encode()):
            return
    raise Unauthenticated("bad signature in X-Twilio-Signature (signed over a different URL or body?)")


def _sign_twilio(secret: str, body: bytes, url: str, now: float) -> dict[str, str]:
    """Form bodies are signed with their params; give a JSON body's URL its ``bodySHA256``."""
    if not url:
        raise InvalidArgument("signing for Twilio needs the URL the request goes to")
    form = "bodySHA256" not in parse_qs(urlsplit(url).query)
    content_type = "application/x-www-form-urlencoded" if form else "application/json"
    signature = _b64(secret.encode(), _twilio_message(url, body, content_type), "sha1")
    return {"X-Twilio-Signature": signature, "Content-Type": content_type}


# -- Stripe -------------------------------------------------------------------------------


def _stripe_items(header: str) -> tuple[str, list[str]]:
    t, v1 = "", []
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        if key == "t":
            t = value
        elif key == "v1":
            v1.append(value)
    return t, v1


def _verify_stripe(s: Signed) -> None:
    header = s.header("stripe-signature")
    if not header:
        raise Unauthenticated("unsigned request: the Stripe-Signature header is missing")
    t, v1 = _stripe_items(header)
    _int_timestamp(t, "Stripe-Signature t", s.now)
    _any(v1, _hex(s.secret, t.encode() + b"." + s.body), "Stripe-Signature (v1)")


def _sign_stripe(secret: str, body: bytes, url: str, now: float) -> dict[str, str]:
    t = _ts(now)
    signature = _hex(secret, t.encode() + b"." + body)
    return {"Stripe-Signature": f"t={t},v1={signature}", "Content-Type": "application/json"}


# -- Standard Webhooks / Svix -------------------------------------------------------------


def _whsec_key(secret: str) -> bytes:
    try:
        return base64.b64decode(secret.removeprefix("whsec_"), validate=True)
    except binascii.Error:
        raise Unauthenticated("the webhook secret is not a Standard Webhooks secret (whsec_ + base64)") from None


def _sw_header(s: Signed, name: str) -> str:
    return s.header(f"webhook-{name}") or s.header(f"svix-{name}")


def _verify_standardwebhooks(s: Signed) -> None:
    msg_id = _sw_header(s, "id")
    if not msg_id:
        raise Unauthenticated("missing webhook-id header")
    ts = _int_timestamp(_sw_header(s, "timestamp"), "webhook-timestamp", s.now)
    given = [sig.partition(",")[2] for sig in _sw_header(s, "signature").split() if sig.startswith("v1,")]
    expected = _b64(_whsec_key(s.secret), f"{msg_id}.{ts}.".encode() + s.body)
    _any(given, expected, "webhook-signature (v1)")


def _sign_standardwebhooks(secret: str, body: bytes, url: str, now: float, msg_id: str = "") -> dict[str, str]:
    msg_id = msg_id or "msg_" + secrets.token_hex(12)
    ts = _ts(now)
    signature = "v1," + _b64(_whsec_key(secret), f"{msg_id}.{ts}.".encode() + body)
    return {"webhook-id": msg_id, "webhook-timestamp": ts, "webhook-signature": signature,
            "Content-Type": "application/json"}  # fmt: skip


# -- Discord ------------------------------------------------------------------------------


def ed25519_valid(public_key_hex: str, message: bytes, signature_hex: str) -> bool:
    """Whether ``signature`` (hex) is the ed25519 signature of ``message`` by the key."""
    try:
        key = Ed25519PublicKey.from_public_bytes(bytes.fromhex(public_key_hex))
        key.verify(bytes.fromhex(signature_hex), message)
    except (ValueError, InvalidSignature):
        return False
    return True


def _verify_discord(s: Signed) -> None:
    signature = s.header("x-signature-ed25519")
    if not signature:
        raise Unauthenticated("unsigned request: the X-Signature-Ed25519 header is missing")
    ts = _int_timestamp(s.header("x-signature-timestamp"), "X-Signature-Timestamp", s.now)
    try:
        bytes.fromhex(s.secret)
    except ValueError:
        raise Unauthenticated("the Discord public key is not hex (the app's General Information)") from None
    if not ed25519_valid(s.secret, ts.encode() + s.body, signature):
        raise Unauthenticated("bad signature in X-Signature-Ed25519")


def _sign_discord(secret: str, body: bytes, url: str, now: float) -> dict[str, str]:
    ts = _ts(now)
    key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(secret))
    return {"X-Signature-Ed25519": key.sign(ts.encode() + body).hex(), "X-Signature-Timestamp": ts,
            "Content-Type": "application/json"}  # fmt: skip


def discord_public_key(private_seed_hex: str) -> str:
    """The public key (hex) of a private key seed (hex), to configure a test connection."""
    key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(private_seed_hex)).public_key()
    return key.public_bytes_raw().hex()


# -- Zoom ---------------------------------------------------------------------------------


def _verify_zoom(s: Signed) -> None:
    raw = s.header("x-zm-request-timestamp")
    stamp = _whole(raw, "x-zm-request-timestamp")
    _fresh(stamp / 1000 if len(raw) >= 12 else stamp, "x-zm-request-timestamp", s.now)  # seconds or milliseconds
    _check(s.header("x-zm-signature"), "v0=" + _hex(s.secret, f"v0:{raw}:".encode() + s.body), "x-zm-signature")


def _sign_zoom(secret: str, body: bytes, url: str, now: float) -> dict[str, str]:
    ts = _ts(now)
    return {"x-zm-request-timestamp": ts, "x-zm-signature": "v0=" + _hex(secret, f"v0:{ts}:".encode() + body),
            "Content-Type": "application/json"}  # fmt: skip


def zoom_encrypted_token(secret: str, plain_token: str) -> str:
    """The answer to Zoom's ``endpoint.url_validation``: hex HMAC-SHA256 of the plain token."""
    return _hex(secret, plain_token.encode())


# -- the table ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Preset:
    verify: Callable[[Signed], None]
    sign: Callable[[str, bytes, str, float], dict[str, str]]
    label: str  # what the stored delivery says verified it


PRESETS: dict[str, Preset] = {
    "github": Preset(_verify_github, _sign_github, "github X-Hub-Signature-256"),
    "slack": Preset(_verify_slack, _sign_slack, "slack v0 signature"),
    "sha256": Preset(_verify_sha256, _sign_sha256, "X-Signature-256"),
    "atlassian": Preset(_verify_atlassian, _sign_atlassian, "atlassian X-Hub-Signature / JWT"),
    "linear": Preset(_verify_linear, _sign_linear, "linear Linear-Signature"),
    "twilio": Preset(_verify_twilio, _sign_twilio, "twilio X-Twilio-Signature"),
    "stripe": Preset(_verify_stripe, _sign_stripe, "stripe Stripe-Signature"),
    "standardwebhooks": Preset(_verify_standardwebhooks, _sign_standardwebhooks, "standard webhooks v1 signature"),
    "discord": Preset(_verify_discord, _sign_discord, "discord ed25519 signature"),
    "zoom": Preset(_verify_zoom, _sign_zoom, "zoom v0 signature"),
}
# The schemes docs/webhooks.md offers a webhook trigger's ``T__signature`` (every preset
# works there; the vendor ones are meant for connections, which pick theirs themselves).
SCHEMES = ("github", "slack", "sha256")


def preset(scheme: str) -> Preset:
    found = PRESETS.get(scheme)
    if found is None:
        raise InvalidArgument(f"unknown webhook signature scheme {scheme!r}; use one of {', '.join(PRESETS)}")
    return found


def verify(
    scheme: str, secret: str, headers: Mapping[str, str], body: bytes, now: float | None = None, *, url: str = ""
) -> None:
    """Raise ``Unauthenticated`` unless the request is signed per ``scheme`` with ``secret``
    (``url``: the public URL the vendor called, for schemes that sign it: Twilio)."""
    check = preset(scheme).verify
    lowered = {k.lower(): v for k, v in headers.items()}
    check(Signed(secret, lowered, body, url, time.time() if now is None else now))


def sign(scheme: str, secret: str, body: bytes, *, url: str = "", now: float | None = None) -> dict[str, str]:
    """The headers ``scheme``'s vendor would send with ``body`` (``verify``'s inverse)."""
    return preset(scheme).sign(secret, body, url, time.time() if now is None else now)

"""Simulated vendor deliveries: a fixture akd ships (``akd/fixtures/<integration>/<type>.json``),
merged with the caller's data, encoded and signed exactly as the vendor does it, with a
fresh delivery id. What comes out is an HTTP request for the connection's own URL; the
API sends it through the real route, so verification is never bypassed.

Vendors are rows of ``VENDORS``: adding one is one ``Vendor`` entry (its secret vars, how
a payload becomes a body, how it is signed) plus one fixture file per event type.
"""

from __future__ import annotations

import json
import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from importlib.resources import files
from typing import Any
from urllib.parse import urlencode

from akd.errors import FailedPrecondition, InvalidArgument, NotFound
from akd.signatures import sign as sign_with


@dataclass(frozen=True)
class Encoded:
    """A payload as the vendor puts it on the wire, before signing."""

    route: str  # which of the connection's URLs it goes to: "" (the one URL), or a Slack kind
    body: bytes
    headers: dict[str, str]
    delivery_id: str


@dataclass(frozen=True)
class SimulatedRequest:
    route: str
    headers: dict[str, str]
    body: bytes
    delivery_id: str


@dataclass(frozen=True)
class Vendor:
    integration: str
    secret_vars: tuple[str, ...]  # the first one set signs (the order the vendor's route tries them)
    # (event type, fixture payload, data to merge) -> the encoded delivery
    encode: Callable[[str, dict[str, Any], dict[str, Any]], Encoded]
    sign: Callable[[str, bytes, str, float], dict[str, str]]  # (secret, body, url, now) -> signature headers


def merge(base: Any, extra: Any) -> Any:
    """``extra`` deep-merged over ``base``: objects merge key by key, anything else replaces."""
    if isinstance(base, dict) and isinstance(extra, dict):
        return {**base, **{k: merge(base.get(k), v) for k, v in extra.items()}}
    return extra


def _json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


# -- GitHub ----------------------------------------------------------------------------


def _github_encode(event_type: str, fixture: dict[str, Any], data: dict[str, Any]) -> Encoded:
    delivery = str(uuid.uuid4())
    headers = {"Content-Type": "application/json", "User-Agent": "GitHub-Hookshot/akd-simulate",
               "X-GitHub-Event": event_type, "X-GitHub-Delivery": delivery, "X-GitHub-Hook-ID": "0"}  # fmt: skip
    return Encoded("", _json(merge(fixture, data)), headers, delivery)


# -- Slack -----------------------------------------------------------------------------


def _slack_trigger_id() -> str:
    return f"{secrets.randbelow(10**10):010d}.{secrets.randbelow(10**10):010d}.{secrets.token_hex(16)}"


def _slack_encode(event_type: str, fixture: dict[str, Any], data: dict[str, Any]) -> Encoded:
    """Events: the envelope gets a fresh ``event_id`` and ``data`` merges into the inner
    event; a slash command is form fields; an interaction is the form field ``payload``.
    The fresh id comes first, so ``data`` naming one replays a delivery on purpose."""
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    if event_type == "slash_command":
        fields = merge({**fixture, "trigger_id": _slack_trigger_id()}, data)
        return Encoded("command", urlencode(fields).encode(), form, str(fields["trigger_id"]))
    if event_type == "interaction":
        payload = merge({**fixture, "trigger_id": _slack_trigger_id()}, data)
        return Encoded("interaction", urlencode({"payload": json.dumps(payload)}).encode(), form,
                       str(payload["trigger_id"]))  # fmt: skip
    event_id = "Ev" + secrets.token_hex(6).upper()
    envelope = {**fixture, "event_id": event_id, "event_time": int(time.time()),
                "event": merge(fixture.get("event") or {}, data)}  # fmt: skip
    return Encoded("event", _json(envelope), {"Content-Type": "application/json"}, event_id)


# -- Signing: akd.signatures' own signer of each vendor's preset ----------------------


def _preset_sign(scheme: str) -> Callable[[str, bytes, str, float], dict[str, str]]:
    def sign(secret: str, body: bytes, url: str, now: float) -> dict[str, str]:
        return sign_with(scheme, secret, body, url=url, now=now)

    return sign


def _jira_encode(event_type: str, fixture: dict[str, Any], data: dict[str, Any]) -> Encoded:
    delivery = str(uuid.uuid4())
    payload = merge({**fixture, "timestamp": int(time.time() * 1000)}, data)
    headers = {"Content-Type": "application/json", "X-Atlassian-Webhook-Identifier": delivery}
    return Encoded("", _json(payload), headers, delivery)


def _twilio_encode(event_type: str, fixture: dict[str, Any], data: dict[str, Any]) -> Encoded:
    """A message as Twilio posts it: form fields (Twilio's names), a fresh MessageSid."""
    sid = "SM" + secrets.token_hex(16)
    fields = merge({**fixture, "MessageSid": sid, "SmsSid": sid, "SmsMessageSid": sid}, data)
    token = secrets.token_hex(16)
    headers = {"Content-Type": "application/x-www-form-urlencoded", "I-Twilio-Idempotency-Token": token}
    return Encoded("", urlencode({k: str(v) for k, v in fields.items()}).encode(), headers, token)


VENDORS: dict[str, Vendor] = {
    v.integration: v
    for v in (
        Vendor("github", ("pat_secret", "webhook_secret"), _github_encode, _preset_sign("github")),
        Vendor("slack", ("private_signing_secret",), _slack_encode, _preset_sign("slack")),
        Vendor("jira", ("webhook_secret",), _jira_encode, _preset_sign("atlassian")),
        Vendor("twilio", ("auth_token", "Password"), _twilio_encode, _preset_sign("twilio")),
    )
}


def vendor(integration: str) -> Vendor:
    found = VENDORS.get(integration)
    if found is None:
        known = ", ".join(sorted(VENDORS))
        raise InvalidArgument(f"akd cannot simulate {integration} deliveries (it can for: {known})")
    return found


def fixtures(integration: str) -> list[str]:
    """The event types akd has a fixture for, sorted."""
    folder = files("akd.fixtures").joinpath(integration)
    if not folder.is_dir():
        return []
    return sorted(p.name.removesuffix(".json") for p in folder.iterdir() if p.name.endswith(".json"))


def fixture(integration: str, event_type: str) -> dict[str, Any]:
    known = fixtures(integration)
    if event_type not in known:
        raise NotFound(
            f"no {integration} fixture for event type {event_type!r}; available: {', '.join(known) or 'none'}",
            details={"fixtures": known},
        )
    loaded: dict[str, Any] = json.loads(files("akd.fixtures").joinpath(integration, f"{event_type}.json").read_text())
    return loaded


def secret_of(v: Vendor, values: dict[str, str], ref: str) -> str:
    """The connection's signing secret; a clear error naming the var when it has none."""
    found = next((values[name] for name in v.secret_vars if values.get(name)), "")
    if not found:
        names = " or ".join(v.secret_vars)
        raise FailedPrecondition(
            f"connection {ref} has no {names}: set it (akctl var set {v.secret_vars[0]} SECRET --secret "
            f"--connection {ref}) to the secret the vendor signs with, then simulate again"
        )
    return found


def build(integration: str, event_type: str, data: dict[str, Any], secret: str, url: str = "") -> SimulatedRequest:
    """The signed request the vendor would send to ``url`` for ``event_type`` (``data`` merged in)."""
    v = vendor(integration)
    encoded = v.encode(event_type, fixture(integration, event_type), data)
    headers = {**encoded.headers, **v.sign(secret, encoded.body, url, time.time())}
    return SimulatedRequest(encoded.route, headers, encoded.body, encoded.delivery_id)

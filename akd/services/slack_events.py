"""Slack deliveries as AutoKitteh shapes them: the same for the Events API over HTTP and
for Socket Mode envelopes (pure functions: a parsed payload in, an event or nothing out).

- Events API ``event_callback``: ``event_type`` = the inner event's ``type``, ``data`` =
  the inner event, deduped by the envelope's ``event_id``. A ``message`` the app's own bot
  user wrote (or edited) is dropped, as AutoKitteh does: a handler that answers in the
  channel would otherwise trigger itself forever.
- Slash commands: ``event_type`` ``slash_command``, ``data`` the fields AutoKitteh keeps
  (``team_id``, ``command``, ``text``, ``response_url``, ``trigger_id``, ...; never the
  deprecated verification ``token``).
- Interactions (block actions, view submissions, shortcuts): ``event_type``
  ``interaction``, ``data`` the interaction payload (without ``token``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# The fields of AutoKitteh's SlashCommand (its struct's names in snake case).
COMMAND_FIELDS = (
    "team_id", "team_domain", "enterprise_id", "enterprise_name", "api_app_id", "channel_id", "channel_name",
    "user_id", "command", "text", "response_url", "trigger_id",
)  # fmt: skip


@dataclass(frozen=True)
class Shaped:
    event_type: str
    data: dict[str, Any]
    delivery_id: str | None


def _own_message(callback: dict[str, Any], event: dict[str, Any]) -> bool:
    """The bot's own message (``authorizations`` name the app's bot user)."""
    if event.get("type") != "message":
        return False
    own = {a.get("user_id") for a in callback.get("authorizations") or [] if isinstance(a, dict)} - {None, ""}
    edited = event.get("message") if isinstance(event.get("message"), dict) else {}
    author = event.get("user") or (edited or {}).get("user")
    return bool(author) and author in own


def from_callback(callback: dict[str, Any]) -> Shaped | None:
    """An Events API envelope (``type: event_callback``); None when there is nothing to keep."""
    event = callback.get("event")
    if callback.get("type") != "event_callback" or not isinstance(event, dict) or not event.get("type"):
        return None
    if _own_message(callback, event):
        return None
    return Shaped(str(event["type"]), event, str(callback.get("event_id") or "") or None)


def from_command(form: dict[str, str]) -> Shaped:
    """A slash command's fields (form-encoded over HTTP, a JSON object in Socket Mode)."""
    data: dict[str, Any] = {name: str(form.get(name, "")) for name in COMMAND_FIELDS}
    data["is_enterprise_install"] = str(form.get("is_enterprise_install", "")).lower() == "true"
    return Shaped("slash_command", data, str(form.get("trigger_id") or "") or None)


def from_interaction(payload: dict[str, Any]) -> Shaped:
    """An interaction payload (the form field ``payload`` over HTTP)."""
    data = {k: v for k, v in payload.items() if k != "token"}
    return Shaped("interaction", data, str(payload.get("trigger_id") or "") or None)


def command_reply(form: dict[str, str]) -> dict[str, str]:
    """What the user who typed the command sees at once (AutoKitteh's ephemeral echo)."""
    return {"response_type": "ephemeral", "text": f"Your command: `{form.get('command', '')} {form.get('text', '')}`"}


def from_envelope(envelope: dict[str, Any]) -> Shaped | None:
    """A Socket Mode envelope (``events_api``, ``slash_commands``, ``interactive``); the
    delivery id is the one the HTTP path uses (``event_id``, ``trigger_id``), else the
    envelope id."""
    kind, payload = envelope.get("type"), envelope.get("payload")
    if not isinstance(payload, dict):
        return None
    shaped: Shaped | None
    if kind == "events_api":
        shaped = from_callback(payload)
    elif kind == "slash_commands":
        shaped = from_command(payload)
    elif kind == "interactive":
        shaped = from_interaction(payload)
    else:
        return None
    if shaped is not None and shaped.delivery_id is None:
        shaped = Shaped(shaped.event_type, shaped.data, str(envelope.get("envelope_id") or "") or None)
    return shaped

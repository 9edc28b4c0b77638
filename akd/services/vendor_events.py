"""Vendor deliveries as AutoKitteh shapes them (pure functions: a verified, parsed delivery
in, an event type, its data and the vendor's delivery id out).

- Jira: ``event_type`` = the payload's ``webhookEvent`` without AutoKitteh's stripped
  ``jira:`` prefix (``jira:issue_created`` -> ``issue_created``; ``comment_created`` stays),
  ``data`` = the payload; deduped by ``X-Atlassian-Webhook-Identifier``.
- Confluence: ``<entity>_<category>`` as AutoKitteh names them (``page_created``: the
  payload's entity key and the category in the URL path), or the payload's own event name
  when it carries one; ``data`` = the payload.
- Linear: ``event_type`` = the ``Linear-Event`` header lowercased (``issue``, ``comment``,
  ...), ``data`` = the payload; deduped by ``Linear-Delivery``.
- Twilio: ``message``, ``data`` = the form fields with snake_case names (``message_sid``,
  ``account_sid``, ``from``, ``body``, ``num_media``, ``media_url_0``, ...); deduped by
  ``I-Twilio-Idempotency-Token``, else the ``MessageSid`` and its status.
- Zoom: ``event_type`` = the payload's ``event`` (``meeting.started``), ``data`` = the
  whole payload (``event``, ``event_ts``, ``payload``).
- Stripe (no AutoKitteh integration): ``event_type`` = the event's ``type``
  (``payment_intent.succeeded``), ``data`` = the event object; deduped by its ``id``.
- Standard Webhooks: ``event_type`` = the payload's ``type`` (the spec's envelope), else
  ``webhook``; ``data`` = the payload; deduped by ``webhook-id``.
- Discord interactions (AutoKitteh reads Discord's gateway instead): ``interaction_create``
  (the gateway's name for the same thing), ``data`` = the interaction; deduped by its ``id``.

Where a vendor sends no delivery id, the SHA-256 of the signed body stands in: a retry
sends the same bytes.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from akd.errors import InvalidArgument

# AutoKitteh's Confluence entities, in the order it looks for them in a payload.
CONFLUENCE_ENTITIES = ("attachment", "blog", "blueprint_page", "comment", "content", "group", "label", "page",
                       "relation", "space")  # fmt: skip
CONFLUENCE_CATEGORIES = ("added", "archived", "copied", "created", "deleted", "moved", "removed", "trashed", "updated")
_SNAKE = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])|(?<=[A-Za-z])(?=[0-9])")


@dataclass(frozen=True)
class Delivery:
    """A verified delivery: its lowercased headers, the raw body, the parsed payload, and
    the URL path's extra segment where a vendor puts one (Confluence's category)."""

    headers: Mapping[str, str]
    body: bytes
    payload: dict[str, Any]
    category: str = ""
    form: bool = False  # the payload came from a urlencoded form (Twilio), not JSON


@dataclass(frozen=True)
class Shaped:
    event_type: str
    data: dict[str, Any]
    delivery_id: str | None


def body_digest(delivery: Delivery) -> str:
    return "sha256:" + hashlib.sha256(delivery.body).hexdigest()


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _required(payload: dict[str, Any], field: str, vendor: str) -> str:
    value = _text(payload.get(field)).strip()
    if not value:
        raise InvalidArgument(f"a {vendor} delivery must have a string {field!r} field")
    return value


def snake(name: str) -> str:
    """``MessageSid`` -> ``message_sid``, ``MediaUrl0`` -> ``media_url_0`` (AutoKitteh's strcase)."""
    return _SNAKE.sub("_", name).lower()


def jira(d: Delivery) -> Shaped:
    event_type = _required(d.payload, "webhookEvent", "Jira").removeprefix("jira:")
    return Shaped(event_type, d.payload, d.headers.get("x-atlassian-webhook-identifier") or body_digest(d))


def confluence(d: Delivery) -> Shaped:
    named = next((_text(d.payload.get(k)) for k in ("webhookEvent", "eventType", "event") if _text(d.payload.get(k))),
                 "")  # fmt: skip
    entity = next((e for e in CONFLUENCE_ENTITIES if e in d.payload), "")
    if not entity:
        entity = "attachment" if "attachments" in d.payload else "relation" if "relationData" in d.payload else ""
    if not named and not (entity and d.category):
        raise InvalidArgument(
            "cannot tell this Confluence event's type: no event name in the payload and no category in the URL "
            "(use <webhook_url>/<category>, e.g. .../created)"
        )
    event_type = named or f"{entity}_{d.category}"
    return Shaped(event_type, d.payload, d.headers.get("x-atlassian-webhook-identifier") or body_digest(d))


def linear(d: Delivery) -> Shaped:
    event_type = (d.headers.get("linear-event") or _text(d.payload.get("type"))).strip().lower()
    if not event_type:
        raise InvalidArgument("a Linear delivery must have a Linear-Event header or a 'type' field")
    return Shaped(event_type, d.payload, d.headers.get("linear-delivery") or body_digest(d))


def twilio(d: Delivery) -> Shaped:
    data = {snake(k): v for k, v in d.payload.items()} if d.form else d.payload
    token = d.headers.get("i-twilio-idempotency-token", "")
    sid = _text(d.payload.get("MessageSid") or d.payload.get("SmsSid"))
    status = _text(d.payload.get("MessageStatus") or d.payload.get("SmsStatus"))
    return Shaped("message", data, token or (f"{sid}:{status}" if sid else body_digest(d)))


def zoom(d: Delivery) -> Shaped:
    return Shaped(_required(d.payload, "event", "Zoom"), d.payload, body_digest(d))


def stripe(d: Delivery) -> Shaped:
    return Shaped(_required(d.payload, "type", "Stripe"), d.payload, _required(d.payload, "id", "Stripe"))


def standardwebhooks(d: Delivery) -> Shaped:
    msg_id = d.headers.get("webhook-id") or d.headers.get("svix-id") or body_digest(d)
    return Shaped(_text(d.payload.get("type")) or "webhook", d.payload, msg_id)


def discord(d: Delivery) -> Shaped:
    return Shaped("interaction_create", d.payload, _required(d.payload, "id", "Discord interaction"))


# Discord's answer to each interaction type (1 PING is a handshake): a deferred response,
# so the session can follow up through the interaction's webhook at its own pace.
DISCORD_REPLIES: dict[int, dict[str, Any]] = {
    2: {"type": 5},  # application command: "thinking...", a message follows
    3: {"type": 6},  # message component: the message will be updated
    4: {"type": 8, "data": {"choices": []}},  # autocomplete: no suggestions
    5: {"type": 5},  # modal submit
}

"""Vendor deliveries to connections: stored before they are acknowledged, deduplicated by
the vendor's delivery id, dispatched once to the connection's triggers and subscribers.

Verification happens before this (each vendor's route checks the signature over the raw
bytes); what arrives here is a delivery akd will keep. The raw delivery (headers, body,
how it was verified) is stored with the event, so ``akctl event get`` can show it.
"""

from __future__ import annotations

import pickle
import secrets
from dataclasses import dataclass
from typing import Any

from akd.ids import new_id
from akd.services.dispatch import Dispatcher
from akd.store import connections as connections_store
from akd.store import events as events_store
from akd.store.connections import ConnectionRecord
from akd.store.db import Database


@dataclass(frozen=True)
class RawDelivery:
    headers: dict[str, str]
    body: bytes
    verified_by: str  # e.g. "github X-Hub-Signature-256", "slack v0 signature"


@dataclass(frozen=True)
class Accepted:
    event_id: str
    duplicate: bool  # the vendor sent this delivery before: nothing new was stored or started


async def accept(
    db: Database,
    dispatcher: Dispatcher | None,
    rec: ConnectionRecord,
    *,
    event_type: str,
    data: dict[str, Any],
    delivery_id: str | None,
    raw: RawDelivery,
    source: str,
) -> Accepted:
    """Store a verified delivery as an event of ``rec`` (once per delivery id) and dispatch it."""
    event_id = new_id("evt")
    stored = await events_store.insert_delivery(
        db, event_id, project_id=rec.project_id, connection_id=rec.connection_id, connection_name=rec.name,
        event_type=event_type, source=source, data=pickle.dumps(data), delivery_id=delivery_id or None,
        raw=pickle.dumps({"headers": raw.headers, "body": raw.body, "verified_by": raw.verified_by}),
    )  # fmt: skip
    if not stored and delivery_id:
        earlier = await events_store.event_of_delivery(db, rec.connection_id, delivery_id)
        return Accepted(earlier or event_id, duplicate=True)
    if dispatcher is not None:
        dispatcher.submit(event_id)
    return Accepted(event_id, duplicate=False)


async def webhook_key(db: Database, rec: ConnectionRecord) -> str:
    """The unguessable key in the connection's inbound URL (made on first use, then stable)."""
    return await connections_store.webhook_key(db, rec.connection_id, lambda: secrets.token_hex(16))

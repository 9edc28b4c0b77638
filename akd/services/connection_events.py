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

from akd.services.dispatch import Dispatcher
from akd.store import connections as connections_store
from akd.store.connections import ConnectionRecord
from akd.store.db import Database
from akd.store.events import NewEvent


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
    dispatcher: Dispatcher,
    rec: ConnectionRecord,
    *,
    event_type: str,
    data: dict[str, Any],
    delivery_id: str | None,
    raw: RawDelivery,
    source: str,
) -> Accepted:
    """Store a verified delivery as an event of ``rec`` (once per delivery id) and dispatch it."""
    ev = NewEvent(
        project_id=rec.project_id, connection_id=rec.connection_id, trigger_name=rec.name, event_type=event_type,
        source=source, data=pickle.dumps(data), delivery_id=delivery_id or None,
        raw=pickle.dumps({"headers": raw.headers, "body": raw.body, "verified_by": raw.verified_by}),
    )  # fmt: skip
    got = await dispatcher.ingest(ev)
    return Accepted(got.event_id, duplicate=got.duplicate)


async def webhook_key(db: Database, rec: ConnectionRecord) -> str:
    """The unguessable key in the connection's inbound URL (made on first use, then stable)."""
    return await connections_store.webhook_key(db, rec.connection_id, lambda: secrets.token_hex(16))

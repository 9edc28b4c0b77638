"""Deliveries as data: a connection's stored vendor deliveries, shown (credentials masked,
signatures kept), explained (why one was skipped) and replayed.

A replay is a new event of the same connection with the original's type, data and raw
delivery, linked to it by ``replay_of`` in its raw record, and dispatched at once: the
original was verified when it arrived, so a replay is not verified again, and it has no
vendor delivery id of its own (the vendor never sent it), so dedupe cannot swallow it.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from typing import Any

from akd.errors import FailedPrecondition, InvalidArgument, NotFound
from akd.services.dispatch import Dispatcher
from akd.store import connections as connections_store
from akd.store import events as events_store
from akd.store.db import Database
from akd.store.events import DeliveryRecord, NewEvent

# Headers that carry a credential of the sender (not a signature over the body): their
# values are masked, keeping the scheme word ("Bearer ****"). Signatures stay visible:
# they prove nothing without the secret and are what one compares when debugging.
CREDENTIAL_HEADERS = frozenset({
    "authorization", "proxy-authorization", "cookie", "x-api-key", "api-key", "x-auth-token", "x-access-token",
})  # fmt: skip
MASK = "****"


@dataclass(frozen=True)
class RawView:
    headers: dict[str, str]  # credentials masked
    body: bytes
    verified_by: str
    replay_of: str  # the original event of a replay, else ""


@dataclass(frozen=True)
class Replayed:
    event_id: str
    replay_of: str
    session_ids: list[str]


def mask(name: str, value: str) -> str:
    if name.lower() not in CREDENTIAL_HEADERS:
        return value
    scheme, sep, _ = value.partition(" ")
    return f"{scheme} {MASK}" if sep and scheme.isalpha() else MASK


def _raw(rec: DeliveryRecord) -> dict[str, Any]:
    if rec.raw is None:
        return {}
    loaded: dict[str, Any] = pickle.loads(rec.raw)
    return loaded


def raw_view(rec: DeliveryRecord) -> RawView:
    raw = _raw(rec)
    headers = {str(k): mask(str(k), str(v)) for k, v in (raw.get("headers") or {}).items()}
    return RawView(headers, bytes(raw.get("body") or b""), str(raw.get("verified_by") or ""),
                   str(raw.get("replay_of") or ""))  # fmt: skip


def replay_of(rec: DeliveryRecord) -> str:
    return str(_raw(rec).get("replay_of") or "") if rec.source == "replay" else ""


async def skip_reason(db: Database, rec: DeliveryRecord) -> str:
    """Why a skipped delivery started nothing: the reason stored when it was dispatched, or
    for deliveries skipped before reasons were stored, an estimate from the deployments' history."""
    if rec.state != "skipped":
        return ""
    if rec.skip_reason:
        return rec.skip_reason
    at = rec.dispatched_at if rec.dispatched_at is not None else rec.created_at
    if not await events_store.had_active_deployment(db, rec.project_id, at):
        return "the project had no active deployment"
    return "no trigger on this connection matched (event type, filter) and no session subscribed"


async def delivery(db: Database, event_id: str) -> DeliveryRecord:
    """The stored delivery ``event_id``; a clear refusal for events that are not deliveries."""
    found = await events_store.get_delivery(db, event_id)
    if found is not None:
        return found
    event = await events_store.get_event(db, event_id)
    if event is None:
        raise NotFound(f"event {event_id} not found; see `akctl event list`")
    raise InvalidArgument(
        f"event {event_id} is not a vendor delivery to a connection (its source is {event.source!r}); "
        f"only deliveries can be replayed: use `akctl event redispatch {event_id}` for trigger events"
    )


async def replay(db: Database, dispatcher: Dispatcher, event_id: str) -> Replayed:
    """A new event from the stored delivery ``event_id``, dispatched now."""
    old = await delivery(db, event_id)
    rec = await connections_store.by_id(db, old.connection_id)
    if rec is None:
        raise FailedPrecondition(f"the connection of event {event_id} no longer exists")
    raw = _raw(old)
    new_raw = {"headers": raw.get("headers") or {}, "body": raw.get("body") or b"",
               "verified_by": raw.get("verified_by") or "", "replay_of": old.event_id,
               "delivery_id": old.delivery_id}  # fmt: skip
    ev = NewEvent(
        project_id=rec.project_id, connection_id=rec.connection_id, trigger_name=rec.name, event_type=old.event_type,
        source="replay", data=old.data or pickle.dumps({}), raw=pickle.dumps(new_raw),
    )  # fmt: skip
    got = await dispatcher.ingest(ev, wait=True)
    return Replayed(got.event_id, old.event_id, got.session_ids or [])


async def list_for(db: Database, connection_id: str, limit: int) -> list[DeliveryRecord]:
    return await events_store.list_deliveries(db, connection_id, limit=limit)

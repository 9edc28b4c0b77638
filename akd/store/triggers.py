"""A project's triggers as its deploys write them (reads for dispatch stay in ``projects``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from akd.store.db import Connection, Database, Row

# The columns a manifest's trigger spec sets, in the order the writes below bind them.
FIELDS = ("type", "call", "event_type", "filter", "is_sync", "is_durable", "schedule", "timezone", "connection")


@dataclass(frozen=True, slots=True)
class TriggerRecord:
    """One row of ``triggers`` as the layers above read it."""

    trigger_id: str
    project_id: str
    name: str
    type: str  # "webhook" | "schedule" | "connection"
    call: str
    event_type: str
    filter: str
    is_sync: bool
    is_durable: bool
    schedule: str
    timezone: str
    connection: str
    slug: str | None  # webhooks only
    created_at: float
    updated_at: float
    project: str = ""  # the project's name, when read with it

    def value_of(self, name: str) -> Any:
        """The value of one of ``FIELDS``."""
        if name not in FIELDS:
            raise KeyError(name)
        return getattr(self, name)


@dataclass(frozen=True, slots=True)
class LiveTrigger:
    """A trigger with its project's active deployment (both None while it has none)."""

    trigger: TriggerRecord
    deployment_id: str | None
    build_id: str | None


@dataclass(frozen=True, slots=True)
class ScheduleTrigger:
    """A schedule trigger; ``live`` while its project has an active deployment."""

    trigger: TriggerRecord
    live: bool


# The stored columns in the record's field order (``project`` last, when read): a record
# is built by position, as webhook ingestion reads one per request.
_STORED = tuple(f.name for f in fields(TriggerRecord))[:-1]
COLUMNS = ", ".join(f"t.{name}" for name in _STORED)
_SYNC, _DURABLE = _STORED.index("is_sync"), _STORED.index("is_durable")


def record(values: list[Any]) -> TriggerRecord:
    """A record of a row's values read as ``SELECT {COLUMNS}`` (and the project's name, if any)."""
    values[_SYNC], values[_DURABLE] = bool(values[_SYNC]), bool(values[_DURABLE])
    return TriggerRecord(*values)


def _record(row: Row) -> TriggerRecord:
    return record(list(row))


def _bound(values: Mapping[str, Any]) -> tuple[Any, ...]:
    return tuple(values[name] for name in FIELDS)


async def project_triggers(db: Database, project_id: str) -> list[TriggerRecord]:
    """The project's triggers by name."""
    rows = await db.fetchall(f"SELECT {COLUMNS} FROM triggers t WHERE project_id=? ORDER BY name", (project_id,))
    return [_record(r) for r in rows]


async def triggers_in_tx(conn: Connection, project_id: str) -> list[TriggerRecord]:
    """``project_triggers`` inside a write transaction that is about to change them."""
    async with conn.execute(f"SELECT {COLUMNS} FROM triggers t WHERE project_id=? ORDER BY name", (project_id,)) as cur:
        return [_record(r) for r in await cur.fetchall()]


async def insert_trigger(
    conn: Connection, trigger_id: str, project_id: str, name: str, values: Mapping[str, Any], slug: str | None,
    now: float,
) -> None:  # fmt: skip
    """A new trigger; ``values`` holds a value for each of ``FIELDS``."""
    await conn.execute(
        "INSERT INTO triggers (trigger_id, project_id, name, type, call, event_type, filter, is_sync,"
        " is_durable, schedule, timezone, connection, slug, created_at, updated_at)"
        " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (trigger_id, project_id, name, *_bound(values), slug, now, now),
    )


async def update_trigger(
    conn: Connection, trigger_id: str, values: Mapping[str, Any], slug: str | None, now: float
) -> None:
    """Set a kept trigger's ``FIELDS`` and slug; its id, name and creation time stay."""
    await conn.execute(
        "UPDATE triggers SET type=?, call=?, event_type=?, filter=?, is_sync=?, is_durable=?, schedule=?,"
        " timezone=?, connection=?, slug=?, updated_at=? WHERE trigger_id=?",
        (*_bound(values), slug, now, trigger_id),
    )


async def delete_trigger(conn: Connection, trigger_id: str) -> None:
    await conn.execute("DELETE FROM triggers WHERE trigger_id=?", (trigger_id,))

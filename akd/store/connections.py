"""Connections of projects and their vars (SQL only; values stay as stored: encrypted
secrets are decrypted by the services, never here)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from akd.store.db import Connection as Tx
from akd.store.db import Database, Row


class Status(StrEnum):
    INIT_REQUIRED = "init_required"
    OK = "ok"
    WARNING = "warning"
    ERROR = "error"


@dataclass(frozen=True)
class ConnectionRecord:
    connection_id: str
    project_id: str
    project: str
    name: str
    integration: str
    status: Status
    status_message: str
    created_at: float
    updated_at: float


@dataclass(frozen=True)
class StoredVar:
    name: str
    value: bytes  # UTF-8 text, or a Fernet token when ``encrypted``
    secret: bool
    encrypted: bool
    origin: str  # "manifest" | "user"
    updated_at: float


@dataclass(frozen=True)
class DeclaredConnection:
    """What a manifest says of a connection (its vars already encrypted as needed)."""

    name: str
    integration: str
    vars: tuple[StoredVar, ...]


_SELECT = (
    "SELECT c.connection_id, c.project_id, p.name AS project, c.name, c.integration, c.status,"
    " c.status_message, c.created_at, c.updated_at FROM connections c JOIN projects p USING (project_id)"
)


def _record(row: Row | tuple[Any, ...]) -> ConnectionRecord:
    return ConnectionRecord(
        row[0], row[1], row[2], row[3], row[4], Status(row[5]), row[6], float(row[7]), float(row[8])
    )


def _var(row: Row | tuple[object, ...]) -> StoredVar:
    name, value, secret, encrypted, origin, updated_at = row[:6]
    return StoredVar(str(name), bytes(value), bool(secret), bool(encrypted), str(origin), float(updated_at))  # type: ignore[arg-type]


async def list_for_project(db: Database, project_id: str) -> list[ConnectionRecord]:
    rows = await db.fetchall(f"{_SELECT} WHERE c.project_id=? ORDER BY c.name", (project_id,))
    return [_record(r) for r in rows]


async def list_all(db: Database) -> list[ConnectionRecord]:
    return [_record(r) for r in await db.fetchall(f"{_SELECT} ORDER BY p.name, c.name")]


async def by_name(db: Database, project_id: str, name: str) -> ConnectionRecord | None:
    row = await db.fetchone(f"{_SELECT} WHERE c.project_id=? AND c.name=?", (project_id, name))
    return None if row is None else _record(row)


async def by_id(db: Database, connection_id: str) -> ConnectionRecord | None:
    row = await db.fetchone(f"{_SELECT} WHERE c.connection_id=?", (connection_id,))
    return None if row is None else _record(row)


async def vars_of(db: Database, connection_id: str) -> list[StoredVar]:
    rows = await db.fetchall(
        "SELECT name, value, secret, encrypted, origin, updated_at FROM connection_vars"
        " WHERE connection_id=? ORDER BY name",
        (connection_id,),
    )
    return [_var(r) for r in rows]


async def vars_of_project(db: Database, project_id: str) -> dict[str, list[StoredVar]]:
    """Every connection's vars, by connection name (connections without vars included)."""
    rows = await db.fetchall(
        "SELECT c.name, v.name, v.value, v.secret, v.encrypted, v.origin, v.updated_at, c.connection_id"
        " FROM connections c LEFT JOIN connection_vars v USING (connection_id) WHERE c.project_id=?"
        " ORDER BY c.name, v.name",
        (project_id,),
    )
    out: dict[str, list[StoredVar]] = {}
    for row in rows:
        found = out.setdefault(row[0], [])
        if row[1] is not None:
            found.append(_var(row[1:7]))
    return out


async def ids_of_project(db: Database, project_id: str) -> dict[str, str]:
    rows = await db.fetchall("SELECT name, connection_id FROM connections WHERE project_id=?", (project_id,))
    return {r[0]: r[1] for r in rows}


async def sync(
    tx: Tx, project_id: str, declared: Iterable[DeclaredConnection], make_id: Callable[[], str]
) -> list[str]:
    """Make the project's connections the ``declared`` ones: create, update, delete by name.

    A kept connection keeps its id, status and the vars set by hand (origin ``user``);
    its manifest vars follow the manifest. Returns the names of the created connections.
    """
    now = time.time()
    async with tx.execute("SELECT name, connection_id FROM connections WHERE project_id=?", (project_id,)) as cur:
        existing = {row[0]: row[1] for row in await cur.fetchall()}
    created: list[str] = []
    for spec in declared:
        connection_id = existing.pop(spec.name, None)
        if connection_id is None:
            connection_id = make_id()
            created.append(spec.name)
            await tx.execute(
                "INSERT INTO connections (connection_id, project_id, name, integration, created_at, updated_at)"
                " VALUES (?,?,?,?,?,?)",
                (connection_id, project_id, spec.name, spec.integration, now, now),
            )
        else:
            await tx.execute(
                "UPDATE connections SET integration=?, updated_at=? WHERE connection_id=? AND integration<>?",
                (spec.integration, now, connection_id, spec.integration),
            )
        await _sync_manifest_vars(tx, connection_id, spec.vars, now)
    for connection_id in existing.values():
        await tx.execute("DELETE FROM connections WHERE connection_id=?", (connection_id,))
    return created


async def _sync_manifest_vars(tx: Tx, connection_id: str, declared: tuple[StoredVar, ...], now: float) -> None:
    for var in declared:
        await tx.execute(
            "INSERT INTO connection_vars (connection_id, name, value, secret, encrypted, origin, updated_at)"
            " VALUES (?,?,?,?,?,'manifest',?) ON CONFLICT (connection_id, name) DO UPDATE SET"
            " value=excluded.value, secret=excluded.secret, encrypted=excluded.encrypted,"
            " updated_at=excluded.updated_at WHERE connection_vars.origin='manifest'",
            (connection_id, var.name, var.value, int(var.secret), int(var.encrypted), now),
        )
    names = [v.name for v in declared]
    placeholders = ",".join("?" * len(names)) or "''"
    await tx.execute(
        f"DELETE FROM connection_vars WHERE connection_id=? AND origin='manifest' AND name NOT IN ({placeholders})",
        (connection_id, *names),
    )


async def set_var(db: Database, connection_id: str, var: StoredVar) -> None:
    """Set a var by hand (origin ``user``: deploys leave it alone)."""
    async with db.tx() as tx:
        await tx.execute(
            "INSERT OR REPLACE INTO connection_vars (connection_id, name, value, secret, encrypted, origin,"
            " updated_at) VALUES (?,?,?,?,?,?,?)",
            (connection_id, var.name, var.value, int(var.secret), int(var.encrypted), var.origin, var.updated_at),
        )


async def set_vars(db: Database, connection_id: str, values: Iterable[StoredVar], status: Status, message: str) -> None:
    """Several vars and the status they give, in one transaction (connection init, OAuth)."""
    now = time.time()
    async with db.tx() as tx:
        for var in values:
            await tx.execute(
                "INSERT OR REPLACE INTO connection_vars (connection_id, name, value, secret, encrypted, origin,"
                " updated_at) VALUES (?,?,?,?,?,?,?)",
                (connection_id, var.name, var.value, int(var.secret), int(var.encrypted), var.origin, now),
            )
        await tx.execute(
            "UPDATE connections SET status=?, status_message=?, updated_at=? WHERE connection_id=?",
            (status.value, message, now, connection_id),
        )


async def delete_var(db: Database, connection_id: str, name: str) -> bool:
    return bool(await db.execute("DELETE FROM connection_vars WHERE connection_id=? AND name=?", (connection_id, name)))


async def set_status(db: Database, connection_id: str, status: Status, message: str) -> None:
    await db.execute(
        "UPDATE connections SET status=?, status_message=?, updated_at=? WHERE connection_id=?",
        (status.value, message, time.time(), connection_id),
    )


async def webhook_key(db: Database, connection_id: str, make_key: Callable[[], str]) -> str:
    """The connection's inbound URL key, made (once) on first use."""
    row = await db.fetchone("SELECT webhook_key FROM connections WHERE connection_id=?", (connection_id,))
    if row is not None and row[0]:
        return str(row[0])
    await db.execute(
        "UPDATE connections SET webhook_key=? WHERE connection_id=? AND webhook_key IS NULL",
        (make_key(), connection_id),
    )
    row = await db.fetchone("SELECT webhook_key FROM connections WHERE connection_id=?", (connection_id,))
    return str(row[0]) if row is not None and row[0] else ""


async def by_webhook_key(db: Database, key: str) -> ConnectionRecord | None:
    row = await db.fetchone(f"{_SELECT} WHERE c.webhook_key=?", (key,))
    return None if row is None else _record(row)


async def by_var(db: Database, integration: str, name: str) -> list[tuple[ConnectionRecord, StoredVar]]:
    """Connections of ``integration`` that have var ``name`` (routing a global vendor path)."""
    rows = await db.fetchall(
        f"{_SELECT.replace('SELECT ', 'SELECT v.name, v.value, v.secret, v.encrypted, v.origin, v.updated_at, ', 1)}"
        " JOIN connection_vars v USING (connection_id) WHERE c.integration=? AND v.name=?",
        (integration, name),
    )
    return [(_record(tuple(r)[6:]), _var(tuple(r)[:6])) for r in rows]


async def delete(db: Database, connection_id: str) -> bool:
    return bool(await db.execute("DELETE FROM connections WHERE connection_id=?", (connection_id,)))

"""A project's vars: set by its manifest at deploy, or by hand (``akctl var set``).

A value is stored as UTF-8 bytes, or as a ``SecretBox`` token when ``encrypted``
(``akd.secrets``); writes store what they are given. Reads hand out ``Var``: a secret's
value is masked unless the caller asks for it revealed (a runner's environment, a
webhook's signing secret), and only then decrypted.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from akd.secrets import MASK, SecretBox
from akd.store.db import Connection, Database, Row


@dataclass(frozen=True)
class VarRecord:
    project_id: str
    name: str
    value: bytes  # UTF-8 text, or a SecretBox token when ``encrypted``
    secret: bool
    description: str
    origin: str  # "manifest" | "user"
    updated_at: float
    encrypted: bool


@dataclass(frozen=True)
class VarValue:
    """What a write sets on one var (``origin`` and ``updated_at`` come from the write)."""

    name: str
    value: bytes
    encrypted: bool
    secret: bool
    description: str


def _record(row: Row) -> VarRecord:
    return VarRecord(
        row["project_id"], row["name"], bytes(row["value"]), bool(row["secret"]), row["description"],
        row["origin"], row["updated_at"], bool(row["encrypted"]),
    )  # fmt: skip


async def project_vars(db: Database, project_id: str) -> list[VarRecord]:
    """The project's vars by name."""
    rows = await db.fetchall("SELECT * FROM vars WHERE project_id=? ORDER BY name", (project_id,))
    return [_record(r) for r in rows]


async def find_var(db: Database, project_id: str, name: str) -> VarRecord | None:
    row = await db.fetchone("SELECT * FROM vars WHERE project_id=? AND name=?", (project_id, name))
    return None if row is None else _record(row)


async def var_in_tx(conn: Connection, project_id: str, name: str) -> VarRecord | None:
    """``find_var`` inside a write transaction, so a check and the write that follows agree."""
    async with conn.execute("SELECT * FROM vars WHERE project_id=? AND name=?", (project_id, name)) as cur:
        row = await cur.fetchone()
    return None if row is None else _record(row)


async def put_user_var(conn: Connection, project_id: str, var: VarValue) -> None:
    """Create or replace a var as set by hand (origin ``user``: deploys leave it alone)."""
    await conn.execute(
        "INSERT OR REPLACE INTO vars (project_id, name, value, secret, description, origin, updated_at,"
        " encrypted) VALUES (?,?,?,?,?,'user',?,?)",
        (project_id, var.name, var.value, int(var.secret), var.description, time.time(), int(var.encrypted)),
    )


async def put_manifest_var(conn: Connection, project_id: str, var: VarValue, now: float) -> None:
    """Create or update a manifest var; a var of the same name set by hand is left as it is."""
    await conn.execute(
        "INSERT INTO vars (project_id, name, value, secret, description, origin, updated_at, encrypted)"
        " VALUES (?,?,?,?,?,'manifest',?,?) ON CONFLICT (project_id, name) DO UPDATE SET"
        " value=excluded.value, secret=excluded.secret, description=excluded.description,"
        " updated_at=excluded.updated_at, encrypted=excluded.encrypted WHERE vars.origin='manifest'",
        (project_id, var.name, var.value, int(var.secret), var.description, now, int(var.encrypted)),
    )


async def drop_manifest_vars_except(conn: Connection, project_id: str, keep: Sequence[str]) -> None:
    """Delete the project's manifest vars not named in ``keep`` (vars set by hand stay)."""
    placeholders = ",".join("?" * len(keep)) or "''"
    await conn.execute(
        f"DELETE FROM vars WHERE project_id=? AND origin='manifest' AND name NOT IN ({placeholders})",
        (project_id, *keep),
    )


async def delete_var(db: Database, project_id: str, name: str) -> bool:
    """Whether there was such a var to delete."""
    return bool(await db.execute("DELETE FROM vars WHERE project_id=? AND name=?", (project_id, name)))


# -- what callers see ------------------------------------------------------------------


@dataclass(frozen=True)
class Var:
    name: str
    value: str  # MASK for a secret unless revealed
    secret: bool
    description: str
    origin: str  # "manifest" | "user"
    updated_at: float


def shown(rec: VarRecord, box: SecretBox, reveal: bool) -> Var:
    if rec.encrypted:
        value = box.decrypt(rec.value) if reveal else MASK
    else:
        value = rec.value.decode("utf-8", "replace")
        value = MASK if rec.secret and not reveal else value
    return Var(rec.name, value, rec.secret, rec.description, rec.origin, rec.updated_at)


async def list_vars(db: Database, data_dir: Path, project_id: str, *, reveal: bool = False) -> list[Var]:
    box = SecretBox(data_dir)
    return [shown(r, box, reveal) for r in await project_vars(db, project_id)]


async def load_env_vars(db: Database, data_dir: Path, project_id: str) -> dict[str, str]:
    """The project's vars, decrypted, as a runner's environment variables."""
    return {v.name: v.value for v in await list_vars(db, data_dir, project_id, reveal=True)}

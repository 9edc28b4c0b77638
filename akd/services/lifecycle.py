"""Project lifecycle after deploy: projects, builds, deployments and vars.

Deployment states (DESIGN.md section 2): one ``active`` deployment per project;
activating another drains the previous one (``draining`` until its last session
ends, then ``inactive``; ``akd.store.sessions.finish`` does that step); only
``inactive`` deployments can be deleted. Every check and change of one operation
happens in one write transaction, so two commands cannot interleave.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from akd.errors import AkdError, FailedPrecondition, InvalidArgument, NotFound
from akd.ids import has_prefix
from akd.manifest import parse_manifest
from akd.secrets import MASK, SecretBox
from akd.services.deploy import activate, stored_value, sync_triggers
from akd.store.db import Connection, Database, Row

if TYPE_CHECKING:  # appctx imports the engine, whose activities import this module
    from akd.appctx import AppContext

SESSION_STATES = ("created", "running", "completed", "error", "stopped")
_VAR_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_LIVE = "('queued','created','running')"  # queued: waiting for a concurrency slot (akd.services.flow)


@dataclass(frozen=True)
class Var:
    name: str
    value: str  # MASK for a secret unless revealed
    secret: bool
    description: str
    origin: str  # "manifest" | "user"
    updated_at: float


# -- projects --------------------------------------------------------------------------


async def project(db: Database, ident: str) -> Row:
    """A project by name or id; NotFound otherwise."""
    row = await db.fetchone("SELECT * FROM projects WHERE name=? OR project_id=?", (ident, ident))
    if row is None:
        raise NotFound(f"project {ident!r} not found; see `akctl project list`")
    return row


async def delete_project(ctx: AppContext, ident: str) -> Row:
    """Delete a project and everything it owns (refused while a session is running).

    Gone with it: deployments, builds, triggers (and their schedules), vars, its
    sessions with their logs and journals, its events and its key-value store.
    Build snapshots and requirement environments on disk are shared by content
    and stay.
    """
    prj = await project(ctx.db, ident)
    pid = prj["project_id"]
    async with ctx.db.tx() as conn:
        await _refuse_live_sessions(conn, "project_id", pid, f"project {prj['name']!r}")
        owned = "(SELECT session_id FROM sessions WHERE project_id=?)"
        for table in ("session_log", "journal", "inbox", "subscriptions"):
            await conn.execute(f"DELETE FROM {table} WHERE session_id IN {owned}", (pid,))
        for table in ("subscriptions", "sessions", "events", "kv", "deployments", "triggers", "vars", "builds"):
            await conn.execute(f"DELETE FROM {table} WHERE project_id=?", (pid,))
        await conn.execute("DELETE FROM projects WHERE project_id=?", (pid,))
    await _after_change(ctx)
    return prj


async def _refuse_live_sessions(conn: Connection, column: str, value: str, what: str) -> None:
    async with conn.execute(f"SELECT COUNT(*) FROM sessions WHERE {column}=? AND state IN {_LIVE}", (value,)) as cur:
        row = await cur.fetchone()
    live = int(row[0]) if row else 0
    if live:
        raise FailedPrecondition(
            f"{what} has {live} live session(s) (queued or running); wait for them to end or stop them"
            " (`akctl session list --state running` and `--state queued`, `akctl session stop ID`)"
        )


async def _after_change(ctx: AppContext) -> None:
    """Schedules follow the active deployments' triggers; waiters see the change."""
    if ctx.engine is not None:
        await ctx.engine.reconcile_schedules()
    ctx.notifier.changed()


# -- builds ----------------------------------------------------------------------------


async def list_builds(db: Database, project_ident: str = "") -> list[Row]:
    where, params = "", []
    if project_ident:
        where, params = "WHERE b.project_id=?", [(await project(db, project_ident))["project_id"]]
    return await db.fetchall(
        "SELECT b.*, p.name AS project FROM builds b JOIN projects p USING (project_id)"
        f" {where} ORDER BY b.created_at DESC, b.build_id DESC",
        params,
    )


async def get_build(db: Database, build_id: str) -> Row:
    row = await db.fetchone(
        "SELECT b.*, p.name AS project FROM builds b JOIN projects p USING (project_id) WHERE build_id=?",
        (build_id,),
    )
    if row is None:
        raise NotFound(f"build {build_id!r} not found; see `akctl build list`")
    return row


async def deployments_of_build(db: Database, build_id: str) -> list[str]:
    rows = await db.fetchall("SELECT deployment_id FROM deployments WHERE build_id=? ORDER BY created_at", (build_id,))
    return [r["deployment_id"] for r in rows]


def build_files(data_dir: Path, digest: str) -> list[str]:
    root = data_dir / "builds" / digest
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


# -- deployments -----------------------------------------------------------------------

_DEPLOYMENTS = (
    "SELECT d.*, p.name AS project, "
    + ", ".join(f"COALESCE(SUM(s.state='{state}'), 0) AS n_{state}" for state in SESSION_STATES)
    + " FROM deployments d JOIN projects p USING (project_id)"
    " LEFT JOIN sessions s ON s.deployment_id=d.deployment_id"
)


async def list_deployments(db: Database, project_ident: str = "", state: str = "") -> list[Row]:
    """Deployments, newest first, each with its session count per state (``n_<state>``)."""
    where, params = [], []
    if project_ident:
        where.append("d.project_id=?")
        params.append((await project(db, project_ident))["project_id"])
    if state:
        where.append("d.state=?")
        params.append(state)
    clause = f" WHERE {' AND '.join(where)}" if where else ""
    return await db.fetchall(
        f"{_DEPLOYMENTS}{clause} GROUP BY d.deployment_id ORDER BY d.created_at DESC, d.deployment_id DESC", params
    )


async def get_deployment(db: Database, ident: str) -> Row:
    """A deployment by id; a project name means its active deployment."""
    if has_prefix(ident, "dep"):
        row = await db.fetchone(f"{_DEPLOYMENTS} WHERE d.deployment_id=? GROUP BY d.deployment_id", (ident,))
    else:
        prj = await db.fetchone("SELECT * FROM projects WHERE name=?", (ident,))
        if prj is None:
            raise NotFound(f"no deployment or project {ident!r}; see `akctl deployment list`")
        row = await db.fetchone(
            f"{_DEPLOYMENTS} WHERE d.project_id=? AND d.state='active' GROUP BY d.deployment_id",
            (prj["project_id"],),
        )
    if row is None:
        raise NotFound(f"deployment {ident!r} not found; see `akctl deployment list`")
    return row


async def activate_deployment(ctx: AppContext, ident: str) -> Row:
    """Make a deployment active again: its build's triggers go live, the current one drains."""
    dep = await get_deployment(ctx.db, ident)
    build = await ctx.db.fetchone("SELECT * FROM builds WHERE build_id=?", (dep["build_id"],))
    if build is None or not (ctx.config.data_dir / "builds" / build["digest"]).is_dir():
        raise FailedPrecondition(f"the build of deployment {dep['deployment_id']} is missing; deploy again")
    try:
        manifest = parse_manifest(build["manifest"], f"manifest of {build['build_id']}")
    except AkdError as exc:
        raise FailedPrecondition(f"cannot activate {dep['deployment_id']}: {exc.message}") from None
    async with ctx.db.tx() as conn:
        if dep["state"] != "active":
            await sync_triggers(conn, dep["project_id"], manifest.triggers)
            await activate(conn, dep["project_id"], dep["deployment_id"])
    await _after_change(ctx)
    return await get_deployment(ctx.db, dep["deployment_id"])


async def deactivate_deployment(ctx: AppContext, ident: str) -> Row:
    """active -> draining (sessions still running) or inactive; others are left as they are."""
    dep = await get_deployment(ctx.db, ident)
    async with ctx.db.tx() as conn:
        await conn.execute(
            "UPDATE deployments SET state = CASE WHEN EXISTS (SELECT 1 FROM sessions s WHERE"
            f" s.deployment_id=deployments.deployment_id AND s.state IN {_LIVE}) THEN 'draining' ELSE 'inactive'"
            " END, updated_at=? WHERE deployment_id=? AND state='active'",
            (time.time(), dep["deployment_id"]),
        )
    await _after_change(ctx)
    return await get_deployment(ctx.db, dep["deployment_id"])


async def delete_deployment(ctx: AppContext, ident: str) -> Row:
    """Delete an inactive deployment; its sessions stay in history."""
    dep = await get_deployment(ctx.db, ident)
    async with ctx.db.tx() as conn:
        async with conn.execute("SELECT state FROM deployments WHERE deployment_id=?", (dep["deployment_id"],)) as cur:
            row = await cur.fetchone()
        state = row[0] if row else "deleted"
        if state != "inactive":
            hint = "deactivate it first" if state == "active" else "wait for its sessions to end"
            raise FailedPrecondition(
                f"deployment {dep['deployment_id']} is {state}; only inactive deployments can be deleted ({hint})"
            )
        await conn.execute("DELETE FROM deployments WHERE deployment_id=?", (dep["deployment_id"],))
    return dep


# -- vars ------------------------------------------------------------------------------


def _var(row: Row, box: SecretBox, reveal: bool) -> Var:
    if row["encrypted"]:
        value = box.decrypt(row["value"]) if reveal else MASK
    else:
        value = bytes(row["value"]).decode("utf-8", "replace")
        value = MASK if row["secret"] and not reveal else value
    return Var(row["name"], value, bool(row["secret"]), row["description"], row["origin"], row["updated_at"])


async def list_vars(db: Database, data_dir: Path, project_id: str, *, reveal: bool = False) -> list[Var]:
    box = SecretBox(data_dir)
    rows = await db.fetchall("SELECT * FROM vars WHERE project_id=? ORDER BY name", (project_id,))
    return [_var(r, box, reveal) for r in rows]


async def get_var(db: Database, data_dir: Path, project_id: str, name: str, *, reveal: bool = False) -> Var:
    row = await db.fetchone("SELECT * FROM vars WHERE project_id=? AND name=?", (project_id, name))
    if row is None:
        raise NotFound(f"var {name!r} not found; see `akctl var list`")
    return _var(row, SecretBox(data_dir), reveal)


async def set_var(
    db: Database, data_dir: Path, project_id: str, name: str, value: str, *, secret: bool, description: str | None
) -> Var:
    """Set a var by hand (origin ``user``: later deploys leave it alone).

    A var that is already secret stays secret; delete it to make it plain again.
    """
    if not _VAR_NAME_RE.fullmatch(name):
        raise InvalidArgument(f"var name must look like MY_VAR (letters, digits, underscores), got {name!r}")
    box = SecretBox(data_dir)
    async with db.tx() as conn:
        async with conn.execute(
            "SELECT secret, description FROM vars WHERE project_id=? AND name=?", (project_id, name)
        ) as cur:
            old = await cur.fetchone()
        secret = secret or bool(old and old[0])
        description = description if description is not None else (old[1] if old else "")
        stored, encrypted = stored_value(box, value, secret)
        await conn.execute(
            "INSERT OR REPLACE INTO vars (project_id, name, value, secret, description, origin, updated_at,"
            " encrypted) VALUES (?,?,?,?,?,'user',?,?)",
            (project_id, name, stored, int(secret), description, time.time(), encrypted),
        )
    return await get_var(db, data_dir, project_id, name)


async def delete_var(db: Database, project_id: str, name: str) -> None:
    """A manifest var deleted by hand comes back with the next deploy."""
    if not await db.execute("DELETE FROM vars WHERE project_id=? AND name=?", (project_id, name)):
        raise NotFound(f"var {name!r} not found; see `akctl var list`")


async def load_env_vars(db: Database, data_dir: Path, project_id: str) -> dict[str, str]:
    """The project's vars, decrypted, as a runner's environment variables."""
    return {v.name: v.value for v in await list_vars(db, data_dir, project_id, reveal=True)}

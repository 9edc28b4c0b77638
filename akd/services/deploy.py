"""Deploy: plan + apply + build + create deployment + activate, in one transaction."""

from __future__ import annotations

import secrets
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiosqlite

from akd.build import Snapshot, snapshot_project, write_snapshot
from akd.ids import new_id
from akd.manifest import parse_manifest
from akd.models import Manifest, TriggerSpec
from akd.store.db import Database


@dataclass
class DeployResult:
    project_id: str
    build_id: str
    deployment_id: str
    webhooks: dict[str, str] = field(default_factory=dict)


def build_snapshot(data_dir: Path, manifest: Manifest, files: dict[str, bytes]) -> Snapshot:
    """Check the uploaded files and store them as a content-addressed build directory."""
    tmp_root = data_dir / "tmp"
    tmp_root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=tmp_root))
    try:
        for rel, content in files.items():
            path = (tmp / rel).resolve()
            if not path.is_relative_to(tmp.resolve()):
                raise ValueError(f"file path {rel!r} leaves the project directory")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
        snapshot = snapshot_project(tmp, manifest)
        write_snapshot(snapshot, data_dir / "builds" / snapshot.digest)
        return snapshot
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


async def deploy(
    db: Database, data_dir: Path, base_url: str, manifest_text: str, files: dict[str, bytes], root_dir: str = ""
) -> DeployResult:
    manifest = parse_manifest(manifest_text)
    snapshot = build_snapshot(data_dir, manifest, files)
    async with db.tx() as conn:
        project_id = await _upsert_project(conn, manifest, root_dir)
        slugs = await _sync_triggers(conn, project_id, manifest.triggers)
        await _sync_vars(conn, project_id, manifest)
        build_id = await _insert_build(conn, project_id, snapshot, manifest_text)
        deployment_id = await _activate_new(conn, project_id, build_id)
    webhooks = {name: f"{base_url}/webhooks/{slug}" for name, slug in slugs.items()}
    return DeployResult(project_id, build_id, deployment_id, webhooks)


async def _upsert_project(conn: aiosqlite.Connection, manifest: Manifest, root_dir: str) -> str:
    from akd.store.projects import upsert_project

    return await upsert_project(conn, new_id("prj"), manifest.name, manifest.display_name, root_dir)


async def _sync_triggers(
    conn: aiosqlite.Connection, project_id: str, triggers: tuple[TriggerSpec, ...]
) -> dict[str, str]:
    """Create, update and delete triggers by name; kept triggers keep their id and slug."""
    now = time.time()
    async with conn.execute("SELECT trigger_id, name, slug FROM triggers WHERE project_id=?", (project_id,)) as cur:
        existing = {row[1]: (row[0], row[2]) for row in await cur.fetchall()}
    slugs: dict[str, str] = {}
    for spec in triggers:
        values = (
            spec.type,
            str(spec.call) if spec.call else "",
            spec.event_type,
            spec.filter,
            int(spec.is_sync),
            int(spec.is_durable),
            spec.schedule,
            spec.timezone,
            spec.connection,
        )
        if spec.name in existing:
            trigger_id, slug = existing.pop(spec.name)
            if spec.type == "webhook" and not slug:
                slug = secrets.token_hex(12)
            elif spec.type != "webhook":
                slug = None
            await conn.execute(
                "UPDATE triggers SET type=?, call=?, event_type=?, filter=?, is_sync=?, is_durable=?, schedule=?,"
                " timezone=?, connection=?, slug=?, updated_at=? WHERE trigger_id=?",
                (*values, slug, now, trigger_id),
            )
        else:
            slug = secrets.token_hex(12) if spec.type == "webhook" else None
            await conn.execute(
                "INSERT INTO triggers (trigger_id, project_id, name, type, call, event_type, filter, is_sync,"
                " is_durable, schedule, timezone, connection, slug, created_at, updated_at)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (new_id("trg"), project_id, spec.name, *values, slug, now, now),
            )
        if slug:
            slugs[spec.name] = slug
    for trigger_id, _ in existing.values():
        await conn.execute("DELETE FROM triggers WHERE trigger_id=?", (trigger_id,))
    return slugs


async def _sync_vars(conn: aiosqlite.Connection, project_id: str, manifest: Manifest) -> None:
    """Manifest vars are (re)set; vars set by hand with ``akctl var set`` are kept."""
    now = time.time()
    names = [v.name for v in manifest.vars]
    for var in manifest.vars:
        await conn.execute(
            "INSERT INTO vars (project_id, name, value, secret, description, origin, updated_at)"
            " VALUES (?,?,?,?,?,'manifest',?) ON CONFLICT (project_id, name) DO UPDATE SET"
            " value=excluded.value, secret=excluded.secret, description=excluded.description,"
            " updated_at=excluded.updated_at WHERE vars.origin='manifest'",
            (project_id, var.name, var.value.encode(), int(var.secret), var.description, now),
        )
    placeholders = ",".join("?" * len(names)) or "''"
    await conn.execute(
        f"DELETE FROM vars WHERE project_id=? AND origin='manifest' AND name NOT IN ({placeholders})",
        (project_id, *names),
    )


async def _insert_build(conn: aiosqlite.Connection, project_id: str, snapshot: Snapshot, manifest_text: str) -> str:
    build_id = new_id("bld")
    await conn.execute(
        "INSERT INTO builds (build_id, project_id, digest, size, manifest, created_at) VALUES (?,?,?,?,?,?)",
        (build_id, project_id, snapshot.digest, snapshot.size, manifest_text, time.time()),
    )
    return build_id


async def _activate_new(conn: aiosqlite.Connection, project_id: str, build_id: str) -> str:
    """The new deployment becomes active; the previous one drains (or ends if idle)."""
    now = time.time()
    await conn.execute(
        "UPDATE deployments SET state = CASE WHEN EXISTS (SELECT 1 FROM sessions s WHERE"
        " s.deployment_id=deployments.deployment_id AND s.state IN ('created','running'))"
        " THEN 'draining' ELSE 'inactive' END, updated_at=? WHERE project_id=? AND state='active'",
        (now, project_id),
    )
    deployment_id = new_id("dep")
    await conn.execute(
        "INSERT INTO deployments VALUES (?,?,?,'active',?,?)", (deployment_id, project_id, build_id, now, now)
    )
    return deployment_id

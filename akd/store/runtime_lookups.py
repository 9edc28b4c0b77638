"""Catalog lookups a running session's SDK requests make (builds, deployments), inside
the request's own transaction."""

from __future__ import annotations

from dataclasses import dataclass

from akd.store.db import Connection


@dataclass(frozen=True)
class LiveDeployment:
    """A project's active deployment: where a session started in that project runs."""

    deployment_id: str
    build_id: str
    project_id: str


async def build_manifest(conn: Connection, build_id: str) -> str | None:
    """The manifest text a build keeps (None when there is no such build)."""
    async with conn.execute("SELECT manifest FROM builds WHERE build_id=?", (build_id,)) as cur:
        row = await cur.fetchone()
    return None if row is None else str(row[0])


async def active_deployment_named(conn: Connection, project_name: str) -> LiveDeployment | None:
    """The active deployment of the project called ``project_name`` (None when it has none)."""
    async with conn.execute(
        "SELECT d.deployment_id, d.build_id, d.project_id FROM deployments d JOIN projects p USING (project_id)"
        " WHERE p.name=? AND d.state='active'",
        (project_name,),
    ) as cur:
        row = await cur.fetchone()
    return None if row is None else LiveDeployment(str(row[0]), str(row[1]), str(row[2]))

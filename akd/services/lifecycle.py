"""Project lifecycle after deploy: projects, builds, deployments and vars.

Deployment states (DESIGN.md section 2): one ``active`` deployment per project;
activating another drains the previous one (``draining`` until its last session
ends, then ``inactive``; ``akd.store.sessions.finish`` does that step); only
``inactive`` deployments can be deleted. Every check and change of one operation
happens in one write transaction, so two commands cannot interleave.
"""

from __future__ import annotations

import re
from pathlib import Path

from akd.engine.builds import LocalBuilds
from akd.errors import AkdError, BuildError, FailedPrecondition, InvalidArgument, NotFound
from akd.ids import has_prefix
from akd.manifest import parse_manifest
from akd.secrets import SecretBox
from akd.services.context import AppContext
from akd.services.deploy import stored_value, sync_triggers
from akd.store import builds as builds_store
from akd.store import deployments as deployments_store
from akd.store import projects as projects_store
from akd.store import vars as vars_store
from akd.store.builds import BuildRecord
from akd.store.db import Connection, Database
from akd.store.deployments import DeploymentRecord
from akd.store.projects import ProjectRecord
from akd.store.states import ORDER, SessionState
from akd.store.vars import Var

# The per-state session counts deployments show (``DeploymentRecord.session_counts`` the API and
# the web pages read); queued sessions are counted by the store but not shown there.
SESSION_STATES: tuple[SessionState, ...] = tuple(s for s in ORDER if s is not SessionState.QUEUED)
_VAR_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


# -- projects --------------------------------------------------------------------------


async def project(db: Database, ident: str) -> ProjectRecord:
    """A project by name or id; NotFound otherwise."""
    row = await projects_store.project_by_name_or_id(db, ident)
    if row is None:
        raise NotFound(f"project {ident!r} not found; see `akctl project list`")
    return row


async def delete_project(ctx: AppContext, ident: str) -> ProjectRecord:
    """Delete a project and everything it owns (refused while a session is running).

    Gone with it: deployments, builds, triggers (and their schedules), vars, its
    sessions with their logs and journals, its events and its key-value store.
    Build snapshots and requirement environments on disk are shared by content
    and stay.
    """
    prj = await project(ctx.db, ident)
    pid = prj.project_id
    async with ctx.db.tx() as conn:
        await _refuse_live_sessions(conn, pid, f"project {prj.name!r}")
        await projects_store.delete_project_rows(conn, pid)
    await _after_change(ctx)
    return prj


async def _refuse_live_sessions(conn: Connection, project_id: str, what: str) -> None:
    if live := await projects_store.live_session_count(conn, project_id):
        raise FailedPrecondition(
            f"{what} has {live} live session(s) (queued or running); wait for them to end or stop them"
            " (`akctl session list --state running` and `--state queued`, `akctl session stop ID`)"
        )


async def _after_change(ctx: AppContext) -> None:
    """Schedules follow the active deployments' triggers; waiters see the change."""
    await ctx.engine.reconcile_schedules()
    ctx.notifier.changed()


# -- builds ----------------------------------------------------------------------------


async def list_builds(db: Database, project_ident: str = "") -> list[BuildRecord]:
    project_id = (await project(db, project_ident)).project_id if project_ident else ""
    return await builds_store.builds_listed(db, project_id)


async def get_build(db: Database, build_id: str) -> BuildRecord:
    row = await builds_store.build_found(db, build_id)
    if row is None:
        raise NotFound(f"build {build_id!r} not found; see `akctl build list`")
    return row


async def deployments_of_build(db: Database, build_id: str) -> list[str]:
    return await deployments_store.deployment_ids_of_build(db, build_id)


def build_files(data_dir: Path, digest: str) -> list[str]:
    root = data_dir / "builds" / digest
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


# -- deployments -----------------------------------------------------------------------


async def list_deployments(db: Database, project_ident: str = "", state: str = "") -> list[DeploymentRecord]:
    """Deployments, newest first, each with its session count per state (``session_counts``)."""
    project_id = (await project(db, project_ident)).project_id if project_ident else ""
    return await deployments_store.deployments_listed(db, project_id, state)


async def get_deployment(db: Database, ident: str) -> DeploymentRecord:
    """A deployment by id; a project name means its active deployment."""
    if has_prefix(ident, "dep"):
        row = await deployments_store.deployment_counted(db, ident)
    else:
        prj = await projects_store.project_by_name(db, ident)
        if prj is None:
            raise NotFound(f"no deployment or project {ident!r}; see `akctl deployment list`")
        row = await deployments_store.active_counted(db, prj.project_id)
    if row is None:
        raise NotFound(f"deployment {ident!r} not found; see `akctl deployment list`")
    return row


async def activate_deployment(ctx: AppContext, ident: str) -> DeploymentRecord:
    """Make a deployment active again: its build's triggers go live, the current one drains."""
    dep = await get_deployment(ctx.db, ident)
    build = await projects_store.get_build(ctx.db, dep.build_id)
    if build is None:
        raise FailedPrecondition(f"the build of deployment {dep.deployment_id} is missing; deploy again")
    try:
        await LocalBuilds(ctx.db, ctx.config.data_dir).ensure(build)
    except BuildError as exc:
        raise FailedPrecondition(f"cannot activate {dep.deployment_id}: {exc.message}") from None
    try:
        manifest = parse_manifest(build.manifest, f"manifest of {build.build_id}")
    except AkdError as exc:
        raise FailedPrecondition(f"cannot activate {dep.deployment_id}: {exc.message}") from None
    async with ctx.db.tx() as conn:
        if dep.state != "active":
            await sync_triggers(conn, dep.project_id, manifest.triggers)
            await deployments_store.activate(conn, dep.project_id, dep.deployment_id)
    await _after_change(ctx)
    return await get_deployment(ctx.db, dep.deployment_id)


async def deactivate_deployment(ctx: AppContext, ident: str) -> DeploymentRecord:
    """active -> draining (sessions still running) or inactive; others are left as they are."""
    dep = await get_deployment(ctx.db, ident)
    async with ctx.db.tx() as conn:
        await deployments_store.deactivate(conn, dep.deployment_id)
    await _after_change(ctx)
    return await get_deployment(ctx.db, dep.deployment_id)


async def delete_deployment(ctx: AppContext, ident: str) -> DeploymentRecord:
    """Delete an inactive deployment; its sessions stay in history."""
    dep = await get_deployment(ctx.db, ident)
    async with ctx.db.tx() as conn:
        state = await deployments_store.state_in_tx(conn, dep.deployment_id) or "deleted"
        if state != "inactive":
            hint = "deactivate it first" if state == "active" else "wait for its sessions to end"
            raise FailedPrecondition(
                f"deployment {dep.deployment_id} is {state}; only inactive deployments can be deleted ({hint})"
            )
        await deployments_store.delete_deployment(conn, dep.deployment_id)
    return dep


# -- vars ------------------------------------------------------------------------------


async def get_var(db: Database, data_dir: Path, project_id: str, name: str, *, reveal: bool = False) -> Var:
    rec = await vars_store.find_var(db, project_id, name)
    if rec is None:
        raise NotFound(f"var {name!r} not found; see `akctl var list`")
    return vars_store.shown(rec, SecretBox(data_dir), reveal)


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
        old = await vars_store.var_in_tx(conn, project_id, name)
        secret = secret or bool(old and old.secret)
        description = description if description is not None else (old.description if old else "")
        stored, encrypted = stored_value(box, value, secret)
        var = vars_store.VarValue(name, stored, bool(encrypted), secret, description)
        await vars_store.put_user_var(conn, project_id, var)
    return await get_var(db, data_dir, project_id, name)


async def delete_var(db: Database, project_id: str, name: str) -> None:
    """A manifest var deleted by hand comes back with the next deploy."""
    if not await vars_store.delete_var(db, project_id, name):
        raise NotFound(f"var {name!r} not found; see `akctl var list`")

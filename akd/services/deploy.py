"""Deploy: plan + apply + build + create deployment + activate, in one transaction.

Everything that can fail slowly or for the user's reasons (manifest, file checks,
``pip install`` of requirements.txt and of the vendor layer, ``akd.vendor_layers``)
happens before the transaction, so a failed deploy leaves nothing
behind: no project, no triggers, no vars, no build row, and the previous deployment
stays active. Secret var values are stored encrypted (``akd.secrets``) and masked in
the manifest copy a build keeps.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from akd import integrations
from akd.build import Snapshot, normalized_requirements, requirements_hash, snapshot_project, write_snapshot
from akd.errors import AkdError, BuildError, FailedPrecondition, InvalidArgument
from akd.ids import new_id
from akd.manifest import parse_manifest
from akd.models import Manifest, TriggerSpec, VarSpec
from akd.secrets import MASK, SecretBox
from akd.services import connections
from akd.store.connections import ConnectionRecord
from akd.store.db import Connection, Database
from akd.vendor_layers import Layer, layer_for, layer_home
from akd.venvs import ensure_venv

log = logging.getLogger(__name__)

TRIGGER_FIELDS = (
    "type", "call", "event_type", "filter", "is_sync", "is_durable", "schedule", "timezone", "connection",
)  # fmt: skip


@dataclass
class DeployResult:
    project_id: str
    build_id: str
    deployment_id: str
    webhooks: dict[str, str] = field(default_factory=dict)
    installed_requirements: bool = False
    connections: tuple[ConnectionRecord, ...] = ()
    installed_vendor_libs: bool = False  # pip ran for the vendor layer (akd.vendor_layers)


def build_snapshot(data_dir: Path, manifest: Manifest, files: dict[str, bytes]) -> Snapshot:
    """Check the uploaded files and store them as a content-addressed build directory."""
    tmp_root = data_dir / "tmp"
    tmp_root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=tmp_root))
    try:
        for rel, content in files.items():
            path = (tmp / rel).resolve()
            if not path.is_relative_to(tmp.resolve()):
                raise InvalidArgument(f"file path {rel!r} leaves the project directory")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
        snapshot = snapshot_project(tmp, manifest)
        write_snapshot(snapshot, data_dir / "builds" / snapshot.digest)
        return snapshot
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


async def deploy(
    db: Database,
    data_dir: Path,
    base_url: str,
    manifest_text: str,
    files: dict[str, bytes],
    root_dir: str = "",
    force: bool = False,
) -> DeployResult:
    manifest = parse_manifest(manifest_text)
    if not force:
        await refuse_move(db, manifest.name, root_dir)
    stored_manifest = redact_secrets(manifest_text, manifest)
    if stored_manifest != manifest_text:  # the build's own copy of the manifest is masked too
        files = {rel: stored_manifest.encode() if _same_text(c, manifest_text) else c for rel, c in files.items()}
    snapshot = build_snapshot(data_dir, manifest, files)
    req_hash = requirements_hash(snapshot)
    layer = layer_for(manifest)
    installed, installed_vendor = await _install(data_dir, snapshot, req_hash, layer)
    box = SecretBox(data_dir)
    async with db.tx() as conn:
        project_id = await _upsert_project(conn, manifest, root_dir)
        slugs = await sync_triggers(conn, project_id, manifest.triggers)
        await _sync_vars(conn, box, project_id, manifest)
        await connections.sync(conn, project_id, manifest, box)
        build_id = await _insert_build(conn, project_id, snapshot, stored_manifest, req_hash)
        deployment_id = new_id("dep")
        await conn.execute(
            "INSERT INTO deployments (deployment_id, project_id, build_id, state, created_at, updated_at)"
            " VALUES (?,?,?,'inactive',?,?)",
            (deployment_id, project_id, build_id, time.time(), time.time()),
        )
        await activate(conn, project_id, deployment_id)
    webhooks = {name: f"{base_url}/webhooks/{slug}" for name, slug in slugs.items()}
    linked = await connections.recheck_project(db, data_dir, project_id)
    return DeployResult(project_id, build_id, deployment_id, webhooks, installed, tuple(linked), installed_vendor)


async def _install(data_dir: Path, snapshot: Snapshot, req_hash: str | None, layer: Layer) -> tuple[bool, bool]:
    """The project's requirements and its vendor layer, side by side; whether pip ran for each.

    Either failing fails the deploy before anything is written (the other install is
    stopped); a layer or environment that got ready meanwhile is kept for next time.
    """
    try:
        async with asyncio.TaskGroup() as group:
            own = group.create_task(_install_requirements(data_dir, snapshot, req_hash))
            vendor = group.create_task(_install_layer(data_dir, layer))
    except ExceptionGroup as failed:
        raise failed.exceptions[0] from None
    return own.result(), vendor.result()


async def _install_requirements(data_dir: Path, snapshot: Snapshot, req_hash: str | None) -> bool:
    if not req_hash:
        return False
    lines = normalized_requirements(snapshot)
    return await ensure_venv(data_dir, req_hash, lines, data_dir / "builds" / snapshot.digest)


async def _install_layer(data_dir: Path, layer: Layer) -> bool:
    started = time.monotonic()
    try:
        installed = await ensure_venv(layer_home(), layer.key, list(layer.lines), data_dir, file="")
    except BuildError as exc:
        raise BuildError(
            f"installing {layer.describe()} failed, so nothing was deployed and the previous deployment"
            " stays active. akd installs them from the package index once per set (check that this machine"
            f" reaches it: pip config list). Lines: {' '.join(layer.lines)}\n{exc.message}"
        ) from None
    if installed:
        elapsed = time.monotonic() - started
        log.info("installed vendor layer %s: %s in %.1f s", layer.key[:12], layer.describe(), elapsed)
    return installed


def moved_from(stored_dir: str, root_dir: str) -> str:
    """The directory a project was deployed from when this deploy comes from another one."""
    return stored_dir if stored_dir and root_dir and stored_dir != root_dir else ""


async def refuse_move(db: Database, name: str, root_dir: str) -> None:
    """Two projects that share a name must not silently become one: a deploy from another
    directory than the project's last one needs ``force`` (``akctl deploy --force``)."""
    from akd.store.projects import project_by_name

    project = await project_by_name(db, name)
    previous = moved_from(project["root_dir"], root_dir) if project else ""
    if previous:
        raise FailedPrecondition(
            f"project {name} was deployed from {previous}, not from {root_dir}: deploying would replace its"
            " code, triggers and vars with this directory's. Rename the project in autokitteh.yaml, or"
            " deploy again with --force to move it here"
        )


async def _upsert_project(conn: Connection, manifest: Manifest, root_dir: str) -> str:
    from akd.store.projects import upsert_project

    return await upsert_project(conn, new_id("prj"), manifest.name, manifest.display_name, root_dir)


def trigger_values(spec: TriggerSpec) -> dict[str, Any]:
    """A trigger spec as the columns of the triggers table (``TRIGGER_FIELDS``)."""
    return {
        "type": spec.type,
        "call": str(spec.call) if spec.call else "",
        "event_type": spec.event_type,
        "filter": spec.filter,
        "is_sync": int(spec.is_sync),
        "is_durable": int(spec.is_durable),
        "schedule": spec.schedule,
        "timezone": spec.timezone,
        "connection": spec.connection,
    }


async def sync_triggers(conn: Connection, project_id: str, triggers: tuple[TriggerSpec, ...]) -> dict[str, str]:
    """Create, update and delete triggers by name; kept triggers keep their id and slug."""
    now = time.time()
    async with conn.execute("SELECT trigger_id, name, slug FROM triggers WHERE project_id=?", (project_id,)) as cur:
        existing = {row[1]: (row[0], row[2]) for row in await cur.fetchall()}
    slugs: dict[str, str] = {}
    for spec in triggers:
        values = tuple(trigger_values(spec).values())
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


def stored_value(box: SecretBox, value: str, secret: bool) -> tuple[bytes, int]:
    """``(value column, encrypted column)``: secrets are encrypted, other values kept as UTF-8."""
    return (box.encrypt(value), 1) if secret else (value.encode("utf-8"), 0)


async def _sync_vars(conn: Connection, box: SecretBox, project_id: str, manifest: Manifest) -> None:
    """Manifest vars are (re)set; vars set by hand with ``akctl var set`` are kept."""
    now = time.time()
    names = [v.name for v in manifest.vars]
    for var in manifest.vars:
        value, encrypted = stored_value(box, var.value, var.secret)
        await conn.execute(
            "INSERT INTO vars (project_id, name, value, secret, description, origin, updated_at, encrypted)"
            " VALUES (?,?,?,?,?,'manifest',?,?) ON CONFLICT (project_id, name) DO UPDATE SET"
            " value=excluded.value, secret=excluded.secret, description=excluded.description,"
            " updated_at=excluded.updated_at, encrypted=excluded.encrypted WHERE vars.origin='manifest'",
            (project_id, var.name, value, int(var.secret), var.description, now, encrypted),
        )
    placeholders = ",".join("?" * len(names)) or "''"
    await conn.execute(
        f"DELETE FROM vars WHERE project_id=? AND origin='manifest' AND name NOT IN ({placeholders})",
        (project_id, *names),
    )


async def _insert_build(
    conn: Connection, project_id: str, snapshot: Snapshot, manifest_text: str, req_hash: str | None
) -> str:
    build_id = new_id("bld")
    await conn.execute(
        "INSERT INTO builds (build_id, project_id, digest, size, manifest, requirements, created_at)"
        " VALUES (?,?,?,?,?,?,?)",
        (build_id, project_id, snapshot.digest, snapshot.size, manifest_text, req_hash, time.time()),
    )
    return build_id


async def activate(conn: Connection, project_id: str, deployment_id: str) -> None:
    """``deployment_id`` becomes active; the previous active one drains (or ends if idle)."""
    now = time.time()
    await conn.execute(
        "UPDATE deployments SET state = CASE WHEN EXISTS (SELECT 1 FROM sessions s WHERE"
        " s.deployment_id=deployments.deployment_id AND s.state IN ('queued','created','running'))"
        " THEN 'draining' ELSE 'inactive' END, updated_at=?"
        " WHERE project_id=? AND state='active' AND deployment_id!=?",
        (now, project_id, deployment_id),
    )
    await conn.execute(
        "UPDATE deployments SET state='active', updated_at=? WHERE deployment_id=?", (now, deployment_id)
    )


# -- plan: what a deploy would change, computed without changing anything ---------------


async def plan(db: Database, data_dir: Path, manifest_text: str, root_dir: str = "") -> dict[str, Any]:
    """Compare a manifest with the stored project; secret values are never returned.

    With ``root_dir`` (where the manifest is), a project last deployed from elsewhere shows
    the move: change ``root_dir`` and ``moved_from`` (a deploy then needs ``force``).
    """
    manifest = parse_manifest(manifest_text)
    project = await db.fetchone("SELECT * FROM projects WHERE name=?", (manifest.name,))
    project_id = project["project_id"] if project else ""
    triggers = {r["name"]: r for r in await db.fetchall("SELECT * FROM triggers WHERE project_id=?", (project_id,))}
    stored_vars = {r["name"]: r for r in await db.fetchall("SELECT * FROM vars WHERE project_id=?", (project_id,))}
    project_changes = ["display_name"] if project and project["display_name"] != manifest.display_name else []
    previous = moved_from(project["root_dir"], root_dir) if project else ""
    if previous:
        project_changes.append("root_dir")
    result: dict[str, Any] = {
        "project": {
            "name": manifest.name,
            "action": "create" if project is None else ("update" if project_changes else "unchanged"),
            "changes": project_changes,
            "moved_from": previous or None,
        },
        "triggers": _plan_triggers(manifest, triggers),
        "vars": _plan_vars(manifest, stored_vars, SecretBox(data_dir)),
    }
    items = [result["project"], *result["triggers"], *result["vars"]]
    result["has_changes"] = any(i["action"] not in ("unchanged", "kept") for i in items)
    return result


def _plan_triggers(manifest: Manifest, stored: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for spec in manifest.triggers:
        row = stored.pop(spec.name, None)
        wanted = trigger_values(spec)
        changes = [] if row is None else [k for k in TRIGGER_FIELDS if row[k] != wanted[k]]
        action = "create" if row is None else ("update" if changes else "unchanged")
        out.append({"name": spec.name, "type": spec.type, "action": action, "changes": changes})
    for name, row in sorted(stored.items()):
        out.append({"name": name, "type": row["type"], "action": "delete", "changes": []})
    return out


def _plan_vars(manifest: Manifest, stored: dict[str, Any], box: SecretBox) -> list[dict[str, Any]]:
    out = []
    for var in manifest.vars:
        row = stored.pop(var.name, None)
        changes = [] if row is None else _var_changes(var, row, box)
        if row is None:
            action = "create"
        elif row["origin"] == "user":
            action, changes = "kept", []  # set by hand: deploy leaves it alone
        else:
            action = "update" if changes else "unchanged"
        out.append({"name": var.name, "secret": var.secret, "action": action, "changes": changes})
    for name, row in sorted(stored.items()):
        if row["origin"] == "manifest":
            out.append({"name": name, "secret": bool(row["secret"]), "action": "delete", "changes": []})
    return out


def _var_changes(var: VarSpec, row: Any, box: SecretBox) -> list[str]:
    current = box.open(row["value"], bool(row["encrypted"]))
    changes = ["value"] if current != var.value else []
    if bool(row["secret"]) != var.secret:
        changes.append("secret")
    if row["description"] != var.description:
        changes.append("description")
    return changes


# -- the manifest copy a build keeps: secret values masked --------------------------------


def redact_secrets(text: str, manifest: Manifest) -> str:
    """``text`` with the value of every secret var replaced by ``"********"``.

    The rest of the file (comments, layout) is kept. Should the edited text not read
    back as the same manifest, a plain re-rendering with masked values is returned.
    """
    if not any(secret for _, secret in _all_vars(manifest)):
        return text
    root = yaml.compose(text, yaml.SafeLoader)
    spans = [(n.start_mark.index, n.end_mark.index) for n in (_secret_value_nodes(root) if root else [])]
    redacted = text
    for start, end in sorted(spans, reverse=True):
        tail = "\n" if redacted[start:end].endswith("\n") else ""
        redacted = redacted[:start] + f'"{MASK}"' + tail + redacted[end:]
    try:
        if _masked(parse_manifest(redacted)) == _masked(manifest):
            return redacted
    except AkdError:
        pass  # the plain rendering below is always readable
    return _render(manifest)


def _same_text(content: bytes, text: str) -> bool:
    """Whether a file holds ``text``, whatever its BOM and line endings."""
    if len(content) > 2 * len(text.encode()) + 16:
        return False
    decoded = content.decode("utf-8-sig", errors="replace").replace("\r\n", "\n")
    return decoded == text.lstrip("\ufeff").replace("\r\n", "\n")


def _all_vars(manifest: Manifest) -> list[tuple[VarSpec, bool]]:
    """Every var with whether it is secret: marked so, or a connection credential (a token
    in a connection's vars is a secret even when the manifest forgot ``secret: true``)."""
    return [(v, v.secret) for v in manifest.vars] + [
        (v, v.secret or integrations.is_secret_var(c.integration, v.name)) for c in manifest.connections for v in c.vars
    ]


def _masked(manifest: Manifest) -> list[tuple[str, str]]:
    return [(v.name, MASK if secret else v.value) for v, secret in _all_vars(manifest)]


def _get(node: Node, key: str) -> Node | None:
    if isinstance(node, MappingNode):
        for k, v in node.value:
            if isinstance(k, ScalarNode) and k.value == key:
                return v  # type: ignore[no-any-return]
    return None


def _items(node: Node | None) -> list[Node]:
    return list(node.value) if isinstance(node, SequenceNode) else []


def _secret_value_nodes(root: Node) -> list[Node]:
    project = _get(root, "project")
    owners: list[tuple[Node | None, str]] = [(_get(project, "vars"), "")] if project else []
    for conn in _items(_get(project, "connections") if project else None):
        kind = _get(conn, "integration")
        owners.append((_get(conn, "vars"), str(kind.value) if isinstance(kind, ScalarNode) else "?"))
    found = []
    for var_list, owner in owners:
        for item in _items(var_list):
            secret, value, name = _get(item, "secret"), _get(item, "value"), _get(item, "name")
            marked = secret is not None and str(secret.value).lower() in ("true", "yes", "on")
            credential = bool(owner) and integrations.is_secret_var(owner, str(getattr(name, "value", "")))
            if value is not None and (marked or credential):
                found.append(value)
    return found


def _render(manifest: Manifest) -> str:
    def var(v: VarSpec, secret: bool | None = None) -> dict[str, Any]:
        hidden = v.secret if secret is None else secret
        shown = {"name": v.name, "value": MASK if hidden else v.value, "secret": v.secret}
        return {**shown, "description": v.description} if v.description else shown

    def trigger(t: TriggerSpec) -> dict[str, Any]:
        keys = {k: v for k, v in trigger_values(t).items() if v and k not in ("is_sync", "is_durable")}
        return {"name": t.name, **keys, "is_sync": t.is_sync, "is_durable": t.is_durable}

    project: dict[str, Any] = {"name": manifest.name}
    if manifest.display_name:
        project["display_name"] = manifest.display_name
    project["vars"] = [var(v) for v in manifest.vars]
    project["connections"] = [
        {"name": c.name, "integration": c.integration,
         "vars": [var(v, v.secret or integrations.is_secret_var(c.integration, v.name)) for v in c.vars]}
        for c in manifest.connections
    ]
    project["triggers"] = [trigger(t) for t in manifest.triggers]
    return yaml.safe_dump({"version": manifest.version, "project": project}, sort_keys=False)

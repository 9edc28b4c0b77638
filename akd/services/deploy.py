"""Deploy: plan + apply + build + create deployment + activate, in one transaction.

Everything that can fail slowly or for the user's reasons (manifest, file checks,
``pip install`` of requirements.txt and of the vendor layer, ``akd.vendor_layers``)
happens before the transaction, so a failed deploy leaves nothing
behind: no project, no triggers, no vars, no build row, and the previous deployment
stays active. Secret var values are stored encrypted (``akd.secrets``) and masked in
the manifest copy a build keeps.
"""

from __future__ import annotations

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
from akd.build import Snapshot, pack, requirements_hash, snapshot_project, write_snapshot
from akd.engine.builds import install_environments
from akd.errors import AkdError, FailedPrecondition, InvalidArgument
from akd.ids import new_id
from akd.manifest import parse_manifest
from akd.models import Manifest, TriggerSpec, VarSpec
from akd.secrets import MASK, SecretBox
from akd.services import connections
from akd.store import builds as builds_store
from akd.store import deployments as deployments_store
from akd.store import projects as projects_store
from akd.store import triggers as triggers_store
from akd.store import vars as vars_store
from akd.store.builds import NewBuild, insert_build
from akd.store.connections import ConnectionRecord
from akd.store.db import Connection, Database
from akd.store.triggers import TriggerRecord
from akd.store.vars import VarRecord
from akd.vendor_layers import layer_for

log = logging.getLogger(__name__)

TRIGGER_FIELDS = triggers_store.FIELDS


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
    installed, installed_vendor = await install_environments(data_dir, snapshot, req_hash, layer)
    box = SecretBox(data_dir)
    async with db.tx() as conn:
        project_id = await _upsert_project(conn, manifest, root_dir)
        slugs = await sync_triggers(conn, project_id, manifest.triggers)
        await _sync_vars(conn, box, project_id, manifest)
        await connections.sync(conn, project_id, manifest, box)
        build_id = new_id("bld")
        build = NewBuild(build_id, project_id, snapshot.digest, snapshot.size, stored_manifest, req_hash)
        await insert_build(conn, build)
        await builds_store.save_files(conn, snapshot.digest, pack(snapshot.files))
        deployment_id = new_id("dep")
        await deployments_store.insert_deployment(conn, deployment_id, project_id, build_id)
        await deployments_store.activate(conn, project_id, deployment_id)
    webhooks = {name: f"{base_url}/webhooks/{slug}" for name, slug in slugs.items()}
    linked = await connections.recheck_project(db, data_dir, project_id)
    return DeployResult(project_id, build_id, deployment_id, webhooks, installed, tuple(linked), installed_vendor)


def moved_from(stored_dir: str, root_dir: str) -> str:
    """The directory a project was deployed from when this deploy comes from another one."""
    return stored_dir if stored_dir and root_dir and stored_dir != root_dir else ""


async def refuse_move(db: Database, name: str, root_dir: str) -> None:
    """Two projects that share a name must not silently become one: a deploy from another
    directory than the project's last one needs ``force`` (``akctl deploy --force``)."""
    project = await projects_store.project_by_name(db, name)
    previous = moved_from(project.root_dir, root_dir) if project else ""
    if previous:
        raise FailedPrecondition(
            f"project {name} was deployed from {previous}, not from {root_dir}: deploying would replace its"
            " code, triggers and vars with this directory's. Rename the project in autokitteh.yaml, or"
            " deploy again with --force to move it here"
        )


async def _upsert_project(conn: Connection, manifest: Manifest, root_dir: str) -> str:
    return await projects_store.upsert_project(conn, new_id("prj"), manifest.name, manifest.display_name, root_dir)


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
    existing = {t.name: (t.trigger_id, t.slug) for t in await triggers_store.triggers_in_tx(conn, project_id)}
    slugs: dict[str, str] = {}
    for spec in triggers:
        values = trigger_values(spec)
        if spec.name in existing:
            trigger_id, slug = existing.pop(spec.name)
            if spec.type == "webhook" and not slug:
                slug = secrets.token_hex(12)
            elif spec.type != "webhook":
                slug = None
            await triggers_store.update_trigger(conn, trigger_id, values, slug, now)
        else:
            slug = secrets.token_hex(12) if spec.type == "webhook" else None
            await triggers_store.insert_trigger(conn, new_id("trg"), project_id, spec.name, values, slug, now)
        if slug:
            slugs[spec.name] = slug
    for trigger_id, _ in existing.values():
        await triggers_store.delete_trigger(conn, trigger_id)
    return slugs


def stored_value(box: SecretBox, value: str, secret: bool) -> tuple[bytes, bool]:
    """``(value, encrypted)`` as stored: secrets are encrypted, other values kept as UTF-8."""
    return (box.encrypt(value), True) if secret else (value.encode("utf-8"), False)


async def _sync_vars(conn: Connection, box: SecretBox, project_id: str, manifest: Manifest) -> None:
    """Manifest vars are (re)set; vars set by hand with ``akctl var set`` are kept."""
    now = time.time()
    for var in manifest.vars:
        value, encrypted = stored_value(box, var.value, var.secret)
        stored = vars_store.VarValue(var.name, value, encrypted, var.secret, var.description)
        await vars_store.put_manifest_var(conn, project_id, stored, now)
    await vars_store.drop_manifest_vars_except(conn, project_id, [v.name for v in manifest.vars])


# -- plan: what a deploy would change, computed without changing anything ---------------


async def plan(db: Database, data_dir: Path, manifest_text: str, root_dir: str = "") -> dict[str, Any]:
    """Compare a manifest with the stored project; secret values are never returned.

    With ``root_dir`` (where the manifest is), a project last deployed from elsewhere shows
    the move: change ``root_dir`` and ``moved_from`` (a deploy then needs ``force``).
    """
    manifest = parse_manifest(manifest_text)
    project = await projects_store.project_by_name(db, manifest.name)
    project_id = project.project_id if project else ""
    triggers = {t.name: t for t in await triggers_store.project_triggers(db, project_id)}
    stored_vars = {v.name: v for v in await vars_store.project_vars(db, project_id)}
    project_changes = ["display_name"] if project and project.display_name != manifest.display_name else []
    previous = moved_from(project.root_dir, root_dir) if project else ""
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


def _plan_triggers(manifest: Manifest, stored: dict[str, TriggerRecord]) -> list[dict[str, Any]]:
    out = []
    for spec in manifest.triggers:
        rec = stored.pop(spec.name, None)
        wanted = trigger_values(spec)
        changes = [] if rec is None else [k for k in TRIGGER_FIELDS if rec.value_of(k) != wanted[k]]
        action = "create" if rec is None else ("update" if changes else "unchanged")
        out.append({"name": spec.name, "type": spec.type, "action": action, "changes": changes})
    for name, rec in sorted(stored.items()):
        out.append({"name": name, "type": rec.type, "action": "delete", "changes": []})
    return out


def _plan_vars(manifest: Manifest, stored: dict[str, VarRecord], box: SecretBox) -> list[dict[str, Any]]:
    out = []
    for var in manifest.vars:
        rec = stored.pop(var.name, None)
        changes = [] if rec is None else _var_changes(var, rec, box)
        if rec is None:
            action = "create"
        elif rec.origin == "user":
            action, changes = "kept", []  # set by hand: deploy leaves it alone
        else:
            action = "update" if changes else "unchanged"
        out.append({"name": var.name, "secret": var.secret, "action": action, "changes": changes})
    for name, rec in sorted(stored.items()):
        if rec.origin == "manifest":
            out.append({"name": name, "secret": rec.secret, "action": "delete", "changes": []})
    return out


def _var_changes(var: VarSpec, rec: VarRecord, box: SecretBox) -> list[str]:
    changes = ["value"] if box.open(rec.value, rec.encrypted) != var.value else []
    if rec.secret != var.secret:
        changes.append("secret")
    if rec.description != var.description:
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
        {
            "name": c.name,
            "integration": c.integration,
            "vars": [var(v, v.secret or integrations.is_secret_var(c.integration, v.name)) for v in c.vars],
        }
        for c in manifest.connections
    ]
    project["triggers"] = [trigger(t) for t in manifest.triggers]
    return yaml.safe_dump({"version": manifest.version, "project": project}, sort_keys=False)

"""``akctl deploy`` and ``akctl manifest validate|plan``: check a project locally, upload it."""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from akctl import render
from akctl.app import App, common
from akctl.errors import CliError
from akctl.render import escape
from akd.errors import AkdError

if TYPE_CHECKING:  # akd.build and akd.manifest load YAML: imported only when used
    from akd.models import Manifest

_PLAN_MARKS = {"create": "[green]+[/]", "update": "[yellow]~[/]", "delete": "[red]-[/]", "kept": "[dim]=[/]"}


@dataclass
class Prepared:
    """A project checked locally: its manifest and the body of ``POST /deploy``."""

    manifest: Manifest
    body: dict[str, Any]
    requirements_hash: str | None
    requirements: int


def load(manifest_path: Path) -> tuple[Manifest, str]:
    from akd.manifest import load_manifest

    """Parse the manifest file (exit 40 with file, line and key path when it is malformed)."""
    if not manifest_path.is_file():
        raise CliError(f"no manifest at {manifest_path}", 44, "create autokitteh.yaml or pass --manifest FILE")
    try:
        manifest = load_manifest(manifest_path)
        return manifest, manifest_path.read_text(encoding="utf-8-sig")
    except AkdError as exc:
        raise CliError(exc.message, 40) from None


def prepare(project_dir: Path, manifest_path: Path) -> Prepared:
    """Validate the manifest and files without a daemon."""
    from akd.build import normalized_requirements, requirements_hash, snapshot_project

    if not project_dir.is_dir():
        raise CliError(f"project directory {project_dir} does not exist", 44)
    manifest, text = load(manifest_path)
    try:
        snapshot = snapshot_project(project_dir, manifest)
    except AkdError as exc:
        raise CliError(exc.message, 40) from None
    files = {p: base64.b64encode(c).decode() for p, c in snapshot.files.items()}
    body = {"manifest": text, "files": files, "root_dir": str(project_dir.resolve())}
    return Prepared(manifest, body, requirements_hash(snapshot), len(normalized_requirements(snapshot)))


def collect(project_dir: Path, manifest_path: Path) -> dict[str, Any]:
    """The upload body of ``POST /deploy`` (kept for callers that only need that)."""
    return prepare(project_dir, manifest_path).body


def upload(app: App, prepared: Prepared, label: str) -> dict[str, Any]:
    """``POST /deploy`` behind a spinner that says what is being installed first.

    The project's requirements and the vendor layer of its integrations
    (``akd.vendor_layers``) are each installed once; the daemon says which are ready.
    """
    from akd.vendor_layers import layer_for

    layer = layer_for(prepared.manifest)
    installs = []
    if prepared.requirements_hash and not _ready(app, prepared.requirements_hash):
        installs.append(f"requirements ({prepared.requirements} packages)")
    if not _ready(app, layer.key):
        installs.append(layer.describe())
    message = f"Installing {', '.join(installs)} and deploying {label}..." if installs else f"Deploying {label}..."
    with render.err.status(escape(message)):
        result: dict[str, Any] = app.client.post("/deploy", prepared.body, timeout=900)
    return result


def _ready(app: App, digest: str) -> bool:
    return bool(app.client.get(f"/venvs/{digest}").get("ready"))


def deploy(app: App, project_dir: Path, manifest_path: Path | None, force: bool = False) -> dict[str, Any]:
    started = time.monotonic()
    prepared = prepare(project_dir, manifest_path or project_dir / "autokitteh.yaml")
    prepared.body["force"] = force
    result = upload(app, prepared, str(project_dir))
    result["elapsed"] = round(time.monotonic() - started, 3)
    return result


def show(result: dict[str, Any]) -> None:
    render.out.print(
        f"[green]✓[/] deployed [bold]{result['deployment_id']}[/] in {render.human_duration(result['elapsed'])}"
        f"  (project {result['project_id']}, build {result['build_id']})"
    )
    for name, url in sorted(result["webhooks"].items()):
        render.out.print(f"  webhook [bold]{name}[/]: {url}")
    for conn in result.get("connections", []):
        ref = f"{conn['project']}/{conn['name']}"
        if conn["status"] == "init_required":
            render.out.print(f"  connection [bold]{conn['name']}[/] ({conn['integration']}) [yellow]needs init[/]:"
                             f" akctl connection init {ref}")  # fmt: skip
        elif conn["status"] == "error":
            message = render.escape(conn["status_message"])
            render.out.print(f"  connection [bold]{conn['name']}[/] [red]error[/]: {message}")


def validate(app: App, manifest_path: Path) -> None:
    prepared = prepare(manifest_path.parent, manifest_path)
    m = prepared.manifest
    summary = {
        "valid": True,
        "file": str(manifest_path),
        "project": m.name,
        "version": m.version,
        "triggers": len(m.triggers),
        "vars": len(m.vars),
        "connections": len(m.connections),
        "requirements": prepared.requirements,
    }
    if app.as_json:
        render.print_json(summary)
        return
    render.out.print(
        f"[green]✓[/] {escape(str(manifest_path))} is valid: project [bold]{escape(m.name)}[/] ({m.version}),"
        f" {len(m.triggers)} trigger(s), {len(m.vars)} var(s), {len(m.connections)} connection(s)"
    )


def show_plan(data: dict[str, Any]) -> None:
    prj = data["project"]
    render.out.print(f"project [bold]{escape(prj['name'])}[/]: {prj['action']}" + _changes(prj))
    if prj.get("moved_from"):
        render.out.print(
            f"  [yellow]~[/] moves from {escape(prj['moved_from'])} (deploy needs --force: the project's code,"
            " triggers and vars would come from this directory)"
        )
    for kind in ("triggers", "vars"):
        for item in data[kind]:
            if item["action"] == "unchanged":
                continue
            mark = _PLAN_MARKS.get(item["action"], " ")
            extra = f" ({item['type']})" if kind == "triggers" else (" (secret)" if item["secret"] else "")
            note = " [dim](set with akctl var set; deploy leaves it)[/]" if item["action"] == "kept" else ""
            render.out.print(f"  {mark} {kind[:-1]} [bold]{escape(item['name'])}[/]{extra}{_changes(item)}{note}")
    if not data["has_changes"]:
        render.out.print("[dim]no changes: deploy would only create a new build and deployment[/]")


def _changes(item: dict[str, Any]) -> str:
    return f": {', '.join(item['changes'])}" if item["changes"] else ""


def project_dir_arguments(f: Any) -> Any:
    """``[DIR]`` and ``--dir DIR``, the same thing two ways (``akctl deploy`` and ``akctl dev``)."""
    f = click.option(
        "--dir", "dir_option", type=click.Path(path_type=Path), default=None, help="Project directory (same as DIR)."
    )(f)
    return click.argument("dir_argument", metavar="[DIR]", type=click.Path(path_type=Path), required=False)(f)


def pick_project_dir(dir_argument: Path | None, dir_option: Path | None) -> Path:
    """DIR or --dir (default: the current directory); both, naming different directories, is a usage error."""
    if dir_argument is not None and dir_option is not None and dir_argument.resolve() != dir_option.resolve():
        raise click.UsageError(f"DIR ({dir_argument}) and --dir ({dir_option}) name different directories")
    return dir_argument or dir_option or Path(".")


force_option = click.option(
    "--force", is_flag=True, help="Deploy although the project was last deployed from another directory."
)


@click.command("deploy")
@project_dir_arguments
@click.option(
    "--manifest",
    type=click.Path(path_type=Path),
    default=None,
    help="Manifest file (default: DIR/autokitteh.yaml).",
)
@force_option
@common
def deploy_cmd(
    app: App, dir_argument: Path | None, dir_option: Path | None, manifest: Path | None, force: bool
) -> None:
    """Build a project (DIR, default .) and make it the active deployment; prints its webhook URLs.

    A requirements.txt gets its own virtual environment (installed once, reused
    by every build with the same requirements). Exit 40 when the manifest, a
    file or the install fails; nothing is deployed then. A project last deployed
    from another directory is not taken over without --force (exit 42).

    \b
    Example:
      akctl deploy examples/hello        # or: akctl deploy --dir examples/hello
    """
    result = deploy(app, pick_project_dir(dir_argument, dir_option), manifest, force)
    if app.as_json:
        render.print_json({k: result[k] for k in ("project_id", "build_id", "deployment_id", "webhooks", "connections")
                           if k in result})  # fmt: skip
    else:
        show(result)


manifest_file = click.argument("file", type=click.Path(path_type=Path), default=Path("autokitteh.yaml"), required=False)


@click.group("manifest")
def manifest_group() -> None:
    """Check a manifest (autokitteh.yaml) and preview what deploying it changes."""


@manifest_group.command("validate")
@manifest_file
@common
def validate_cmd(app: App, file: Path) -> None:
    """Check FILE and its project directory without a daemon (exit 40 on error).

    Checks the schema (errors name the line and key path), Python syntax of every
    file, and that every trigger's call names a top-level function.

    \b
    Example:
      akctl manifest validate examples/hello/autokitteh.yaml
    """
    validate(app, file)


@manifest_group.command("plan")
@manifest_file
@common
def plan_cmd(app: App, file: Path) -> None:
    """Show what deploying FILE would change: project, triggers and vars.

    Changes nothing. Secret values are never shown, only whether they change.

    \b
    Example:
      akctl manifest plan examples/hello/autokitteh.yaml
    """
    _, text = load(file)
    body = {"manifest": text, "root_dir": str(file.parent.resolve())}
    data: dict[str, Any] = app.client.post("/manifest/plan", body)
    if app.as_json:
        render.print_json(data)
    else:
        show_plan(data)


def register(cli: click.Group) -> None:
    cli.add_command(deploy_cmd)
    cli.add_command(manifest_group)

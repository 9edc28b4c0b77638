"""``akctl deploy``: check the project locally, upload it, activate it."""

from __future__ import annotations

import base64
import time
from pathlib import Path
from typing import Any

import click

from akctl import render
from akctl.app import App, common
from akctl.errors import CliError
from akd.build import snapshot_project
from akd.errors import AkdError
from akd.manifest import parse_manifest


def collect(project_dir: Path, manifest_path: Path) -> dict[str, Any]:
    """Validate the manifest and files without a daemon; return the upload body."""
    if not project_dir.is_dir():
        raise CliError(f"project directory {project_dir} does not exist", 44)
    if not manifest_path.is_file():
        raise CliError(f"no manifest at {manifest_path}", 44, "create autokitteh.yaml or pass --manifest FILE")
    text = manifest_path.read_text()
    try:
        manifest = parse_manifest(text, filename=str(manifest_path))
        snapshot = snapshot_project(project_dir, manifest)
    except AkdError as exc:
        raise CliError(exc.message, 40) from None
    files = {p: base64.b64encode(c).decode() for p, c in snapshot.files.items()}
    return {"manifest": text, "files": files, "root_dir": str(project_dir.resolve())}


def deploy(app: App, project_dir: Path, manifest_path: Path | None) -> dict[str, Any]:
    started = time.monotonic()
    body = collect(project_dir, manifest_path or project_dir / "autokitteh.yaml")
    with render.err.status(f"Deploying {project_dir}..."):
        result: dict[str, Any] = app.client.post("/deploy", body, timeout=600)
    result["elapsed"] = round(time.monotonic() - started, 3)
    return result


def show(result: dict[str, Any]) -> None:
    render.out.print(
        f"[green]✓[/] deployed [bold]{result['deployment_id']}[/] in {render.human_duration(result['elapsed'])}"
        f"  (project {result['project_id']}, build {result['build_id']})"
    )
    for name, url in sorted(result["webhooks"].items()):
        render.out.print(f"  webhook [bold]{name}[/]: {url}")


def register(cli: click.Group) -> None:
    @cli.command("deploy")
    @click.option(
        "--dir",
        "project_dir",
        type=click.Path(path_type=Path),
        default=Path("."),
        show_default=True,
        help="Project directory.",
    )
    @click.option(
        "--manifest",
        type=click.Path(path_type=Path),
        default=None,
        help="Manifest file (default: DIR/autokitteh.yaml).",
    )
    @common
    def deploy_cmd(app: App, project_dir: Path, manifest: Path | None) -> None:
        """Build a project and make it the active deployment; prints its webhook URLs.

        \b
        Example:
          akctl deploy --dir examples/hello
        """
        result = deploy(app, project_dir, manifest)
        if app.as_json:
            render.print_json({k: result[k] for k in ("project_id", "build_id", "deployment_id", "webhooks")})
        else:
            show(result)

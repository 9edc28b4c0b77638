"""Pages: a build's files (list and view one) and the diff between two deployments or builds.

Builds are content-addressed snapshots under ``<data_dir>/builds/<digest>``; a page reads
only the files that listing names, so a path in a URL never leaves the snapshot.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from akd.api.common import ctx
from akd.errors import InvalidArgument, NotFound
from akd.ids import has_prefix
from akd.services import lifecycle
from akd.store.builds import BuildRecord
from akd.store.db import Database
from akd.web.auth import page
from akd.web.render import render

MAX_SHOWN_BYTES = 512 * 1024
MAX_DIFF_LINES = 600


@dataclass(frozen=True)
class FileChange:
    path: str
    change: str  # added | removed | changed
    lines: list[tuple[str, str]]  # (css class, text) of its unified diff; [] for binary files
    binary: bool = False


@dataclass(frozen=True)
class Diff:
    old: BuildRecord  # with its project
    new: BuildRecord
    manifest: list[tuple[str, str]]
    files: list[FileChange]
    unchanged: int


def _snapshot(data_dir: Path, build: BuildRecord) -> dict[str, bytes]:
    root = data_dir / "builds" / build.digest
    return {rel: (root / rel).read_bytes() for rel in lifecycle.build_files(data_dir, build.digest)}


def _text(content: bytes) -> str | None:
    if b"\0" in content:
        return None
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError:
        return None


def unified(old: str, new: str, old_name: str, new_name: str) -> list[tuple[str, str]]:
    """A unified diff as (class, line) pairs: ``add``, ``del``, ``hunk`` or ``ctx``; cut at MAX_DIFF_LINES."""
    out: list[tuple[str, str]] = []
    diff = difflib.unified_diff(old.splitlines(), new.splitlines(), old_name, new_name, lineterm="")
    for line in diff:
        if len(out) == MAX_DIFF_LINES:
            out.append(("hunk", "... (diff cut here)"))
            break
        kind = "hunk" if line.startswith(("@@", "---", "+++")) else {"+": "add", "-": "del"}.get(line[:1], "ctx")
        out.append((kind, line))
    return out


def file_changes(old: dict[str, bytes], new: dict[str, bytes]) -> tuple[list[FileChange], int]:
    """The files added, removed and changed between two snapshots, and how many are the same."""
    changes, same = [], 0
    for rel in sorted(old.keys() | new.keys()):
        before, after = old.get(rel), new.get(rel)
        if before == after:
            same += 1
            continue
        change = "added" if before is None else "removed" if after is None else "changed"
        old_text, new_text = _text(before or b""), _text(after or b"")
        if old_text is None or new_text is None:
            changes.append(FileChange(rel, change, [], binary=True))
        else:
            changes.append(FileChange(rel, change, unified(old_text, new_text, f"a/{rel}", f"b/{rel}")))
    return changes, same


async def build_of(db: Database, ident: str) -> BuildRecord:
    """A build by its id, or the build of a deployment id."""
    if has_prefix(ident, "dep"):
        ident = (await lifecycle.get_deployment(db, ident)).build_id
    elif not has_prefix(ident, "bld"):
        raise InvalidArgument(f"expected a deployment (dep_...) or build (bld_...) id, got {ident!r}")
    return await lifecycle.get_build(db, ident)


async def diff(db: Database, data_dir: Path, old_ident: str, new_ident: str) -> Diff:
    old, new = await build_of(db, old_ident), await build_of(db, new_ident)
    files, same = file_changes(_snapshot(data_dir, old), _snapshot(data_dir, new))
    manifest = unified(old.manifest, new.manifest, f"{old.build_id}/manifest", f"{new.build_id}/manifest")
    return Diff(old, new, manifest, files, same)


# -- pages -----------------------------------------------------------------------------


@page
async def build_page(request: Request) -> Response:
    c = ctx(request)
    build = await lifecycle.get_build(c.db, request.path_params["id"])
    return render(
        request, "build.html", title=f"Build {build.build_id}", nav="projects", b=build,
        files=lifecycle.build_files(c.config.data_dir, build.digest),
        deployments=await lifecycle.deployments_of_build(c.db, build.build_id),
    )  # fmt: skip


@page
async def build_file(request: Request) -> Response:
    c = ctx(request)
    build = await lifecycle.get_build(c.db, request.path_params["id"])
    rel = request.path_params["path"]
    if rel not in lifecycle.build_files(c.config.data_dir, build.digest):
        raise NotFound(f"build {build.build_id} has no file {rel!r}")
    content = (c.config.data_dir / "builds" / build.digest / rel).read_bytes()
    text = _text(content[:MAX_SHOWN_BYTES])
    return render(
        request, "build_file.html", title=f"{rel} · {build.build_id}", nav="projects", b=build, path=rel,
        text=text, size=len(content), cut=len(content) > MAX_SHOWN_BYTES,
    )  # fmt: skip


@page
async def diff_page(request: Request) -> Response:
    c = ctx(request)
    prj = await lifecycle.project(c.db, request.path_params["name"])
    deployments = await lifecycle.list_deployments(c.db, prj.project_id)
    old = request.query_params.get("from") or (deployments[1].deployment_id if len(deployments) > 1 else "")
    new = request.query_params.get("to") or (deployments[0].deployment_id if deployments else "")
    result = await diff(c.db, c.config.data_dir, old, new) if old and new else None
    return render(
        request, "diff.html", title=f"Diff · {prj.name}", nav="projects", p=prj, deployments=deployments,
        old=old, new=new, diff=result,
    )  # fmt: skip


routes = [
    Route("/builds/{id}", build_page),
    Route("/builds/{id}/files/{path:path}", build_file),
    Route("/projects/{name}/diff", diff_page),
]

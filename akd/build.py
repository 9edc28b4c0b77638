"""Builds: immutable, content-addressed snapshots of a project directory.

A build is checked before it can be deployed (DESIGN.md section 2): every Python
file compiles, and every trigger's ``call`` names a top-level function of a file
in the snapshot. Errors name the file, line and column::

    snapshot = snapshot_project(Path("hello"), load_manifest(Path("hello/autokitteh.yaml")))
    write_snapshot(snapshot, data_dir / "builds" / snapshot.digest)
"""

from __future__ import annotations

import ast
import contextlib
import hashlib
import io
import os
import re
import shutil
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from akd.errors import BuildError
from akd.manifest import suggestion
from akd.models import Manifest

__all__ = [
    "MAX_FILE_BYTES",
    "MAX_TOTAL_BYTES",
    "Snapshot",
    "normalized_requirements",
    "requirements_hash",
    "snapshot_project",
    "write_snapshot",
]

MAX_FILE_BYTES = 10 * 1024 * 1024
MAX_TOTAL_BYTES = 100 * 1024 * 1024

_SKIPPED_DIRS = frozenset({"__pycache__", "node_modules", "venv", "env"})
_REQUIREMENTS = "requirements.txt"
# akd provides the `autokitteh` module itself (DESIGN.md section 5).
_PROVIDED_PACKAGES = frozenset({"autokitteh"})
_REQUIREMENT_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


@dataclass(frozen=True)
class Snapshot:
    """The files of one build: relative POSIX path -> content."""

    files: dict[str, bytes] = field(repr=False)
    digest: str
    size: int


def snapshot_project(
    root: Path,
    manifest: Manifest,
    *,
    max_file_bytes: int = MAX_FILE_BYTES,
    max_total_bytes: int = MAX_TOTAL_BYTES,
) -> Snapshot:
    """Read and check the project files under ``root``.

    Skips dot files and directories, ``__pycache__``, ``node_modules``, virtual
    environments and ``*.pyc``. Raises :class:`BuildError` for a symlink leading
    out of ``root``, a file or project over the size limits, a Python syntax
    error, or a trigger ``call`` that does not resolve.
    """
    if not root.is_dir():
        raise BuildError(f"project directory {root} does not exist or is not a directory")
    walker = _Walker(root.resolve(), max_file_bytes, max_total_bytes)
    walker.walk(walker.root, PurePosixPath(), frozenset())
    files = dict(sorted(walker.files.items()))
    _check_python(files)
    _check_calls(files, manifest)
    return Snapshot(files=files, digest=_digest(files), size=walker.total)


def _digest(files: dict[str, bytes]) -> str:
    # Each path and content is length-prefixed, so no two distinct file sets can
    # produce the same byte stream (e.g. "a"+"bc" against "ab"+"c").
    sha = hashlib.sha256()
    for path in sorted(files):
        for chunk in (path.encode("utf-8"), files[path]):
            sha.update(len(chunk).to_bytes(8, "big"))
            sha.update(chunk)
    return sha.hexdigest()


def _skipped(name: str) -> bool:
    return name.startswith(".") or name in _SKIPPED_DIRS or name.endswith(".pyc")


def _is_venv(directory: Path) -> bool:
    return (directory / "pyvenv.cfg").is_file()


def _check_name(relpath: PurePosixPath) -> None:
    # Paths travel as JSON and digest input later: they must be valid UTF-8 text.
    try:
        str(relpath).encode("utf-8")
    except UnicodeEncodeError:
        shown = str(relpath).encode("utf-8", "surrogateescape").decode("utf-8", "replace")
        raise BuildError("file name is not valid UTF-8; rename it", file=shown) from None


class _Walker:
    """Collects project files, enforcing the symlink and size rules."""

    def __init__(self, root: Path, max_file_bytes: int, max_total_bytes: int) -> None:
        self.root = root
        self.max_file_bytes = max_file_bytes
        self.max_total_bytes = max_total_bytes
        self.files: dict[str, bytes] = {}
        self.total = 0

    def walk(self, directory: Path, rel: PurePosixPath, ancestors: frozenset[Path]) -> None:
        # `ancestors` holds the real paths above us: a symlink back up would loop forever.
        ancestors = ancestors | {directory.resolve()}
        try:
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except OSError as exc:
            raise BuildError(f"cannot list directory: {exc.strerror or exc}", file=str(rel)) from exc
        for entry in entries:
            if _skipped(entry.name):
                continue
            relpath = rel / entry.name
            _check_name(relpath)
            target = self.follow(Path(entry.path), relpath) if entry.is_symlink() else Path(entry.path)
            if target.is_dir():
                if not _is_venv(target) and target.resolve() not in ancestors:
                    self.walk(target, relpath, ancestors)
            elif target.is_file():
                self.add(target, relpath)
            # Sockets, FIFOs and devices are not project files.

    def follow(self, link: Path, relpath: PurePosixPath) -> Path:
        try:
            target = link.resolve()
        except (OSError, RuntimeError) as exc:  # RuntimeError: a symlink loop
            raise BuildError(f"cannot follow symlink: {exc}", file=str(relpath)) from None
        if not target.is_relative_to(self.root):
            raise BuildError(
                f"symlink points outside the project (to {target}); copy the file into the project instead",
                file=str(relpath),
            )
        if not target.exists():
            raise BuildError(f"broken symlink (to {target})", file=str(relpath))
        return target

    def add(self, path: Path, relpath: PurePosixPath) -> None:
        try:
            with path.open("rb") as fh:
                size = os.fstat(fh.fileno()).st_size
                # Read one byte past the limit too: the file may have grown since fstat().
                content = b"" if size > self.max_file_bytes else fh.read(self.max_file_bytes + 1)
        except OSError as exc:
            raise BuildError(f"cannot read file: {exc.strerror or exc}", file=str(relpath)) from None
        if size > self.max_file_bytes or len(content) > self.max_file_bytes:
            raise BuildError(
                f"file is {max(size, len(content))} bytes, over the limit of {self.max_file_bytes} bytes per file",
                file=str(relpath),
            )
        self.total += len(content)
        if self.total > self.max_total_bytes:
            raise BuildError(
                f"project is over the limit of {self.max_total_bytes} bytes in total "
                f"(reached {self.total} bytes with this file); move large data out of the project",
                file=str(relpath),
            )
        self.files[str(relpath)] = content


def _check_python(files: dict[str, bytes]) -> None:
    for path, source in files.items():
        if not path.endswith(".py"):
            continue
        try:
            compile(source, path, "exec", dont_inherit=True)
        except SyntaxError as exc:
            raise BuildError(
                exc.msg,
                file=path,
                line=exc.lineno,
                column=exc.offset,
                text=(exc.text or "").strip("\n\r\f"),
            ) from None
        except (ValueError, RecursionError, MemoryError) as exc:
            # Null bytes (ValueError) or absurd nesting that the compiler cannot take.
            raise BuildError(f"cannot compile: {exc}", file=path) from None


def _check_calls(files: dict[str, bytes], manifest: Manifest) -> None:
    functions: dict[str, list[str]] = {}
    for index, trigger in enumerate(manifest.triggers):
        call = trigger.call
        if call is None:
            continue
        key = f"project.triggers[{index}].call"
        if call.file not in files:
            hint = suggestion(call.file, [p for p in files if p.endswith(".py")])
            raise BuildError(
                f'trigger "{trigger.name}" calls {call}, but there is no file "{call.file}"{hint} in the project'
                f" ({key})",
                file=call.file,
            )
        if call.file not in functions:
            functions[call.file] = _top_level_functions(files[call.file], call.file)
        defined = functions[call.file]
        if call.function not in defined:
            listed = ", ".join(defined) or "none"
            hint = suggestion(call.function, defined)
            raise BuildError(
                f'no top-level function "{call.function}"{hint} (defined: {listed}); called by trigger "{trigger.name}"'
                f" ({key})",
                file=call.file,
                line=1,
            )


def _top_level_functions(source: bytes, path: str) -> list[str]:
    tree = ast.parse(source, path)
    return [node.name for node in tree.body if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)]


def write_snapshot(snapshot: Snapshot, dest: Path) -> None:
    """Write ``snapshot`` to ``dest`` as a read-only tree, atomically.

    Builds are content addressed, so an existing ``dest`` already holds the same
    files and is left alone. The files go to a temporary directory next to
    ``dest`` first, so a reader never sees half a build.
    """
    if dest.exists():
        return
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    try:
        _write_files(snapshot.files, tmp)
        os.rename(tmp, dest)
    except OSError:
        _remove_tree(tmp)
        if dest.exists():  # another writer won the race with the same content
            return
        raise
    except BaseException:
        _remove_tree(tmp)
        raise
    _fsync(dest.parent)


def _write_files(files: dict[str, bytes], tmp: Path) -> None:
    directories = {tmp}
    for rel, content in files.items():
        parts = PurePosixPath(rel).parts
        if not parts or rel.startswith("/") or ".." in parts:
            raise BuildError("refusing to write a path outside the build directory", file=rel)
        path = tmp.joinpath(*parts)
        path.parent.mkdir(parents=True, exist_ok=True)
        directories.update(path.parents)
        with path.open("wb") as fh:
            fh.write(content)
            # A build that exists must be complete, even after a power loss.
            os.fsync(fh.fileno())
        path.chmod(0o444)
    # Deepest first: a directory loses its write bit only once its children exist.
    for directory in sorted((d for d in directories if d.is_relative_to(tmp)), key=lambda d: -len(d.parts)):
        _fsync(directory)
        directory.chmod(0o555)


def _fsync(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove_tree(path: Path) -> None:
    # Read-only directories would make rmtree fail to unlink their children.
    for directory, _, _ in os.walk(path):
        with contextlib.suppress(OSError):
            Path(directory).chmod(0o755)
    shutil.rmtree(path, ignore_errors=True)


def normalized_requirements(snapshot: Snapshot) -> list[str]:
    """The requirement lines of the project's requirements.txt, sorted.

    Comments, blank lines and requirements on ``autokitteh`` (which akd provides)
    are dropped; backslash continuations are joined.
    """
    content = snapshot.files.get(_REQUIREMENTS)
    if content is None:
        return []
    text = content.decode("utf-8", errors="replace").replace("\\\r\n", " ").replace("\\\n", " ")
    lines: set[str] = set()
    for raw in text.splitlines():
        # pip reads "#" as a comment at the start of a line or after whitespace.
        line = re.sub(r"(^|\s)#.*$", "", raw).strip()
        if line and _requirement_name(line) not in _PROVIDED_PACKAGES:
            lines.add(" ".join(line.split()))
    return sorted(lines)


def _requirement_name(line: str) -> str:
    match = _REQUIREMENT_NAME_RE.match(line)
    # PEP 503 normalisation, so "AutoKitteh" and "auto_kitteh"-style spellings compare equal.
    return re.sub(r"[-_.]+", "-", match.group(0)).lower() if match else ""


def requirements_hash(snapshot: Snapshot) -> str | None:
    """sha256 of the normalised requirements.txt; None when nothing is to be installed."""
    lines = normalized_requirements(snapshot)
    if not lines:
        return None
    return hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()


def pack(files: dict[str, bytes]) -> bytes:
    """A snapshot's files as one gzipped tar (sorted, no times or owners: same files, same bytes)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz", compresslevel=6, format=tarfile.PAX_FORMAT) as tar:
        for rel in sorted(files):
            info = tarfile.TarInfo(rel)
            info.size, info.mode = len(files[rel]), 0o444
            tar.addfile(info, io.BytesIO(files[rel]))
    return buf.getvalue()


def unpack(archive: bytes) -> dict[str, bytes]:
    """``pack``'s inverse; only regular files with relative paths inside the build."""
    files: dict[str, bytes] = {}
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        for member in tar:
            rel = PurePosixPath(member.name)
            if not member.isfile() or rel.is_absolute() or ".." in rel.parts:
                raise BuildError(f"a stored build holds {member.name!r}, which is not a file inside the build")
            handle = tar.extractfile(member)
            assert handle is not None  # a regular file
            files[str(rel)] = handle.read()
    return files


def read_snapshot(root: Path, digest: str) -> Snapshot:
    """A build directory written by ``write_snapshot``, read back."""
    files = {str(p.relative_to(root).as_posix()): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}
    return Snapshot(files=files, digest=digest, size=sum(len(c) for c in files.values()))

"""Build, package and test the VS Code extension: one entry point.

    .venv/bin/python vscode/build_and_test.py      # npm ci (once), typecheck, bundle, .vsix, node tests
    python3 vscode/build_and_test.py --build-only  # everything but the node tests
    python3 vscode/build_and_test.py --build-only --skip-without-node   # exit 0 (saying so) without Node

The node tests (``vscode/test/*.test.mjs``) exercise the extension's client layer against
a real akd, started here the way the e2e tests start one (``akctl up --detach --port 0``
in a temporary data dir). ``tests/e2e/test_vscode.py`` runs the same tests inside the
pytest suite through :func:`ensure_built` and :func:`node_tests`.

``npm ci`` installs from the committed lockfile and only runs again when the lockfile
changed (its hash is kept in ``node_modules/.akd-lock-sha256``); the bundle and the
``.vsix`` are rebuilt only when a source file is newer than them.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
VSIX = HERE / "dist" / "akd.vsix"
CLIENT_BUNDLE = HERE / "dist" / "client.mjs"
_LOCK_MARK = HERE / "node_modules" / ".akd-lock-sha256"
_SOURCES = ("src", "schemas", "media", "package.json", "package-lock.json", "esbuild.mjs", "tsconfig.json", "README.md")


class BuildFailed(Exception):
    """An npm, tsc, esbuild or vsce step exited non-zero."""


def node_available() -> bool:
    return shutil.which("node") is not None and shutil.which("npm") is not None


def _run(*cmd: str, env: dict[str, str] | None = None) -> None:
    print("+", " ".join(cmd), flush=True)
    result = subprocess.run(cmd, cwd=HERE, env=env)
    if result.returncode != 0:
        raise BuildFailed(f"{' '.join(cmd)} exited {result.returncode} (in {HERE})")


def _lock_hash() -> str:
    return hashlib.sha256((HERE / "package-lock.json").read_bytes()).hexdigest()


def npm_ci() -> None:
    """Install the extension's packages from its own lockfile, unless already installed from it."""
    if _LOCK_MARK.is_file() and _LOCK_MARK.read_text().strip() == _lock_hash():
        return
    _run("npm", "ci", "--no-audit", "--no-fund", "--prefer-offline")
    _LOCK_MARK.write_text(_lock_hash() + "\n")


def _files(path: Path) -> Iterator[Path]:
    if path.is_file():
        yield path
    elif path.is_dir():
        yield from (p for p in path.rglob("*") if p.is_file())


def _stale() -> bool:
    if not VSIX.is_file() or not CLIENT_BUNDLE.is_file():
        return True
    built = min(VSIX.stat().st_mtime, CLIENT_BUNDLE.stat().st_mtime)
    return any(f.stat().st_mtime > built for name in _SOURCES for f in _files(HERE / name))


def build() -> None:
    """Typecheck, bundle with esbuild and package the ``.vsix`` with vsce."""
    _run("npx", "--no-install", "tsc", "--noEmit", "-p", ".")
    _run("node", "esbuild.mjs")
    _run("npx", "--no-install", "vsce", "package", "--no-dependencies", "--allow-missing-repository",
         "--skip-license", "-o", str(VSIX))  # fmt: skip


def ensure_built() -> None:
    """``npm ci`` (once per lockfile) and :func:`build` when a source changed.

    Serialised by a lock file: pytest-xdist workers may ask at the same time, and two
    ``npm ci`` runs in one directory would trample each other.
    """
    with (HERE / ".build.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        npm_ci()
        if _stale():
            build()


def node_tests(data_dir: Path, work: Path) -> subprocess.CompletedProcess[str]:
    """``node --test`` over ``vscode/test`` against the akd whose data dir is ``data_dir``."""
    env = {**os.environ, "AKD_TEST_DATA_DIR": str(data_dir), "AKD_TEST_WORK": str(work)}
    for name in ("AKD_URL", "AKD_TOKEN", "AKD_DATA_DIR"):
        env.pop(name, None)
    tests = sorted(str(p.relative_to(HERE)) for p in (HERE / "test").glob("*.test.mjs"))
    return subprocess.run(
        ["node", "--test", "--test-reporter=spec", "--test-concurrency=1", *tests],
        cwd=HERE, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip


def _test_with_daemon() -> int:
    sys.path.insert(0, str(ROOT))
    from tests.e2e.harness import Akd

    with tempfile.TemporaryDirectory(prefix="akd-vscode-") as tmp:
        akd = Akd(Path(tmp) / "data")
        try:
            akd.up()
            work = Path(tmp) / "work"
            work.mkdir()
            result = node_tests(akd.data_dir, work)
            print(result.stdout, end="")
            print(result.stderr, end="", file=sys.stderr)
            return result.returncode
        finally:
            akd.down()


def main(argv: list[str]) -> int:
    if not node_available():
        print("node and npm are needed to build the VS Code extension (Node 20)", file=sys.stderr)
        return 0 if "--skip-without-node" in argv else 1
    try:
        ensure_built()
    except BuildFailed as exc:
        print(f"build failed: {exc}", file=sys.stderr)
        return 1
    print(f"built {VSIX.relative_to(ROOT)}")
    if "--build-only" in argv:
        return 0
    return _test_with_daemon()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

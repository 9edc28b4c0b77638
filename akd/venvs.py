"""Virtual environments for builds with a ``requirements.txt``, cached by requirements hash.

A build whose snapshot names requirements (see ``akd.build.requirements_hash``) gets
``<data_dir>/venvs/<hash>/``, created with the Python that runs akd and filled by pip.
Builds with the same requirements share it, so a second deploy installs nothing::

    installed = await ensure_venv(data_dir, digest, lines, cwd=build_dir)
    site_dirs(data_dir, digest)   # -> [".../venvs/<hash>/lib/python3.11/site-packages"]

An environment is usable only once its ``akd-ready`` marker exists; a directory
without it is what an interrupted install left behind, and is rebuilt.

The vendor layers (``akd.vendor_layers``: the libraries of a project's integrations)
are environments of this kind too, keyed by the hash of their pinned lines.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import importlib.util
import logging
import os
import shutil
import sys
import time
from pathlib import Path
from typing import IO

from akd.errors import BuildError

__all__ = ["INSTALL_TIMEOUT", "ensure_venv", "is_ready", "site_dirs", "venv_dir"]

log = logging.getLogger(__name__)

INSTALL_TIMEOUT = 600.0
READY_MARKER = "akd-ready"
_REQUIREMENTS = "requirements.txt"
_ERROR_TAIL_LINES = 40


def venv_dir(data_dir: Path, requirements_hash: str) -> Path:
    if not requirements_hash.isalnum():
        raise ValueError(f"not a requirements hash: {requirements_hash!r}")
    return data_dir / "venvs" / requirements_hash


def is_ready(data_dir: Path, requirements_hash: str | None) -> bool:
    return bool(requirements_hash) and (venv_dir(data_dir, str(requirements_hash)) / READY_MARKER).is_file()


def site_dirs(data_dir: Path, requirements_hash: str | None) -> list[str]:
    """The site-packages directories of the build's environment; [] when it has none."""
    if not requirements_hash or not is_ready(data_dir, requirements_hash):
        return []
    root = venv_dir(data_dir, requirements_hash)
    found = sorted({p.resolve() for p in root.glob("lib*/python*/site-packages") if p.is_dir()})
    return [str(p) for p in found]


async def ensure_venv(
    data_dir: Path, requirements_hash: str, requirements: list[str], cwd: Path, *, file: str = _REQUIREMENTS
) -> bool:
    """Create and fill the environment unless it is ready; returns whether pip ran.

    ``cwd`` is the build directory, so relative paths in requirements resolve as
    they would in the project. Raises :class:`BuildError` with pip's output when
    the install fails (located at ``file``; "" for lines that come from no file);
    nothing is left behind then.
    """
    if is_ready(data_dir, requirements_hash):
        return False
    root = venv_dir(data_dir, requirements_hash)
    root.parent.mkdir(parents=True, exist_ok=True)
    lock = await asyncio.to_thread(_lock, root.parent / f".{requirements_hash}.lock")
    try:
        if is_ready(data_dir, requirements_hash):  # another deploy finished it while we waited
            return False
        started = time.monotonic()
        await _build(root, requirements, cwd, file)
        log.info("installed environment %s (%d lines) in %.1f s", requirements_hash[:12], len(requirements),
                 time.monotonic() - started)  # fmt: skip
        return True
    finally:
        lock.close()


def _lock(path: Path) -> IO[str]:
    fh = path.open("a")
    fcntl.flock(fh, fcntl.LOCK_EX)
    return fh


async def _build(root: Path, requirements: list[str], cwd: Path, file: str) -> None:
    shutil.rmtree(root, ignore_errors=True)
    # Without pip in akd's own environment, the new one needs its own copy (slower).
    own_pip = importlib.util.find_spec("pip") is not None
    await _run([sys.executable, "-m", "venv", *(["--without-pip"] if own_pip else []), str(root)], cwd, root, file)
    req_file = root / "requirements.txt"
    req_file.write_text("".join(line + "\n" for line in requirements))
    python = root / "bin" / "python"
    pip = [sys.executable, "-m", "pip", "--python", str(python)] if own_pip else [str(python), "-m", "pip"]
    await _run([*pip, "install", "--no-input", "-r", str(req_file)], cwd, root, file)
    (root / READY_MARKER).write_text(f"{time.time()}\n")


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env.update(PIP_NO_INPUT="1", PIP_DISABLE_PIP_VERSION_CHECK="1")
    return env


async def _run(cmd: list[str], cwd: Path, root: Path, file: str) -> None:
    proc = await asyncio.create_subprocess_exec(
        *cmd, cwd=cwd, env=_env(), stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    try:
        output, _ = await asyncio.wait_for(proc.communicate(), INSTALL_TIMEOUT)
    except TimeoutError:
        await _kill(proc, root)
        raise BuildError(
            f"installing requirements took over {INSTALL_TIMEOUT:.0f} s and was stopped", file=file
        ) from None
    except asyncio.CancelledError:
        await _kill(proc, root)
        raise
    if proc.returncode != 0:
        shutil.rmtree(root, ignore_errors=True)
        tail = "\n".join(output.decode("utf-8", "replace").rstrip().splitlines()[-_ERROR_TAIL_LINES:])
        what = "pip could not install the requirements" if "pip" in cmd else "could not create a virtual environment"
        raise BuildError(f"{what} (exit code {proc.returncode}):\n{tail}", file=file)


async def _kill(proc: asyncio.subprocess.Process, root: Path) -> None:
    with contextlib.suppress(ProcessLookupError):
        proc.kill()
    await proc.wait()
    shutil.rmtree(root, ignore_errors=True)

"""The registry of running daemons: one small file per akd under the user's runtime dir.

A new shell without ``AKD_DATA_DIR`` still finds the akd it started elsewhere: every akd
adds ``<runtime dir>/<digest of its data dir>.json`` (``{"data_dir", "url", "pid"}``) once
it is ready and removes it when it stops cleanly; an entry whose pid is gone (a killed
akd) is ignored and cleared by the next reader. Shared by the daemon (writer) and
``akctl`` (reader), so it imports nothing but the standard library.

The runtime dir is ``$AKD_RUNTIME_DIR``, else ``$XDG_RUNTIME_DIR/akd``, else
``~/.cache/akd/run`` (tests point ``AKD_RUNTIME_DIR`` at a temporary directory).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Instance:
    data_dir: Path
    url: str
    pid: int


def runtime_dir() -> Path:
    if env := os.environ.get("AKD_RUNTIME_DIR"):
        return Path(env).expanduser()
    if xdg := os.environ.get("XDG_RUNTIME_DIR"):
        return Path(xdg) / "akd"
    return Path.home() / ".cache" / "akd" / "run"


def _entry(data_dir: Path) -> Path:
    digest = hashlib.sha256(str(data_dir.resolve()).encode()).hexdigest()[:16]
    return runtime_dir() / f"{digest}.json"


def register(data_dir: Path, url: str, pid: int) -> None:
    """Add (or replace) this daemon's entry; written whole, then renamed into place."""
    path = _entry(data_dir)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{pid}.tmp")
    tmp.write_text(json.dumps({"data_dir": str(data_dir.resolve()), "url": url, "pid": pid}))
    os.replace(tmp, path)


def unregister(data_dir: Path, pid: int) -> None:
    """Remove this daemon's entry (only its own: a later akd on the same dir keeps its)."""
    path = _entry(data_dir)
    with contextlib.suppress(OSError, ValueError):
        if int(json.loads(path.read_text())["pid"]) == pid:
            path.unlink()


def running() -> list[Instance]:
    """Every registered akd that still runs, by data dir; stale entries are removed."""
    found = []
    try:
        paths = sorted(runtime_dir().glob("*.json"))
    except OSError:
        return []
    for path in paths:
        instance = _read(path)
        if instance is not None and is_running(instance):
            found.append(instance)
        elif instance is not None:
            with contextlib.suppress(OSError):
                path.unlink()
    return sorted(found, key=lambda i: str(i.data_dir))


def _read(path: Path) -> Instance | None:
    try:
        data = json.loads(path.read_text())
        return Instance(Path(data["data_dir"]), str(data["url"]), int(data["pid"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def is_running(instance: Instance) -> bool:
    """Its pid is alive and is still the akd of its data dir (a reused pid is not)."""
    try:
        info = json.loads((instance.data_dir / "daemon.json").read_text())
    except (OSError, ValueError):
        return False
    return instance.pid > 0 and info.get("pid") == instance.pid and pid_alive(instance.pid)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child (of a test harness, say) has exited already.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False

"""Small disks for tests and soaks: a tmpfs of a given size (root only) and a way to fill one."""

from __future__ import annotations

import subprocess
from pathlib import Path


def mount_tmpfs(mnt: Path, size_mb: int) -> str:
    """Mount a ``size_mb`` MiB tmpfs on ``mnt`` (an existing dir); the error text, or "" when mounted."""
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mb}m", "tmpfs", str(mnt)], capture_output=True)
    return "" if res.returncode == 0 else (res.stderr.decode().strip() or "mount failed")


def unmount(mnt: Path) -> None:
    subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def fill(path: Path) -> None:
    """Write ``path`` until the disk is full."""
    with path.open("wb") as f:
        try:
            while True:
                f.write(b"\0" * (1 << 20))
                f.flush()
        except OSError:
            pass

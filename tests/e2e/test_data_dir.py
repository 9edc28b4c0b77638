"""The data dir and the modes of what akd keeps there (hardening item 8).

A read-only data dir is one red line from ``akctl up --detach``; a dir other users can
write to is refused untouched; a dir others can only read is made private with a
warning; and every file akd creates there is private to its user.
"""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.disks import mount_tmpfs, unmount
from tests.e2e.harness import ROOT, Akd

pytestmark = pytest.mark.e2e


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def up_detach(akd: Akd) -> subprocess.CompletedProcess[str]:
    """``akctl up --detach`` with a terminal wide enough that rich never wraps a line."""
    res = subprocess.run(
        [sys.executable, "-m", "akctl.main", "up", "--detach", "--port", "0", "--json"],
        env={**akd.env, "COLUMNS": "1000"}, capture_output=True, text=True, timeout=120, cwd=ROOT,
    )  # fmt: skip
    if res.returncode == 0:
        akd.pids.append(int(json.loads(res.stdout)["pid"]))
    return res


@pytest.fixture
def read_only_disk(tmp_path: Path) -> Iterator[Path]:
    mnt = tmp_path / "disk"
    mnt.mkdir()
    error = mount_tmpfs(mnt, 8)
    if error:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {error}")
    try:
        (mnt / "data").mkdir(mode=0o700)
        subprocess.run(["mount", "-o", "remount,ro", str(mnt)], check=True)
        yield mnt
    finally:
        unmount(mnt)


@pytest.mark.parametrize("name", ["data", "not-yet-there"])
def test_up_detach_on_a_read_only_data_dir_is_one_red_line(read_only_disk: Path, name: str) -> None:
    data = read_only_disk / name
    res = up_detach(Akd(data))
    assert res.returncode not in (0, None), res
    assert "Traceback" not in res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr  # one line: with --json, the error as JSON
    error = json.loads(lines[0])
    assert str(data) in error["error"] and "Read-only file system" in error["error"], error
    assert error["exit_code"] == res.returncode


@pytest.mark.parametrize("mode", [0o1777, 0o770])
def test_a_data_dir_others_can_write_is_refused_untouched(tmp_path: Path, mode: int) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(mode)
    akd = Akd(shared)
    try:
        res = up_detach(akd)
        assert res.returncode == 42, res
        lines = res.stderr.strip().splitlines()
        assert len(lines) == 1 and "writable by other users" in lines[0] and f"{mode:04o}" in lines[0], lines
        assert mode_of(shared) == mode and list(shared.iterdir()) == []
        # akd itself (started without akctl) refuses it the same way.
        direct = subprocess.run(
            [sys.executable, "-m", "akd", "--data-dir", str(shared), "--port", "0"],
            env=akd.env, capture_output=True, text=True, timeout=60, cwd=ROOT,
        )  # fmt: skip
        assert direct.returncode == 42 and "writable by other users" in direct.stderr, direct
        assert "Traceback" not in direct.stderr
        assert mode_of(shared) == mode
    finally:
        akd.down()


PROJECT = ROOT / "examples" / "hello"


def test_readable_data_dir_is_made_private_with_a_warning(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    data.chmod(0o755)
    akd = Akd(data)
    try:
        res = up_detach(akd)
        assert res.returncode == 0, res.stderr
        assert "warning:" in res.stderr and "readable by other users (mode 0755)" in res.stderr, res.stderr
        assert mode_of(data) == 0o700
        assert "readable by other users (mode 0755)" in (data / "logs" / "akd.log").read_text()
    finally:
        akd.down()


@pytest.mark.sqlite_file
def test_files_akd_creates_in_the_data_dir_are_private(tmp_path: Path) -> None:
    data = tmp_path / "data"
    akd = Akd(data)
    try:
        res = up_detach(akd)
        assert res.returncode == 0 and res.stderr == "", res.stderr
        assert mode_of(data) == 0o700
        # A build and a session, so the databases, the WAL and the logs all exist.
        url = akd.deploy(PROJECT)["webhooks"]["on_webhook"]
        event_id = httpx.post(url, content=b'{"name": "modes"}', timeout=10).headers["AutoKitteh-Event-ID"]
        ev = akd.api("GET", f"/events/{event_id}", params={"wait": "final", "timeout": 30}).json()
        assert akd.wait_session(ev["session_ids"][0])["state"] == "completed"
        for name in ("akd.db", "akd.db-wal", "akd.db-shm", "token", "daemon.json", "temporal.db", "logs/akd.log"):
            assert (data / name).exists(), name
        loose = {
            str(p.relative_to(data)): f"{mode_of(p):04o}"
            for p in data.rglob("*")
            # Build snapshots are read-only (0444/0555) on purpose, inside the 0700 dir.
            if not p.is_symlink() and p.relative_to(data).parts[0] != "builds" and mode_of(p) & 0o077
        }
        assert loose == {}, loose
    finally:
        akd.down()

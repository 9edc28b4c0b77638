"""akd.venvs: one environment per requirements hash, created once, cleaned up on failure."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from akd.errors import BuildError
from akd.venvs import ensure_venv, is_ready, site_dirs, venv_dir

HASH = "ab" * 32


def test_no_requirements_means_no_site_dirs(tmp_path: Path) -> None:
    assert site_dirs(tmp_path, None) == []
    assert site_dirs(tmp_path, HASH) == []  # not installed
    assert not is_ready(tmp_path, HASH)


def test_hash_must_be_a_plain_name(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        venv_dir(tmp_path, "../escape")


def test_installs_once_then_reuses(tmp_path: Path) -> None:
    async def twice() -> tuple[bool, bool, bool]:
        # Two concurrent deploys of the same requirements: one installs, one waits.
        first, second = await asyncio.gather(
            ensure_venv(tmp_path, HASH, ["six"], tmp_path), ensure_venv(tmp_path, HASH, ["six"], tmp_path)
        )
        return first, second, await ensure_venv(tmp_path, HASH, ["six"], tmp_path)

    assert sorted(asyncio.run(twice())) == [False, False, True]
    dirs = site_dirs(tmp_path, HASH)
    assert len(dirs) == 1 and (Path(dirs[0]) / "six.py").is_file()


def test_failed_install_reports_pip_and_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(BuildError) as info:
        asyncio.run(ensure_venv(tmp_path, HASH, ["./no-such-dir"], tmp_path))
    message = str(info.value)
    assert message.startswith("requirements.txt: pip could not install the requirements")
    assert "no-such-dir" in message
    assert not venv_dir(tmp_path, HASH).exists()
    assert site_dirs(tmp_path, HASH) == []

"""The registry of running daemons (akd.instances) and the remembered port, in-process."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from akd import instances
from akd.cli import with_remembered_port
from akd.config import load_config


@pytest.fixture
def runtime(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("AKD_RUNTIME_DIR", str(tmp_path / "run"))
    return tmp_path / "run"


def live_data_dir(root: Path, pid: int) -> Path:
    root.mkdir(parents=True)
    (root / "daemon.json").write_text(json.dumps({"url": "http://127.0.0.1:1", "pid": pid}))
    return root


def test_register_list_and_unregister(tmp_path: Path, runtime: Path) -> None:
    data_dir = live_data_dir(tmp_path / "d", os.getpid())
    instances.register(data_dir, "http://127.0.0.1:1", os.getpid())
    assert instances.running() == [instances.Instance(data_dir.resolve(), "http://127.0.0.1:1", os.getpid())]
    instances.unregister(data_dir, os.getpid() + 1)  # not its entry: kept
    assert len(instances.running()) == 1
    instances.unregister(data_dir, os.getpid())
    assert instances.running() == [] and list(runtime.iterdir()) == []


def test_an_entry_whose_daemon_is_gone_or_replaced_is_dropped(tmp_path: Path, runtime: Path) -> None:
    gone = live_data_dir(tmp_path / "gone", 2**22 + 11)  # no such pid
    instances.register(gone, "http://127.0.0.1:1", 2**22 + 11)
    replaced = live_data_dir(tmp_path / "replaced", os.getpid())  # daemon.json names another pid
    instances.register(replaced, "http://127.0.0.1:2", 1)
    (runtime / "junk.json").write_text("{not json")
    assert instances.running() == []
    assert sorted(p.name for p in runtime.iterdir()) == ["junk.json"]


def test_the_runtime_dir_follows_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("AKD_RUNTIME_DIR", raising=False)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    assert instances.runtime_dir() == tmp_path / "akd"
    monkeypatch.delenv("XDG_RUNTIME_DIR")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert instances.runtime_dir() == tmp_path / "home" / ".cache" / "akd" / "run"


def test_the_port_of_the_last_port_option_is_used_when_none_is_given(tmp_path: Path) -> None:
    (tmp_path / "port").write_text("9991\n")
    config = load_config(None, data_dir=tmp_path, environ={})
    assert with_remembered_port(config, None).server.port == 9991
    assert with_remembered_port(config, 9992).server.port == 9980  # --port given: left as load_config made it
    from_env = load_config(None, data_dir=tmp_path, environ={"AKD_SERVER_PORT": "9993"})
    assert with_remembered_port(from_env, None).server.port == 9993
    (tmp_path / "port").write_text("not a port\n")
    assert with_remembered_port(config, None).server.port == 9980

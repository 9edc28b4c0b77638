"""How akd reaches an external Temporal: TLS and API key settings (akd.engine.connect)."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.service import TLSConfig

from akd.config import TemporalConfig, load_config
from akd.engine.connect import embedded_target, external_target
from akd.errors import InvalidArgument


def _load(tmp_path: Path, text: str, **env: str) -> TemporalConfig:
    path = tmp_path / "akd.toml"
    path.write_text(text)
    return load_config(path, environ={"AKD_DATA_DIR": str(tmp_path), **env}).temporal


def test_the_embedded_server_is_plain_grpc() -> None:
    target = embedded_target("127.0.0.1:7233", "default")
    assert target.tls is False and target.api_key is None and not target.secure


def test_tls_true_uses_the_system_cas(tmp_path: Path) -> None:
    target = external_target(_load(tmp_path, '[temporal]\naddress = "t.example:7233"\ntls = true\n'))
    assert target.tls is True and target.secure


def test_an_api_key_from_the_environment_turns_tls_on(tmp_path: Path) -> None:
    cfg = _load(tmp_path, '[temporal]\naddress = "ns.tmprl.cloud:7233"\n', AKD_TEMPORAL_API_KEY="k-123")
    target = external_target(cfg)
    assert target.api_key == "k-123" and target.tls is True


def test_tls_files_are_read_into_the_client_config(tmp_path: Path) -> None:
    for name in ("ca.pem", "c.pem", "c.key"):
        (tmp_path / name).write_bytes(f"<{name}>".encode())
    cfg = _load(
        tmp_path,
        f'[temporal]\naddress = "t:7233"\ntls_ca_file = "{tmp_path}/ca.pem"\ntls_cert_file = "{tmp_path}/c.pem"\n'
        f'tls_key_file = "{tmp_path}/c.key"\ntls_server_name = "temporal.internal"\n',
    )
    tls = external_target(cfg).tls
    assert isinstance(tls, TLSConfig)
    assert (tls.server_root_ca_cert, tls.client_cert, tls.client_private_key) == (b"<ca.pem>", b"<c.pem>", b"<c.key>")
    assert tls.domain == "temporal.internal"


def test_an_unreadable_tls_file_is_named(tmp_path: Path) -> None:
    cfg = _load(tmp_path, f'[temporal]\naddress = "t:7233"\ntls_ca_file = "{tmp_path}/gone.pem"\n')
    with pytest.raises(InvalidArgument, match=r"tls_ca_file: cannot read .*gone\.pem"):
        external_target(cfg)


def test_a_client_certificate_needs_its_key(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument, match="tls_cert_file and tls_key_file go together"):
        _load(tmp_path, '[temporal]\naddress = "t:7233"\ntls_cert_file = "c.pem"\n')


def test_tls_settings_need_an_external_address(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument, match=r"set \[temporal\] address"):
        _load(tmp_path, "[temporal]\napi_key = 'k'\n")


def test_the_workflow_task_timeout_is_short_on_a_cluster(tmp_path: Path) -> None:
    from datetime import timedelta

    from akd.engine.connect import task_timeout

    assert task_timeout(_load(tmp_path, "[temporal]\n")) == timedelta(seconds=5)
    assert task_timeout(_load(tmp_path, '[temporal]\naddress = "t:7233"\n')) == timedelta(seconds=2.5)
    assert task_timeout(_load(tmp_path, "[temporal]\nworkflow_task_timeout = 3\n")) == timedelta(seconds=3)
    with pytest.raises(InvalidArgument, match="workflow_task_timeout"):
        _load(tmp_path, "[temporal]\nworkflow_task_timeout = 0.2\n")

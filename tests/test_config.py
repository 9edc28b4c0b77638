"""akd.config.load_config (defaults < akd.toml < env < flags) and akd.ids."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest

from akd.config import Config, default_data_dir, load_config
from akd.errors import InvalidArgument
from akd.ids import PREFIXES, derived_id, has_prefix, new_id

ID_BODY = re.compile(r"^[0-9a-z]{26}$")
CROCKFORD = set("0123456789abcdefghjkmnpqrstvwxyz")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No AKD_* from the outer environment; the default data dir is an empty temp dir."""
    for name in list(os.environ):
        if name.startswith("AKD_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))


def write_toml(tmp_path: Path, text: str, name: str = "akd.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


# -- defaults ------------------------------------------------------------------------------


def test_defaults(tmp_path: Path) -> None:
    cfg = load_config()
    assert cfg.data_dir == tmp_path / "xdg" / "akd"
    assert (cfg.server.host, cfg.server.port, cfg.server.public_url) == ("127.0.0.1", 9980, "")
    assert cfg.temporal.address == ""
    assert cfg.temporal.namespace == "default"
    assert cfg.temporal.persistent is True
    assert cfg.temporal.ui_port == 0
    assert cfg.sessions.sync_timeout == 30.0
    assert cfg.sessions.max_body_bytes == 512 * 1024
    assert cfg.log_level == "info"
    assert cfg.base_url == "http://127.0.0.1:9980"


def test_default_data_dir_prefers_akd_data_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert default_data_dir() == tmp_path / "xdg" / "akd"
    monkeypatch.setenv("AKD_DATA_DIR", str(tmp_path / "mine"))
    assert default_data_dir() == tmp_path / "mine"


def test_default_data_dir_without_xdg_is_under_home(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("XDG_DATA_HOME")
    assert default_data_dir() == Path.home() / ".local" / "share" / "akd"


def test_public_url_is_the_base_url_without_trailing_slash(tmp_path: Path) -> None:
    cfg = load_config(write_toml(tmp_path, '[server]\npublic_url = "https://x.example/"\n'), environ={})
    assert cfg.base_url == "https://x.example"


# -- akd.toml ------------------------------------------------------------------------------


def test_file_values(tmp_path: Path) -> None:
    path = write_toml(
        tmp_path,
        """
log_level = "debug"
data_dir = "{d}"

[server]
host = "0.0.0.0"
port = 9981
public_url = "https://hooks.example"

[temporal]
address = "localhost:7233"
namespace = "ns"
persistent = false
ui_port = 8233
task_queue = "q"

[sessions]
sync_timeout = 5
max_body_bytes = 1024
max_step_result_bytes = 2048
""".replace("{d}", str(tmp_path / "dd")),
    )
    cfg = load_config(path, environ={})
    assert cfg.log_level == "debug"
    assert cfg.data_dir == tmp_path / "dd"
    assert (cfg.server.host, cfg.server.port, cfg.server.public_url) == ("0.0.0.0", 9981, "https://hooks.example")
    assert cfg.temporal.address == "localhost:7233"
    assert cfg.temporal.namespace == "ns"
    assert cfg.temporal.persistent is False
    assert cfg.temporal.ui_port == 8233
    assert cfg.temporal.task_queue == "q"
    assert cfg.sessions.sync_timeout == 5.0
    assert isinstance(cfg.sessions.sync_timeout, float)
    assert cfg.sessions.max_body_bytes == 1024
    assert cfg.sessions.max_step_result_bytes == 2048


def test_example_file_is_valid(tmp_path: Path) -> None:
    example = Path(__file__).resolve().parents[1] / "akd.toml.example"
    cfg = load_config(example, environ={})
    assert cfg.server.port == 9980
    assert cfg.sessions.max_body_bytes == 524288


def test_akd_config_env_names_the_file(tmp_path: Path) -> None:
    path = write_toml(tmp_path, "[server]\nport = 1234\n", "other.toml")
    assert load_config(environ={"AKD_CONFIG": str(path)}).server.port == 1234


def test_file_in_default_data_dir_is_read(tmp_path: Path) -> None:
    data_dir = tmp_path / "xdg" / "akd"
    data_dir.mkdir(parents=True)
    write_toml(data_dir, "[server]\nport = 1235\n")
    assert load_config().server.port == 1235


def test_file_in_flag_data_dir_is_read(tmp_path: Path) -> None:
    data_dir = tmp_path / "flagged"
    data_dir.mkdir()
    write_toml(data_dir, "[server]\nport = 1236\n")
    assert load_config(data_dir=data_dir, environ={}).server.port == 1236


# -- precedence ----------------------------------------------------------------------------


def test_env_beats_file(tmp_path: Path) -> None:
    path = write_toml(tmp_path, '[server]\nport = 1111\nhost = "127.0.0.2"\n[temporal]\npersistent = true\n')
    env = {"AKD_SERVER_PORT": "2222", "AKD_TEMPORAL_PERSISTENT": "false", "AKD_SESSIONS_SYNC_TIMEOUT": "1.5"}
    cfg = load_config(path, environ=env)
    assert cfg.server.port == 2222
    assert cfg.server.host == "127.0.0.2"  # not overridden: the file's value stays
    assert cfg.temporal.persistent is False
    assert cfg.sessions.sync_timeout == 1.5


def test_env_log_level(tmp_path: Path) -> None:
    path = write_toml(tmp_path, 'log_level = "warning"\n')
    assert load_config(path, environ={"AKD_LOG_LEVEL": "debug"}).log_level == "debug"


def test_flags_beat_env_and_file(tmp_path: Path) -> None:
    path = write_toml(tmp_path, f'data_dir = "{tmp_path / "file"}"\n[server]\nport = 1111\n')
    env = {"AKD_SERVER_PORT": "2222"}
    cfg = load_config(path, data_dir=tmp_path / "flag", port=3333, environ=env)
    assert cfg.server.port == 3333
    assert cfg.data_dir == tmp_path / "flag"


def test_port_zero_is_allowed() -> None:
    assert load_config(port=0, environ={}).server.port == 0


def test_akd_data_dir_env_sets_data_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("AKD_DATA_DIR", str(tmp_path / "env"))
    assert load_config().data_dir == tmp_path / "env"


def test_akd_data_dir_env_beats_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("AKD_DATA_DIR", str(tmp_path / "env"))
    path = write_toml(tmp_path, f'data_dir = "{tmp_path / "file"}"\n')
    assert load_config(path).data_dir == tmp_path / "env"


def test_akd_data_dir_in_given_environ(tmp_path: Path) -> None:
    assert load_config(environ={"AKD_DATA_DIR": str(tmp_path / "given")}).data_dir == tmp_path / "given"


def test_unrelated_akd_env_vars_are_ignored() -> None:
    env = {"AKD_URL": "http://x", "AKD_TOKEN": "t", "AKD_SOMETHING": "1"}
    assert load_config(environ=env) == load_config(environ={})


# -- errors --------------------------------------------------------------------------------


def test_unknown_section_is_named(tmp_path: Path) -> None:
    path = write_toml(tmp_path, "[srever]\nport = 1\n")
    with pytest.raises(InvalidArgument, match="srever") as info:
        load_config(path, environ={})
    assert str(path) in info.value.message


def test_unknown_top_level_key_is_named(tmp_path: Path) -> None:
    path = write_toml(tmp_path, 'colour = "red"\n')
    with pytest.raises(InvalidArgument, match="colour"):
        load_config(path, environ={})


def test_unknown_key_in_section_is_named(tmp_path: Path) -> None:
    path = write_toml(tmp_path, "[server]\nprot = 1\n")
    with pytest.raises(InvalidArgument, match=r"\[server\] prot") as info:
        load_config(path, environ={})
    assert str(path) in info.value.message
    assert "port" in info.value.message  # the known keys are listed


def test_unknown_env_key_is_named() -> None:
    with pytest.raises(InvalidArgument, match="prot") as info:
        load_config(environ={"AKD_SERVER_PROT": "1"})
    assert "environment" in info.value.message


def test_section_must_be_a_table(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument, match=r"\[server\] must be a table"):
        load_config(write_toml(tmp_path, "server = 5\n"), environ={})


@pytest.mark.parametrize(
    ("toml", "where"),
    [
        ('[server]\nport = "not-a-port"\n', "port"),
        ("[server]\nport = true\n", "port"),
        ("[server]\nport = 1.5\n", "port"),
        ("[server]\nhost = 5\n", "host"),
        ("[temporal]\npersistent = 3\n", "persistent"),
        ('[temporal]\npersistent = "maybe"\n', "persistent"),
        ('[sessions]\nsync_timeout = "soon"\n', "sync_timeout"),
        ("[sessions]\nsync_timeout = false\n", "sync_timeout"),
        ("log_level = 3\n", "log_level"),
    ],
)
def test_wrong_type_in_file(tmp_path: Path, toml: str, where: str) -> None:
    with pytest.raises(InvalidArgument, match=where):
        load_config(write_toml(tmp_path, toml), environ={})


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("AKD_SERVER_PORT", "abc"),
        ("AKD_SERVER_PORT", "1.5"),
        ("AKD_TEMPORAL_PERSISTENT", "maybe"),
        ("AKD_SESSIONS_MAX_BODY_BYTES", "lots"),
    ],
)
def test_wrong_type_in_env(name: str, value: str) -> None:
    with pytest.raises(InvalidArgument, match="expected"):
        load_config(environ={name: value})


def test_bad_toml_names_the_file(tmp_path: Path) -> None:
    path = write_toml(tmp_path, "[server\nport = \n")
    with pytest.raises(InvalidArgument) as info:
        load_config(path, environ={})
    assert str(path) in info.value.message


def test_missing_config_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    with pytest.raises(InvalidArgument, match="does not exist") as info:
        load_config(missing, environ={})
    assert str(missing) in info.value.message


@pytest.mark.parametrize("port", [-1, 65536, 100000])
def test_invalid_port_flag(port: int) -> None:
    with pytest.raises(InvalidArgument, match="port"):
        load_config(port=port, environ={})


def test_invalid_port_in_file(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument, match="70000"):
        load_config(write_toml(tmp_path, "[server]\nport = 70000\n"), environ={})


def test_invalid_port_in_env() -> None:
    with pytest.raises(InvalidArgument, match="port"):
        load_config(environ={"AKD_SERVER_PORT": "-5"})


def test_http_limit_defaults_and_overrides(tmp_path: Path) -> None:
    server = load_config(environ={}).server
    assert (server.max_connections, server.header_timeout, server.body_timeout, server.idle_timeout) == (
        256,
        10.0,
        30.0,
        5.0,
    )
    path = write_toml(tmp_path, "[server]\nmax_connections = 40\nheader_timeout = 2\nbody_timeout = 7.5\n")
    server = load_config(path, environ={"AKD_SERVER_IDLE_TIMEOUT": "0.5"}).server
    assert (server.max_connections, server.header_timeout, server.body_timeout, server.idle_timeout) == (
        40,
        2.0,
        7.5,
        0.5,
    )
    example = load_config(Path(__file__).resolve().parents[1] / "akd.toml.example", environ={}).server
    assert (example.max_connections, example.header_timeout, example.body_timeout, example.idle_timeout) == (
        256,
        10.0,
        30.0,
        5.0,
    )


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("AKD_SERVER_MAX_CONNECTIONS", "0", "max_connections: 0 must be at least 1"),
        ("AKD_SERVER_HEADER_TIMEOUT", "0", "header_timeout"),
        ("AKD_SERVER_BODY_TIMEOUT", "-1", "body_timeout"),
        ("AKD_SERVER_IDLE_TIMEOUT", "nan", "idle_timeout"),
        ("AKD_SERVER_BODY_TIMEOUT", "inf", "body_timeout"),
    ],
)
def test_http_limits_must_be_positive(name: str, value: str, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message):
        load_config(environ={name: value})


def test_config_is_immutable() -> None:
    cfg = load_config()
    assert isinstance(cfg, Config)
    with pytest.raises(AttributeError):
        cfg.server.port = 1  # type: ignore[misc]


# -- ids -----------------------------------------------------------------------------------


@pytest.mark.parametrize("prefix", ["prj", "bld", "dep", "trg", "evt", "ses"])
def test_id_shape(prefix: str) -> None:
    assert prefix in PREFIXES
    value = new_id(prefix)
    head, sep, body = value.partition("_")
    assert (head, sep) == (prefix, "_")
    assert ID_BODY.match(body), value
    assert set(body) <= CROCKFORD
    assert has_prefix(value, prefix)
    assert not has_prefix(value, "xyz" if prefix != "xyz" else "abc")


def test_unknown_prefix_is_refused() -> None:
    with pytest.raises(ValueError, match="nope"):
        new_id("nope")


def test_has_prefix_checks_length() -> None:
    assert not has_prefix("ses_short", "ses")
    assert not has_prefix("ses_" + "0" * 27, "ses")
    assert has_prefix("ses_" + "0" * 26, "ses")


def _next_millisecond() -> None:
    """Busy-wait until the millisecond clock moves on (ids are ordered by it)."""
    start = time.time_ns() // 1_000_000
    while time.time_ns() // 1_000_000 <= start:
        pass


def test_ids_sort_by_creation_time() -> None:
    ids = []
    for _ in range(20):
        ids.append(new_id("ses"))
        _next_millisecond()
    assert sorted(ids) == ids


def test_id_time_part_is_the_creation_millisecond() -> None:
    before = time.time_ns() // 1_000_000
    value = new_id("evt")
    after = time.time_ns() // 1_000_000
    alphabet = "0123456789abcdefghjkmnpqrstvwxyz"
    millis = 0
    for ch in value[4:14]:
        millis = millis * 32 + alphabet.index(ch)
    assert before <= millis <= after


def test_ids_are_unique() -> None:
    ids = [new_id("evt") for _ in range(10_000)]
    assert len(set(ids)) == len(ids)


def test_derived_id_is_deterministic() -> None:
    a = derived_id("evt", 1_700_000_000_000, "tick:trg_x:1")
    assert a == derived_id("evt", 1_700_000_000_000, "tick:trg_x:1")
    assert a != derived_id("evt", 1_700_000_000_000, "tick:trg_x:2")
    assert has_prefix(a, "evt")
    assert ID_BODY.match(a[4:])
    assert derived_id("evt", 1_700_000_000_000, "k") < derived_id("evt", 1_700_000_000_001, "k")


def test_a_short_server_token_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument, match=r"\[server\] token: use at least 16 characters"):
        load_config(environ={"AKD_DATA_DIR": str(tmp_path), "AKD_SERVER_TOKEN": "short"})


def test_the_server_token_comes_from_the_environment(tmp_path: Path) -> None:
    cfg = load_config(environ={"AKD_DATA_DIR": str(tmp_path), "AKD_SERVER_TOKEN": "x" * 32})
    assert cfg.server.token == "x" * 32


def test_an_api_only_akd_needs_a_shared_store_and_temporal(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument, match="API-only akd"):
        load_config(environ={"AKD_DATA_DIR": str(tmp_path), "AKD_SERVER_WORKER": "false"})
    shared = {"AKD_STORE_URL": "postgresql://h/db", "AKD_TEMPORAL_ADDRESS": "t:7233"}
    cfg = load_config(environ={"AKD_DATA_DIR": str(tmp_path), "AKD_SERVER_WORKER": "false", **shared})
    assert cfg.server.worker is False

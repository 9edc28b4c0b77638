"""Configuration: defaults, then ``akd.toml``, then ``AKD_<SECTION>_<KEY>`` env vars.

Bad configuration raises ``InvalidArgument`` with one precise message; the daemon's
entry point turns that into exit code 40.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from akd import integrations
from akd.errors import InvalidArgument


def default_data_dir(environ: dict[str, str] | None = None) -> Path:
    """``$AKD_DATA_DIR``, else ``$XDG_DATA_HOME/akd``, else ``~/.local/share/akd``."""
    env = os.environ if environ is None else environ
    if env.get("AKD_DATA_DIR"):
        return Path(env["AKD_DATA_DIR"]).expanduser()
    xdg = env.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(xdg).expanduser() / "akd"


@dataclass(frozen=True)
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 9980
    # URL printed for webhooks; empty means http://host:port.
    public_url: str = ""
    # The API token, instead of the one akd generates into <data_dir>/token (which then
    # holds this one, for akctl): the nodes of one deployment share it. Better given as
    # $AKD_SERVER_TOKEN than written into akd.toml.
    token: str = ""
    # false: an API-only akd (API, webhooks, web UI, dispatch), which runs no session itself;
    # it needs a shared store ([store] url) and Temporal ([temporal] address) with akd
    # nodes that do.
    worker: bool = True
    # This akd's name among several on one store (shown as a session's worker); empty:
    # <host name>:<port>.
    node: str = ""
    # HTTP connections open at once. At the cap a new connection closes the oldest one
    # with no request in flight; when every one is busy, the newcomer gets 503.
    max_connections: int = 256
    # Seconds for a request head to arrive, from the connection opening (or from its first
    # byte after a keep-alive pause); then the connection is closed.
    header_timeout: float = 10.0
    # Seconds for a whole request body to arrive after its head; then 408 and close.
    body_timeout: float = 30.0
    # Seconds a keep-alive connection may wait for its next request.
    idle_timeout: float = 5.0


@dataclass(frozen=True)
class TemporalConfig:
    # Empty: run the embedded dev server; "host:port": use that cluster instead.
    address: str = ""
    namespace: str = "default"
    # An external cluster over TLS: tls = true with the system's CAs, or tls_ca_file for a
    # private CA; tls_cert_file + tls_key_file for mutual TLS; tls_server_name when the
    # certificate's name differs from the address's host. Any tls_* file turns TLS on.
    tls: bool = False
    tls_ca_file: str = ""
    tls_cert_file: str = ""
    tls_key_file: str = ""
    tls_server_name: str = ""
    # An API key (Temporal Cloud), sent as a bearer token; it turns TLS on. Better given as
    # $AKD_TEMPORAL_API_KEY than written into akd.toml.
    api_key: str = ""
    # Seconds before a workflow task that got no answer (its akd was killed) is given to a
    # worker again: another akd on the same task queue takes a dead one's sessions over
    # after this. 0: 5 s on the embedded server, 2.5 s on a cluster.
    workflow_task_timeout: float = 0.0
    # Keep the embedded server's history in <data_dir>/temporal.db (false: in memory).
    persistent: bool = True
    # Port of the embedded server's web UI; 0 disables the UI.
    ui_port: int = 0
    task_queue: str = "akd-sessions"
    # SQLite pragmas of the embedded server's temporal.db, comma-separated. WAL with
    # synchronous=normal survives kill -9 (only power loss may drop the last commits)
    # and doubles the server's throughput here (bench/RESULTS.md, tuning table).
    sqlite_pragmas: str = "journal_mode=wal,synchronous=normal"
    # Partitions of the embedded server's task queues: one is fastest for a single worker
    # (the server's default, 4, spreads polls and tasks over four).
    task_queue_partitions: int = 1
    # Start session workflows eagerly: the first workflow task comes back in the start
    # answer instead of through a poll (saves a server round trip per session).
    eager_start: bool = True


@dataclass(frozen=True)
class SessionsConfig:
    # Seconds a sync webhook waits for an http_outcome before answering 504.
    sync_timeout: float = 30.0
    # Largest accepted webhook body, in bytes.
    max_body_bytes: int = 512 * 1024
    # Largest journaled step result, in bytes.
    max_step_result_bytes: int = 1024 * 1024
    # Replay check (for testing session code, slow): after each journaled step or SDK call
    # a durable session parks and a fresh runner replays it, as after a restart.
    replay_each_step: bool = False


@dataclass(frozen=True)
class RunnerConfig:
    # Limits of a session's runner; 0 means no limit. memory_mb and processes bound the
    # runner's whole tree (the runner and every process its code started), checked by a
    # watchdog a few times a second: resident memory (RSS, MiB) and live processes; over
    # either, the tree is killed and the session ends in error. The rest are rlimits of
    # each process: address_space_mb (RLIMIT_AS, opt-in: java and chromium reserve far
    # more than they use), cpu_seconds, open_files, and user_processes (RLIMIT_NPROC,
    # opt-in: it counts every thread of the OS user machine-wide, and root ignores it).
    memory_mb: int = 2048
    processes: int = 512
    cpu_seconds: int = 0
    open_files: int = 1024
    address_space_mb: int = 0
    user_processes: int = 0
    # Print output kept per session; beyond it prints are dropped (and the drop is logged).
    max_print_bytes: int = 16 * 1024 * 1024
    # Runner processes alive at once; further session segments wait for a free one.
    max_live: int = 64
    # Runners in the SCHED_BATCH policy (Linux): the same CPU share, but waking one does
    # not preempt akd in the middle of its work (see akd.procs.yield_on_wakeup).
    batch_scheduling: bool = True
    # Fork runners from a warm fork server (a few ms each); off, each runner is a fresh
    # interpreter (~80 ms more per session segment). For debugging and tests.
    fork_server: bool = True


@dataclass(frozen=True)
class RetentionConfig:
    # Finished sessions (with their logs) and events older than this are deleted; 0 keeps all.
    days: float = 30.0
    # How often the retention sweep runs, in seconds.
    interval: float = 3600.0
    # Each log file in <data_dir>/logs is cut back past this size (the old part kept as
    # <name>.1), checked at each sweep; 0 never cuts.
    log_max_mb: float = 16.0


@dataclass(frozen=True)
class EventsConfig:
    # Quotas of stored webhook events over a sliding minute, per trigger and for all
    # webhooks together; over one the webhook answers 429 with Retry-After. 0: no limit.
    # Sizes are of the stored event (body, headers, query), in MiB.
    trigger_events_per_minute: int = 6000
    trigger_mb_per_minute: float = 256.0
    total_events_per_minute: int = 24000
    total_mb_per_minute: float = 1024.0
    # Below this much free space on the data dir's disk new events get 503, so running
    # sessions still have room to finish; 0 turns the reserve off.
    min_free_mb: float = 32.0


@dataclass(frozen=True)
class StoreConfig:
    # Empty: SQLite in the data dir (akd.db). "postgresql://user:pass@host:port/db" (or
    # postgres://): akd's state in that Postgres database instead (docs/postgres.md).
    url: str = ""
    # Start with a new, empty akd.db although temporal.db or builds/ show an earlier one
    # existed (it was deleted or moved). Meant for one start (`akd --allow-new-database`).
    allow_new_database: bool = False


@dataclass(frozen=True)
class OAuthEndpointConfig:
    """``[oauth.<integration>]``: the vendor's OAuth endpoints, for a self-hosted vendor or
    a local stand-in; empty keeps akd's default (``akd.oauth.ENDPOINTS``)."""

    authorize_url: str = ""
    token_url: str = ""
    # Space-separated scopes asked for; empty: the integration's default scopes.
    scopes: str = ""


@dataclass(frozen=True)
class Config:
    data_dir: Path = field(default_factory=default_data_dir)
    server: ServerConfig = field(default_factory=ServerConfig)
    temporal: TemporalConfig = field(default_factory=TemporalConfig)
    sessions: SessionsConfig = field(default_factory=SessionsConfig)
    runner: RunnerConfig = field(default_factory=RunnerConfig)
    retention: RetentionConfig = field(default_factory=RetentionConfig)
    events: EventsConfig = field(default_factory=EventsConfig)
    store: StoreConfig = field(default_factory=StoreConfig)
    # Per-integration OAuth endpoint overrides, by integration name.
    oauth: dict[str, OAuthEndpointConfig] = field(default_factory=dict)
    log_level: str = "info"

    @property
    def base_url(self) -> str:
        if self.server.public_url:
            return self.server.public_url.rstrip("/")
        return f"http://{self.server.host}:{self.server.port}"


_SECTIONS: dict[str, type[Any]] = {
    "server": ServerConfig,
    "temporal": TemporalConfig,
    "sessions": SessionsConfig,
    "runner": RunnerConfig,
    "retention": RetentionConfig,
    "events": EventsConfig,
    "store": StoreConfig,
}
_TOP_LEVEL = {"data_dir", "log_level", "oauth"}
_OAUTH_KEYS = tuple(f.name for f in fields(OAuthEndpointConfig))


def _coerce(value: Any, to: type[Any], where: str) -> Any:
    if to is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("1", "true", "yes", "on", "0", "false", "no", "off"):
            return value.lower() in ("1", "true", "yes", "on")
    elif to is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            return int(value)
    elif to is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
    elif isinstance(value, str):
        return value
    raise InvalidArgument(f"config {where}: expected {to.__name__}, got {value!r}")


def _field_type(cls: type[Any], name: str) -> type[Any]:
    for f in fields(cls):
        if f.name == name:
            return {"str": str, "int": int, "float": float, "bool": bool}[str(f.type)]
    raise KeyError(name)


def _apply_section(base: Any, section: str, values: dict[str, Any], origin: str) -> Any:
    cls = _SECTIONS[section]
    known = {f.name for f in fields(cls)}
    changes: dict[str, Any] = {}
    for key, value in values.items():
        if key not in known:
            raise InvalidArgument(f"{origin}: unknown setting [{section}] {key}; known: {', '.join(sorted(known))}")
        changes[key] = _coerce(value, _field_type(cls, key), f"{origin} [{section}] {key}")
    return replace(base, **changes)


def _apply(cfg: Config, data: dict[str, Any], origin: str) -> Config:
    for key, value in data.items():
        if key in _SECTIONS:
            if not isinstance(value, dict):
                raise InvalidArgument(f"{origin}: [{key}] must be a table")
            cfg = replace(cfg, **{key: _apply_section(getattr(cfg, key), key, value, origin)})
        elif key == "data_dir":
            cfg = replace(cfg, data_dir=Path(str(value)).expanduser())
        elif key == "log_level":
            cfg = replace(cfg, log_level=_coerce(value, str, f"{origin} log_level"))
        elif key == "oauth":
            cfg = replace(cfg, oauth=_apply_oauth(cfg.oauth, value, origin))
        else:
            known = sorted(_TOP_LEVEL | set(_SECTIONS))
            raise InvalidArgument(f"{origin}: unknown setting {key!r}; known: {', '.join(known)}")
    return cfg


def _apply_oauth(base: dict[str, OAuthEndpointConfig], tables: Any, origin: str) -> dict[str, OAuthEndpointConfig]:
    """``[oauth.<integration>]`` tables; the integration must be one akd knows."""
    if not isinstance(tables, dict):
        raise InvalidArgument(f"{origin}: [oauth] must hold tables like [oauth.github]")
    out = dict(base)
    for name, values in tables.items():
        where = f"{origin} [oauth.{name}]"
        if integrations.find(name) is None:
            raise InvalidArgument(f"{where}: unknown integration; known: {', '.join(integrations.known_names())}")
        if not isinstance(values, dict):
            raise InvalidArgument(f"{where} must be a table (authorize_url, token_url, scopes)")
        unknown = set(values) - set(_OAUTH_KEYS)
        if unknown:
            raise InvalidArgument(f"{where}: unknown setting {sorted(unknown)[0]}; known: {', '.join(_OAUTH_KEYS)}")
        changes = {k: _coerce(v, str, f"{where} {k}") for k, v in values.items()}
        for key in ("authorize_url", "token_url"):
            if changes.get(key) and not str(changes[key]).startswith(("http://", "https://")):
                raise InvalidArgument(f"{where} {key}: expected an http(s) URL, got {changes[key]!r}")
        canonical = integrations.get(name).name
        out[canonical] = replace(out.get(canonical, OAuthEndpointConfig()), **changes)
    return out


def _oauth_env(rest: str) -> tuple[str, str] | None:
    """``oauth_<integration>_<key>`` (from ``AKD_OAUTH_...``; the integration may hold
    underscores, the key is one of the known ones) to (integration, key)."""
    if rest.startswith("oauth_"):
        for key in _OAUTH_KEYS:
            integration = rest[len("oauth_") : -len(key) - 1]
            if rest.endswith("_" + key) and integration:
                return integration, key
    return None


def _env_overrides(environ: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in environ.items():
        if not name.startswith("AKD_") or name in ("AKD_DATA_DIR", "AKD_URL", "AKD_TOKEN", "AKD_CONFIG"):
            continue
        rest = name[4:].lower()
        oauth = _oauth_env(rest)
        if oauth is not None:
            out.setdefault("oauth", {}).setdefault(oauth[0], {})[oauth[1]] = value
            continue
        for section in _SECTIONS:
            if rest.startswith(section + "_"):
                out.setdefault(section, {})[rest[len(section) + 1 :]] = value
                break
        else:
            if rest == "log_level":
                out["log_level"] = value
    return out


def load_config(
    path: Path | None = None,
    *,
    data_dir: Path | None = None,
    port: int | None = None,
    environ: dict[str, str] | None = None,
) -> Config:
    """Defaults < ``akd.toml`` < environment < command-line flags.

    Without ``--config`` (or ``$AKD_CONFIG``) the file is ``<data_dir>/akd.toml``, where the
    data dir is the flag's, else ``$AKD_DATA_DIR``'s, else the XDG default.
    """
    environ = dict(os.environ if environ is None else environ)
    cfg = Config(data_dir=default_data_dir(environ))
    if path is None and environ.get("AKD_CONFIG"):
        path = Path(environ["AKD_CONFIG"])
    if path is None:
        candidate = (data_dir.expanduser() if data_dir is not None else cfg.data_dir) / "akd.toml"
        path = candidate if candidate.is_file() else None
    if path is not None:
        try:
            data = tomllib.loads(path.read_text())
        except FileNotFoundError:
            raise InvalidArgument(f"config file {path} does not exist") from None
        except tomllib.TOMLDecodeError as exc:
            raise InvalidArgument(f"config file {path}: {exc}") from None
        cfg = _apply(cfg, data, str(path))
    cfg = _apply(cfg, _env_overrides(environ), "environment")
    if environ.get("AKD_DATA_DIR"):
        cfg = replace(cfg, data_dir=Path(environ["AKD_DATA_DIR"]).expanduser())
    if data_dir is not None:
        cfg = replace(cfg, data_dir=data_dir.expanduser())
    if port is not None:
        cfg = replace(cfg, server=replace(cfg.server, port=port))
    _check_server(cfg.server)
    _check_temporal(cfg.temporal)
    _check_store(cfg.store)
    if not cfg.server.worker and not (cfg.store.url and cfg.temporal.address):
        raise InvalidArgument(
            "config [server] worker = false makes an API-only akd, which runs no session: it needs a shared"
            " store ([store] url) and Temporal ([temporal] address) that akd nodes with workers use too"
        )
    return cfg


def _check_temporal(temporal: TemporalConfig) -> None:
    if temporal.workflow_task_timeout != 0 and not 1 <= temporal.workflow_task_timeout <= 60:
        raise InvalidArgument("config [temporal] workflow_task_timeout: 0 (the default) or 1 to 60 seconds")
    if bool(temporal.tls_cert_file) != bool(temporal.tls_key_file):
        raise InvalidArgument("config [temporal]: tls_cert_file and tls_key_file go together (mutual TLS needs both)")
    external = ("tls", "tls_ca_file", "tls_cert_file", "tls_key_file", "tls_server_name", "api_key")
    if not temporal.address and any(getattr(temporal, name) for name in external):
        raise InvalidArgument(
            "config [temporal]: TLS and api_key settings are for an external cluster; set [temporal] address"
            " (the embedded dev server speaks plain gRPC on 127.0.0.1)"
        )


def _check_store(store: StoreConfig) -> None:
    if store.url and not store.url.startswith(("postgresql://", "postgres://")):
        scheme = store.url.split("://", 1)[0] if "://" in store.url else store.url[:20]
        raise InvalidArgument(
            f"config [store] url: expected empty (SQLite in the data dir) or a postgresql:// URL, got {scheme!r}..."
        )


def _check_server(server: ServerConfig) -> None:
    if server.token and (len(server.token) < 16 or any(c.isspace() for c in server.token)):
        raise InvalidArgument("config [server] token: use at least 16 characters and no spaces (a random string)")
    if not 0 <= server.port <= 65535:
        raise InvalidArgument(f"config [server] port: {server.port} is not a valid port (0-65535)")
    if server.max_connections < 1:
        raise InvalidArgument(f"config [server] max_connections: {server.max_connections} must be at least 1")
    for name in ("header_timeout", "body_timeout", "idle_timeout"):
        value = getattr(server, name)
        if not 0 < value < float("inf"):
            raise InvalidArgument(f"config [server] {name}: {value} must be a positive number of seconds")

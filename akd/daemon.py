"""The akd daemon's lifecycle: start its parts in order, stop them in reverse."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import gc
import json
import logging
import os
import secrets
import signal
import socket
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import uvicorn

from akd import instances
from akd.api import limits
from akd.app import create_app
from akd.config import Config
from akd.engine.activities import EngineContext
from akd.engine.builds import store_missing_files
from akd.engine.connect import embedded_target, external_target, task_timeout
from akd.engine.outcomes import OutcomeRegistry
from akd.engine.reconcile import Reconciler
from akd.engine.runners import RunnerHub
from akd.engine.worker import Engine
from akd.errors import FailedPrecondition, Unavailable
from akd.heartbeat import Heartbeat
from akd.notify import Notifier
from akd.outbox import Outbox
from akd.services import nodes, oauth, retention
from akd.services.context import AppContext
from akd.services.dispatch import Dispatcher
from akd.services.quota import EventQuota
from akd.services.socket_mode import SocketMode
from akd.store.db import Database, open_database
from akd.temporal_server import ExternalTemporal, TemporalDevServer

log = logging.getLogger(__name__)


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: the daemon owns the signals."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def ensure_token(data_dir: Path, given: str = "") -> str:
    """The API token: ``given`` (``[server] token``) or the one in ``<data_dir>/token``,
    generated on first start. The file (mode 0600) always holds the token in force, so
    akctl on this machine finds it."""
    path = data_dir / "token"
    if not given and path.exists():
        return path.read_text().strip()
    token = given or secrets.token_urlsafe(32)
    tmp = data_dir / "token.tmp"
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(token + "\n")
    os.replace(tmp, path)
    return token


def prepare_data_dir(path: Path) -> None:
    """Create the data dir private (0700), or make an existing one of ours private.

    A directory other users may write to (mode 1777 like /tmp, or group-writable), or one
    that belongs to another user, is refused rather than chmodded: they may have planted
    files or links in it, and taking it over would lock its other users out.
    """
    try:
        st = path.stat()
    except FileNotFoundError:
        path.mkdir(mode=0o700, parents=True)
        return
    mode = stat.S_IMODE(st.st_mode)
    if mode & 0o022:
        raise FailedPrecondition(
            f"the data dir {path} is writable by other users (mode {mode:04o}); akd keeps its token and "
            "databases there: pick a private directory with --data-dir (or chmod 700 it)"
        )
    if st.st_uid != os.geteuid():
        raise FailedPrecondition(
            f"the data dir {path} belongs to another user (uid {st.st_uid}); pick your own with --data-dir"
        )
    if mode & 0o077:
        log.warning("the data dir %s was readable by other users (mode %04o); made it private (0700)", path, mode)
        os.chmod(path, 0o700)


def refuse_new_database(data_dir: Path) -> None:
    """No silent fresh start: a missing ``akd.db`` next to an earlier run's files was lost.

    Without this check a deleted database came back empty at the next start (no projects,
    no events) while Temporal still held the old sessions' histories.
    """
    path = data_dir / "akd.db"
    traces = [name for name in ("temporal.db", "builds") if (data_dir / name).exists()]
    if path.exists() or not traces:
        return
    raise FailedPrecondition(
        f"the database {path} is missing, but {' and '.join(traces)} in {data_dir} show akd ran here before: "
        "akd.db was deleted or moved. Put it back (or restore it from a backup) and start akd again; "
        "to start over with an empty database (every project, deployment and event is gone), start once "
        "with `akd --allow-new-database` (or AKD_STORE_ALLOW_NEW_DATABASE=1 akctl up)"
    )


PORT_FILE = "port"


def remembered_port(data_dir: Path) -> int | None:
    """The port of the last ``akd --port N`` / ``akctl up --port N`` on this data dir."""
    try:
        text = (data_dir / PORT_FILE).read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() and int(text) <= 65535 else None


class Daemon:
    def __init__(self, config: Config, remember_port: bool = False) -> None:
        """``remember_port``: the port was chosen on the command line; keep it for the next
        start without one (so webhook URLs survive ``akctl down`` and ``akctl up``)."""
        self.config = config
        self.remember_port = remember_port
        self.data_dir = config.data_dir
        self._lock_file: IO[str] | None = None
        self._owns_data_dir = False
        self._retention: asyncio.Task[None] | None = None
        self._heartbeat = Heartbeat(config.data_dir)
        self._reconciler: Reconciler | None = None
        self._server: _Server | None = None
        self._serve_task: asyncio.Task[None] | None = None
        self._socket_mode: SocketMode | None = None
        self.ctx: AppContext | None = None  # complete once startup() has built every part
        # Each part as soon as it is built, so a start that fails half-way stops what started.
        self._db: Database | None = None
        self._hub: RunnerHub | None = None
        self._temporal: TemporalDevServer | None = None
        self._engine: Engine | None = None
        self._dispatcher: Dispatcher | None = None

    def _lock(self) -> None:
        """One akd per data dir: an exclusive lock held for the daemon's life."""
        self._lock_file = (self.data_dir / "akd.lock").open("a+")
        try:
            fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            info = self.data_dir / "daemon.json"
            detail = info.read_text().strip() if info.exists() else "starting"
            raise FailedPrecondition(
                f"another akd is already running on data dir {self.data_dir} ({detail}); "
                "stop it with `akctl down` or use another --data-dir"
            ) from None

    async def startup(self) -> None:
        # 1. Data dir (0700, writable) and the single-daemon lock. Everything akd and its
        #    children create from here on is private to this user (databases, logs, the
        #    Temporal database, daemon.json): files 0600, directories 0700.
        os.umask(0o077)
        try:
            prepare_data_dir(self.data_dir)
        except OSError as exc:
            raise Unavailable(
                f"cannot use the data dir {self.data_dir}: {exc.strerror}; pick another with --data-dir"
            ) from None
        self._check_writable()
        self._lock()
        self._owns_data_dir = True
        (self.data_dir / "daemon.json").unlink(missing_ok=True)
        # 2. API token and database (migrations run before anything reads it).
        token = ensure_token(self.data_dir, self.config.server.token)
        if not self.config.store.allow_new_database and not self.config.store.url:
            refuse_new_database(self.data_dir)  # the SQLite file's traces; Postgres is not in the data dir
        node = self.config.server.node or socket.gethostname()
        self._db = db = open_database(self.config.store.url, self.data_dir / "akd.db", name=f"akd {node}")
        await db.open()
        if self.config.store.url:
            await nodes.check_secret_key(db, self.data_dir)
        if stored := await store_missing_files(db, self.data_dir):
            log.info("kept the files of %d earlier builds in the store", stored)
        # When the previous akd was last seen: resumed sessions log how long akd was down.
        down_since = self._heartbeat.last_alive()
        self._heartbeat.start()
        quota = EventQuota(self.config.events, self.data_dir)
        # 3. Bind the HTTP socket early, so the base URL (and port 0) is known.
        sock = self._bind()
        port = sock.getsockname()[1]
        if self.remember_port:
            (self.data_dir / PORT_FILE).write_text(f"{self.config.server.port}\n")
        base_url = self.config.server.public_url.rstrip("/") or f"http://{self.config.server.host}:{port}"
        # 4. Temporal (the embedded dev server, or an external cluster) and the runner hub
        #    with its fork server, started side by side: both are mostly waiting.
        temporal_cfg, runner_cfg = self.config.temporal, self.config.runner
        self._hub = hub = RunnerHub(
            self.data_dir, max_live=max(1, runner_cfg.max_live), batch=runner_cfg.batch_scheduling
        )
        temporal: TemporalDevServer | ExternalTemporal
        if temporal_cfg.address:
            # Read the TLS files now: a bad path stops akd naming it, before anything starts.
            target = external_target(temporal_cfg)
            temporal = ExternalTemporal(temporal_cfg.address)
            if self.config.server.worker:  # an API-only akd runs no runner, hence no fork server
                await hub.start(use_forkserver=runner_cfg.fork_server)
        else:
            self._temporal = temporal = TemporalDevServer(
                self.data_dir,
                persistent=temporal_cfg.persistent,
                ui_port=temporal_cfg.ui_port,
                namespace=temporal_cfg.namespace,
                sqlite_pragmas=[p.strip() for p in temporal_cfg.sqlite_pragmas.split(",") if p.strip()],
                task_queue_partitions=temporal_cfg.task_queue_partitions,
            )
            await asyncio.gather(temporal.start(), hub.start(use_forkserver=runner_cfg.fork_server))
            target = embedded_target(temporal.address, temporal_cfg.namespace)
        address = target.address
        # 5. The Temporal worker, and the dispatcher of stored events (ticks reach it
        #    through the outbox, so the engine never calls up into it).
        notifier, outbox = Notifier(), Outbox()
        engine_ctx = EngineContext(
            db,
            hub,
            self.data_dir / "builds",
            base_url,
            self.config.sessions.max_step_result_bytes,
            notifier,
            outbox,
            oauth.Refresher(db, self.data_dir, self.config.oauth),
            limits={
                "memory_mb": runner_cfg.memory_mb, "cpu_seconds": runner_cfg.cpu_seconds,
                "open_files": runner_cfg.open_files, "processes": runner_cfg.processes,
                "address_space_mb": runner_cfg.address_space_mb, "user_processes": runner_cfg.user_processes,
            },
            max_print_bytes=runner_cfg.max_print_bytes,
            down_since=down_since,
            replay_each_step=self.config.sessions.replay_each_step,
            node=self.config.server.node or f"{socket.gethostname()}:{port}",
            outcomes=OutcomeRegistry(shared=bool(self.config.store.url)),
        )  # fmt: skip
        self._engine = engine = Engine(
            engine_ctx, target=target, task_queue=temporal_cfg.task_queue, eager_start=temporal_cfg.eager_start,
            task_timeout=task_timeout(temporal_cfg), worker=self.config.server.worker,
        )  # fmt: skip
        await engine.start()
        self._dispatcher = dispatcher = Dispatcher(db, engine, outbox)
        self.ctx = ctx = AppContext(
            config=self.config, db=db, token=token, quota=quota, hub=hub, temporal=temporal, engine=engine,
            dispatcher=dispatcher, notifier=notifier, base_url=base_url,
        )  # fmt: skip
        await ctx.engine.reconcile_schedules()
        # 6. HTTP API, then recovery of events and sessions a crash left behind.
        # Request head up to 256 KiB: 10,000 query parameters fit, a 1 MB header is refused.
        # The protocol adds head/body/idle deadlines and the connection cap (akd.api.limits).
        server = self.config.server
        limits.ensure_fd_headroom(server.max_connections)
        app = create_app(ctx)
        app.state.socket_mode = self._socket_mode = SocketMode(db, self.data_dir, ctx.dispatcher)
        http_config = uvicorn.Config(
            app, log_level="warning", lifespan="off", access_log=False,
            http=limits.protocol_class(server), h11_max_incomplete_event_size=256 * 1024,
        )  # fmt: skip
        self._server = _Server(http_config)
        self._serve_task = asyncio.create_task(self._server.serve(sockets=[sock]), name="http")
        while not self._server.started:
            if self._serve_task.done():
                await self._serve_task
                raise Unavailable("the HTTP server failed to start")
            await asyncio.sleep(0.01)
        await ctx.dispatcher.recover()
        ctx.dispatcher.start_sweeper()
        self._socket_mode.start()  # Slack Socket Mode websockets: after the dispatcher, stopped before it
        self._reconciler = Reconciler(ctx.engine)  # workflows closed outside akd, from now on
        self._reconciler.start()
        if self.config.retention.days > 0 or self.config.retention.log_max_mb > 0:
            self._retention = asyncio.create_task(
                retention.run_forever(
                    db,
                    self.config.retention.days,
                    self.config.retention.interval,
                    forget=ctx.engine.forget_workflows,  # a session's workflow id is its id
                    forget_before=ctx.engine.forget_ticks,
                    logs_dir=self.data_dir / "logs",
                    log_max_bytes=int(self.config.retention.log_max_mb * 1024 * 1024),
                    code_cache=engine_ctx.code_cache_dir,
                ),
                name="retention",
            )
        # 7. Tell akctl where we are.
        settle_heap()
        self._write_daemon_json(ctx, address)
        log.info("akd ready on %s (data dir %s)", ctx.base_url, self.data_dir)

    def _check_writable(self) -> None:
        """A read-only or full data dir is reported at start, not at the first event."""
        probe = self.data_dir / ".write-probe"
        try:
            with probe.open("wb") as f:
                f.write(b"\0" * 65536)
                f.flush()
                os.fsync(f.fileno())
        except OSError as exc:
            raise Unavailable(
                f"the data dir {self.data_dir} is not writable ({exc.strerror}); free disk space or fix "
                "its permissions, or pick another with --data-dir"
            ) from None
        finally:
            with contextlib.suppress(OSError):  # a read-only file system refuses even this
                probe.unlink(missing_ok=True)

    def _bind(self) -> socket.socket:
        host, port = self.config.server.host, self.config.server.port
        if host not in ("127.0.0.1", "localhost", "::1"):
            log.warning("akd is listening on %s: webhooks and the API are reachable from other machines", host)
        # proto=IPPROTO_TCP matters: asyncio only turns Nagle off (TCP_NODELAY) on accepted
        # sockets whose proto says TCP; with proto 0 every small response waits ~40 ms for
        # the client's delayed ACK. Linux also copies NODELAY from the listener.
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            sock.close()
            raise Unavailable(
                f"cannot listen on {host}:{port}: {exc.strerror}; pick another port with --port"
            ) from None
        sock.listen(1024)
        sock.set_inheritable(False)
        return sock

    def _write_daemon_json(self, ctx: AppContext, address: str) -> None:
        info = {"url": ctx.base_url, "pid": os.getpid(), "temporal_address": address}
        tmp = self.data_dir / "daemon.json.tmp"
        tmp.write_text(json.dumps(info))
        os.replace(tmp, self.data_dir / "daemon.json")
        try:
            instances.register(self.data_dir, ctx.base_url, os.getpid())
        except OSError as exc:  # akctl then finds this akd only by its data dir
            log.warning("cannot register in %s: %s", instances.runtime_dir(), exc.strerror)

    async def shutdown(self) -> None:
        """Reverse order: HTTP, runners, worker, Temporal, database, lock."""
        if self._owns_data_dir:  # a refused second akd must not touch the running one's file
            (self.data_dir / "daemon.json").unlink(missing_ok=True)
            instances.unregister(self.data_dir, os.getpid())
        # 1. Stop accepting HTTP requests.
        if self._server is not None and self._serve_task is not None:
            self._server.should_exit = True
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._serve_task, 5)
        if self._retention is not None:
            self._retention.cancel()
        if self._owns_data_dir:
            self._heartbeat.stop()
        if self._reconciler is not None:
            await self._reconciler.stop()
        if self._socket_mode is not None:
            await self._socket_mode.stop()
        if self._dispatcher is not None:
            await self._dispatcher.stop()
        # 2. End runners first, so the worker has nothing long to wait for.
        if self._hub is not None:
            await self._hub.stop()
        # 3. Drain the Temporal worker (bounded).
        if self._engine is not None:
            await self._engine.stop()
        # 4. Stop the embedded Temporal server (SIGTERM, wait, SIGKILL).
        if self._temporal is not None:
            await self._temporal.stop()
        # 5. Close the database.
        if self._db is not None:
            await self._db.close()
        if self._lock_file is not None:
            self._lock_file.close()

    async def run(self) -> None:
        """Start, serve until SIGINT/SIGTERM or an API shutdown request, then stop."""
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        try:
            await self.startup()
            assert self.ctx is not None
            shutdown_wait = asyncio.create_task(self.ctx.shutdown.wait())
            stop_wait = asyncio.create_task(stop.wait())
            await asyncio.wait({shutdown_wait, stop_wait}, return_when=asyncio.FIRST_COMPLETED)
            shutdown_wait.cancel()
            stop_wait.cancel()
        finally:
            await self.shutdown()


def settle_heap() -> None:
    """Take what start-up built (modules, the Temporal SDK, the routes) out of the
    collector's sight, and collect the young generation less often.

    Under load a full collection used to scan all of it: ~50 ms in which no request,
    activation or runner message was served (the p99 spikes of webhook answers). Frozen,
    a full collection scans only what came since (~8 ms); young collections run every
    10,000 allocations instead of 700 (about 6x fewer, and less time in total).
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 10, 10)

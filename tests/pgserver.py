"""A throwaway Postgres for tests: ``initdb`` in a temporary dir, ``postgres`` on a free port.

Postgres refuses to run as root, so under root the data dir is handed to an unprivileged
system user (the Debian package's ``postgres``, else one created here) and the server runs
as that user. The server listens on 127.0.0.1 only, with trust authentication, and trades
durability for speed (``fsync=off``): nothing in it outlives the test run.

    with pg_server() as pg:
        url = pg.new_database()   # postgresql://akd@127.0.0.1:PORT/t1, empty
        ...
        pg.stop()                 # the server is down (the data dir stays) ...
        pg.start()                # ... and back, on the same port
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

# Where Debian puts the server binaries (they are not on PATH there).
_DEBIAN_BINS = Path("/usr/lib/postgresql")
# The user the server runs as when the tests run as root.
_SERVER_USERS = ("postgres", "akd-pg")
START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
SUPERUSER = "akd"


def find_bin_dir() -> Path | None:
    """The directory holding ``initdb`` and ``postgres`` (newest Debian version first); None if absent."""
    on_path = shutil.which("initdb")
    if on_path:
        return Path(on_path).parent
    versions = sorted(_DEBIAN_BINS.glob("*/bin/initdb"), key=lambda p: _version(p.parent.parent.name), reverse=True)
    return versions[0].parent if versions else None


def _version(name: str) -> int:
    return int(name) if name.isdigit() else -1


def _server_user() -> pwd.struct_passwd | None:
    """Whom to run the server as: None when not root (run as ourselves)."""
    if os.geteuid() != 0:
        return None
    for name in _SERVER_USERS:
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", _SERVER_USERS[-1]],
                   check=True)  # fmt: skip
    return pwd.getpwnam(_SERVER_USERS[-1])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class PgServer:
    """One Postgres cluster in its own temporary dir; ``start``/``stop`` may repeat."""

    def __init__(self, bin_dir: Path) -> None:
        self.bin_dir = bin_dir
        self.user = _server_user()
        # Not under pytest's tmp dirs: those are 0700 root, and the server user must enter.
        self.dir = Path(tempfile.mkdtemp(prefix="akd-pg-"))
        self.data = self.dir / "data"
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self._databases = 0
        if self.user is not None:
            os.chown(self.dir, self.user.pw_uid, self.user.pw_gid)
        self._run_as("initdb", "-D", str(self.data), "-U", SUPERUSER, "--auth=trust", "--encoding=UTF8",
                     "--locale=C", "--no-sync")  # fmt: skip

    @property
    def url(self) -> str:
        """The cluster's default database (``postgres``)."""
        return self.database_url("postgres")

    def database_url(self, name: str) -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{name}"

    def _user_kw(self) -> dict[str, object]:
        if self.user is None:
            return {}
        return {"user": self.user.pw_uid, "group": self.user.pw_gid, "extra_groups": []}

    def _run_as(self, program: str, *args: str) -> None:
        result = subprocess.run([str(self.bin_dir / program), *args], capture_output=True, text=True,
                                cwd=self.dir, **self._user_kw())  # type: ignore[call-overload]  # fmt: skip
        if result.returncode != 0:
            raise RuntimeError(f"{program} failed ({result.returncode}): {result.stderr.strip()}")

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        log = open(self.dir / "postgres.log", "ab")  # noqa: SIM115 - the child holds it
        # Sockets in our dir: the default one (/var/run/postgresql) may not exist or be ours.
        self.proc = subprocess.Popen(
            [str(self.bin_dir / "postgres"), "-D", str(self.data), "-p", str(self.port), "-k", str(self.dir),
             "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "synchronous_commit=off",
             "-c", "full_page_writes=off"],
            stdout=log, stderr=subprocess.STDOUT, cwd=self.dir, **self._user_kw(),  # type: ignore[call-overload]
        )  # fmt: skip
        log.close()
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"postgres exited with {self.proc.returncode}: {self.log_tail()}")
            try:
                psycopg.connect(self.url, connect_timeout=2).close()
                return
            except psycopg.OperationalError as exc:
                if time.monotonic() > deadline:
                    tail = self.log_tail()
                    raise RuntimeError(f"postgres did not accept connections in {START_TIMEOUT}s: {tail}") from exc
                time.sleep(0.05)

    def log_tail(self) -> str:
        path = self.dir / "postgres.log"
        return path.read_text(errors="replace")[-2000:] if path.exists() else ""

    def stop(self) -> None:
        """Fast shutdown (SIGINT: clients are cut off), then SIGKILL if it lingers; reaped."""
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(STOP_TIMEOUT)

    def new_database(self) -> str:
        """The URL of a new, empty database of this cluster (one per test keeps tests apart)."""
        self._databases += 1
        name = f"t{self._databases}"
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return self.database_url(name)

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


@contextmanager
def pg_server() -> Iterator[PgServer]:
    """A running server, stopped and removed afterwards. Raises ``LookupError`` without ``initdb``."""
    bin_dir = find_bin_dir()
    if bin_dir is None:
        raise LookupError("initdb is not installed (Debian: apt-get install postgresql; dev.py test does it)")
    server = PgServer(bin_dir)
    try:
        server.start()
        yield server
    finally:
        server.close()

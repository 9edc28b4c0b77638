"""Named, ordered schema migrations, each applied once in its own transaction."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from akd.store.db import Connection


# Where each applied migration is recorded (the Postgres store translates it like the rest).
MIGRATIONS_TABLE = "CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at REAL NOT NULL)"

MIGRATIONS: list[tuple[str, str]] = [
    (
        "0001_core",
        """
        CREATE TABLE projects (
            project_id   TEXT PRIMARY KEY,
            name         TEXT NOT NULL UNIQUE,
            display_name TEXT NOT NULL DEFAULT '',
            root_dir     TEXT NOT NULL DEFAULT '',
            created_at   REAL NOT NULL,
            updated_at   REAL NOT NULL
        );
        CREATE TABLE builds (
            build_id      TEXT PRIMARY KEY,
            project_id    TEXT NOT NULL REFERENCES projects(project_id) ON DELETE CASCADE,
            digest        TEXT NOT NULL,
            size          INTEGER NOT NULL,
            manifest      TEXT NOT NULL,
            requirements  TEXT,
            created_at    REAL NOT NULL
        );
        CREATE INDEX builds_project ON builds(project_id, created_at);
        CREATE TABLE deployments (
            deployment_id TEXT PRIMARY KEY,
            project_id    TEXT NOT NULL REFERENCES projects(project_id) ON DELETE CASCADE,
            build_id      TEXT NOT NULL REFERENCES builds(build_id),
            state         TEXT NOT NULL,
            created_at    REAL NOT NULL,
            updated_at    REAL NOT NULL
        );
        CREATE INDEX deployments_project ON deployments(project_id, state);
        CREATE TABLE triggers (
            trigger_id  TEXT PRIMARY KEY,
            project_id  TEXT NOT NULL REFERENCES projects(project_id) ON DELETE CASCADE,
            name        TEXT NOT NULL,
            type        TEXT NOT NULL,
            call        TEXT NOT NULL DEFAULT '',
            event_type  TEXT NOT NULL DEFAULT '',
            filter      TEXT NOT NULL DEFAULT '',
            is_sync     INTEGER NOT NULL DEFAULT 0,
            is_durable  INTEGER NOT NULL DEFAULT 1,
            schedule    TEXT NOT NULL DEFAULT '',
            timezone    TEXT NOT NULL DEFAULT '',
            connection  TEXT NOT NULL DEFAULT '',
            slug        TEXT UNIQUE,
            created_at  REAL NOT NULL,
            updated_at  REAL NOT NULL,
            UNIQUE (project_id, name)
        );
        CREATE TABLE vars (
            project_id  TEXT NOT NULL REFERENCES projects(project_id) ON DELETE CASCADE,
            name        TEXT NOT NULL,
            value       BLOB NOT NULL,
            secret      INTEGER NOT NULL DEFAULT 0,
            description TEXT NOT NULL DEFAULT '',
            origin      TEXT NOT NULL DEFAULT 'manifest',
            updated_at  REAL NOT NULL,
            PRIMARY KEY (project_id, name)
        );
        CREATE TABLE events (
            event_id      TEXT PRIMARY KEY,
            project_id    TEXT,
            trigger_id    TEXT,
            trigger_name  TEXT NOT NULL DEFAULT '',
            event_type    TEXT NOT NULL DEFAULT '',
            source        TEXT NOT NULL,
            data          BLOB NOT NULL,
            state         TEXT NOT NULL DEFAULT 'pending',
            created_at    REAL NOT NULL,
            dispatched_at REAL
        );
        CREATE INDEX events_pending ON events(state) WHERE state = 'pending';
        CREATE INDEX events_project ON events(project_id, created_at);
        CREATE TABLE sessions (
            session_id    TEXT PRIMARY KEY,
            project_id    TEXT NOT NULL,
            deployment_id TEXT NOT NULL DEFAULT '',
            build_id      TEXT NOT NULL,
            trigger_id    TEXT NOT NULL DEFAULT '',
            event_id      TEXT NOT NULL DEFAULT '',
            parent_id     TEXT NOT NULL DEFAULT '',
            entrypoint    TEXT NOT NULL,
            durable       INTEGER NOT NULL,
            state         TEXT NOT NULL,
            inputs        BLOB,
            memo          TEXT NOT NULL DEFAULT '{}',
            error         TEXT,
            return_value  TEXT,
            steps         INTEGER NOT NULL DEFAULT 0,
            created_at    REAL NOT NULL,
            updated_at    REAL NOT NULL,
            started_at    REAL,
            ended_at      REAL
        );
        CREATE UNIQUE INDEX sessions_event_trigger ON sessions(event_id, trigger_id)
            WHERE event_id != '';
        CREATE INDEX sessions_project ON sessions(project_id, created_at);
        CREATE INDEX sessions_deployment ON sessions(deployment_id, state);
        CREATE INDEX sessions_state ON sessions(state, created_at);
        CREATE INDEX sessions_created ON sessions(created_at);
        CREATE TABLE session_log (
            id          INTEGER PRIMARY KEY,
            session_id  TEXT NOT NULL,
            kind        TEXT NOT NULL,
            dedupe      TEXT,
            t           REAL NOT NULL,
            data        TEXT NOT NULL
        );
        CREATE INDEX session_log_session ON session_log(session_id, kind, id);
        CREATE INDEX session_log_all ON session_log(session_id, id);
        CREATE UNIQUE INDEX session_log_dedupe ON session_log(session_id, dedupe)
            WHERE dedupe IS NOT NULL;
        CREATE TABLE journal (
            session_id  TEXT NOT NULL,
            seq         INTEGER NOT NULL,
            kind        TEXT NOT NULL,
            name        TEXT NOT NULL,
            outcome     BLOB NOT NULL,
            t           REAL NOT NULL,
            PRIMARY KEY (session_id, seq)
        ) WITHOUT ROWID;
        CREATE TABLE kv (
            project_id  TEXT NOT NULL,
            key         TEXT NOT NULL,
            value       TEXT NOT NULL,
            updated_at  REAL NOT NULL,
            PRIMARY KEY (project_id, key)
        ) WITHOUT ROWID;
        """,
    ),
    (
        "0002_inbox",
        """
        CREATE TABLE subscriptions (
            sub_id      TEXT PRIMARY KEY,
            session_id  TEXT NOT NULL,
            project_id  TEXT NOT NULL,
            source      TEXT NOT NULL,
            filter      TEXT NOT NULL DEFAULT '',
            active      INTEGER NOT NULL DEFAULT 1,
            created_at  REAL NOT NULL
        );
        CREATE INDEX subscriptions_source ON subscriptions(project_id, source) WHERE active = 1;
        CREATE INDEX subscriptions_session ON subscriptions(session_id);
        CREATE TABLE inbox (
            id          INTEGER PRIMARY KEY,
            session_id  TEXT NOT NULL,
            kind        TEXT NOT NULL,
            key         TEXT NOT NULL,
            source_id   TEXT NOT NULL DEFAULT '',
            payload     BLOB NOT NULL,
            consumed    INTEGER NOT NULL DEFAULT 0,
            created_at  REAL NOT NULL
        );
        CREATE INDEX inbox_pending ON inbox(session_id, kind, key) WHERE consumed = 0;
        CREATE UNIQUE INDEX inbox_event_once ON inbox(session_id, key, source_id) WHERE source_id != '';
        """,
    ),
    (
        "0003_session_control",
        """
        ALTER TABLE sessions ADD COLUMN stop_reason TEXT;
        ALTER TABLE sessions ADD COLUMN restart_of TEXT NOT NULL DEFAULT ''
        """,
    ),
    (
        # encrypted=1: vars.value is a Fernet token (akd.secrets), else UTF-8 text.
        "0004_lifecycle",
        """
        ALTER TABLE vars ADD COLUMN encrypted INTEGER NOT NULL DEFAULT 0;
        CREATE INDEX builds_digest ON builds(digest)
        """,
    ),
    (
        "0005_session_indexes",
        """
        CREATE INDEX IF NOT EXISTS sessions_state_id ON sessions(state, session_id);
        CREATE INDEX IF NOT EXISTS sessions_project_id ON sessions(project_id, session_id);
        CREATE INDEX IF NOT EXISTS sessions_deployment_id ON sessions(deployment_id, session_id)
        """,
    ),
    (
        # Web UI cookies signed out before they expire (akd.web.auth, logout).
        "0006_revoked_ui_cookies",
        """
        CREATE TABLE revoked_ui_cookies (
            digest      TEXT PRIMARY KEY,
            expires_at  REAL NOT NULL
        ) WITHOUT ROWID
        """,
    ),
    (
        # How many times a non-durable session's code started from the top (akd restarted
        # or its segment was retried while it ran); prints of each attempt are kept apart.
        "0007_session_attempts",
        """
        ALTER TABLE sessions ADD COLUMN attempt INTEGER NOT NULL DEFAULT 1
        """,
    ),
    (
        # published=1: readable by anyone at /store/<project_id>/<key> (publish_value).
        "0008_kv_published",
        """
        ALTER TABLE kv ADD COLUMN published INTEGER NOT NULL DEFAULT 0
        """,
    ),
    (
        # A project's connections (akd.store.connections) and their own vars; origin
        # 'manifest' vars follow the manifest, 'user' vars (akctl var set, connection
        # init, OAuth) survive deploys.
        "0009_connections",
        """
        CREATE TABLE connections (
            connection_id   TEXT PRIMARY KEY,
            project_id      TEXT NOT NULL REFERENCES projects(project_id) ON DELETE CASCADE,
            name            TEXT NOT NULL,
            integration     TEXT NOT NULL,
            status          TEXT NOT NULL DEFAULT 'init_required',
            status_message  TEXT NOT NULL DEFAULT '',
            created_at      REAL NOT NULL,
            updated_at      REAL NOT NULL,
            UNIQUE (project_id, name)
        );
        CREATE TABLE connection_vars (
            connection_id   TEXT NOT NULL REFERENCES connections(connection_id) ON DELETE CASCADE,
            name            TEXT NOT NULL,
            value           BLOB NOT NULL,
            secret          INTEGER NOT NULL DEFAULT 0,
            encrypted       INTEGER NOT NULL DEFAULT 0,
            origin          TEXT NOT NULL DEFAULT 'manifest',
            updated_at      REAL NOT NULL,
            PRIMARY KEY (connection_id, name)
        ) WITHOUT ROWID
        """,
    ),
    (
        # The user's own OAuth apps (akctl integration configure; the secret encrypted) and
        # the authorizations under way: a state (kept as its SHA-256) is single use, bound
        # to one connection and to a deadline; its outcome stays for akctl to read.
        "0010_oauth_apps",
        """
        CREATE TABLE oauth_apps (
            integration     TEXT PRIMARY KEY,
            client_id       TEXT NOT NULL,
            client_secret   BLOB NOT NULL,
            scopes          TEXT NOT NULL DEFAULT '',
            updated_at      REAL NOT NULL
        ) WITHOUT ROWID;
        CREATE TABLE oauth_states (
            state_digest    TEXT PRIMARY KEY,
            connection_id   TEXT NOT NULL REFERENCES connections(connection_id) ON DELETE CASCADE,
            integration     TEXT NOT NULL,
            verifier        BLOB NOT NULL,
            redirect_uri    TEXT NOT NULL,
            expires_at      REAL NOT NULL,
            used_at         REAL,
            outcome         TEXT NOT NULL DEFAULT 'pending',
            message         TEXT NOT NULL DEFAULT '',
            created_at      REAL NOT NULL
        ) WITHOUT ROWID
        """,
    ),
    (
        # Vendor deliveries (akd.services.connection_events): an event of a connection, the
        # vendor's delivery id (a repeat is ignored) and the raw delivery as received; each
        # connection's unguessable inbound URL key.
        "0011_connection_events",
        """
        ALTER TABLE events ADD COLUMN connection_id TEXT;
        ALTER TABLE events ADD COLUMN delivery_id TEXT;
        ALTER TABLE events ADD COLUMN raw BLOB;
        CREATE UNIQUE INDEX events_delivery ON events(connection_id, delivery_id)
            WHERE connection_id IS NOT NULL AND delivery_id IS NOT NULL;
        ALTER TABLE connections ADD COLUMN webhook_key TEXT;
        CREATE UNIQUE INDEX connections_webhook_key ON connections(webhook_key) WHERE webhook_key IS NOT NULL
        """,
    ),
    (
        # Trigger flow control and skip reasons (akd.services.flow): why an event started
        # nothing; a session's concurrency group (its trigger and key value) and limit, so
        # that queued sessions (state 'queued') are admitted from SQLite alone after a
        # restart; the events each dedupe/rate-limit key has let through (their windows);
        # and the one event per debounce key waiting for its burst to end.
        "0012_flow_control",
        """
        ALTER TABLE events ADD COLUMN skip_reason TEXT;
        ALTER TABLE sessions ADD COLUMN flow_key TEXT;
        ALTER TABLE sessions ADD COLUMN flow_limit INTEGER;
        CREATE INDEX sessions_flow ON sessions(trigger_id, flow_key, state) WHERE flow_key IS NOT NULL;
        CREATE TABLE flow_marks (
            trigger_id  TEXT NOT NULL,
            kind        TEXT NOT NULL,
            flow_key    TEXT NOT NULL,
            event_id    TEXT NOT NULL,
            t           REAL NOT NULL,
            until       REAL NOT NULL,
            PRIMARY KEY (trigger_id, kind, flow_key, event_id)
        ) WITHOUT ROWID;
        CREATE INDEX flow_marks_until ON flow_marks(until);
        CREATE TABLE debounces (
            trigger_id  TEXT NOT NULL,
            flow_key    TEXT NOT NULL,
            event_id    TEXT NOT NULL,
            due_at      REAL NOT NULL,
            PRIMARY KEY (trigger_id, flow_key)
        ) WITHOUT ROWID
        """,
    ),
    (
        # What a parked session waits on (akd.engine.segment): a JSON object written when
        # its segment parks on a sleep, next_event or next_signal and cleared when the next
        # segment starts or the session ends; the session view shows it as live state.
        "0013_session_waiting",
        """
        ALTER TABLE sessions ADD COLUMN waiting TEXT
        """,
    ),
    (
        # Test payloads saved per trigger (akd.store.payloads): a JSON object by name, kept
        # by trigger name so they survive deploys (trigger ids change with deployments).
        "0014_saved_payloads",
        """
        CREATE TABLE saved_payloads (
            project_id    TEXT NOT NULL REFERENCES projects(project_id) ON DELETE CASCADE,
            trigger_name  TEXT NOT NULL,
            name          TEXT NOT NULL,
            data          TEXT NOT NULL,
            created_at    REAL NOT NULL,
            updated_at    REAL NOT NULL,
            PRIMARY KEY (project_id, trigger_name, name)
        ) WITHOUT ROWID
        """,
    ),
    (
        # A copy of each build's files in the store, so any akd on a shared store can make
        # the build's directory before its first session there (akd.engine.builds).
        "0015_build_files",
        """
        CREATE TABLE build_files (
            digest      TEXT PRIMARY KEY,
            archive     BLOB NOT NULL,
            created_at  REAL NOT NULL
        )
        """,
    ),
    (
        # The akd (its [server] node name) that runs, or last ran, a session's segment.
        "0016_session_worker",
        "ALTER TABLE sessions ADD COLUMN worker TEXT",
    ),
    (
        # http_outcome()s of sessions whose sync webhook waits on another akd of a shared
        # store (akd.store.outcomes): the waiting akd reads them here.
        "0017_http_outcomes",
        """
        CREATE TABLE http_outcomes (
            event_id    TEXT NOT NULL,
            seq         INTEGER NOT NULL,
            status      INTEGER NOT NULL,
            headers     TEXT NOT NULL,
            body        BLOB NOT NULL,
            more        INTEGER NOT NULL,
            created_at  REAL NOT NULL,
            PRIMARY KEY (event_id, seq)
        )
        """,
    ),
    (
        # Facts about the store itself, e.g. which secret key its secrets are encrypted
        # with (a fingerprint), so an akd with another key refuses to start on it.
        "0018_store_meta",
        "CREATE TABLE store_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    ),
    (
        # When (Temporal's clock) the workflow task that started the session's current
        # segment began: a segment of an older task (handed to an akd that stalled) cannot
        # take the session back from a newer one (akd.store.sessions.set_running).
        "0019_session_worker_epoch",
        "ALTER TABLE sessions ADD COLUMN worker_epoch REAL NOT NULL DEFAULT 0",
    ),
]


async def apply_migrations(conn: Connection) -> list[str]:
    """Apply every migration not yet recorded in ``_migrations``; return their names."""
    await conn.execute(MIGRATIONS_TABLE)
    async with conn.execute("SELECT name FROM _migrations") as cur:
        done = {row[0] for row in await cur.fetchall()}
    applied = []
    for name, sql in MIGRATIONS:
        if name in done:
            continue
        await conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in sql.split(";"):
                if statement.strip():
                    await conn.execute(statement)
            await conn.execute("INSERT INTO _migrations VALUES (?, ?)", (name, time.time()))
        except BaseException:
            await conn.execute("ROLLBACK")
            raise
        await conn.execute("COMMIT")
        applied.append(name)
    return applied

"""OAuth apps (per integration) and pending OAuth authorizations (SQL only; the client
secret and the PKCE verifier stay encrypted here, the services decrypt them)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from akd.store.db import Database

# Authorizations this much past their deadline are deleted when a new one starts.
KEEP_FINISHED = 24 * 3600.0


@dataclass(frozen=True)
class OAuthApp:
    integration: str
    client_id: str
    client_secret: bytes  # a Fernet token
    scopes: str  # space-separated; empty: the integration's defaults
    updated_at: float


@dataclass(frozen=True)
class PendingAuth:
    connection_id: str
    integration: str
    verifier: bytes  # a Fernet token
    redirect_uri: str
    expires_at: float


@dataclass(frozen=True)
class AuthOutcome:
    connection_id: str
    outcome: str  # "pending" | "ok" | "failed"
    message: str
    expires_at: float


async def get_app(db: Database, integration: str) -> OAuthApp | None:
    row = await db.fetchone(
        "SELECT integration, client_id, client_secret, scopes, updated_at FROM oauth_apps WHERE integration=?",
        (integration,),
    )
    return None if row is None else OAuthApp(row[0], row[1], bytes(row[2]), row[3], float(row[4]))


async def put_app(db: Database, app: OAuthApp) -> None:
    await db.execute(
        "INSERT OR REPLACE INTO oauth_apps (integration, client_id, client_secret, scopes, updated_at)"
        " VALUES (?,?,?,?,?)",
        (app.integration, app.client_id, app.client_secret, app.scopes, app.updated_at),
    )


async def delete_app(db: Database, integration: str) -> bool:
    return bool(await db.execute("DELETE FROM oauth_apps WHERE integration=?", (integration,)))


async def add_pending(db: Database, digest: str, pending: PendingAuth) -> None:
    now = time.time()
    async with db.tx() as tx:
        await tx.execute("DELETE FROM oauth_states WHERE expires_at < ?", (now - KEEP_FINISHED,))
        await tx.execute(
            "INSERT INTO oauth_states (state_digest, connection_id, integration, verifier, redirect_uri, expires_at,"
            " created_at) VALUES (?,?,?,?,?,?,?)",
            (digest, pending.connection_id, pending.integration, pending.verifier, pending.redirect_uri,
             pending.expires_at, now),
        )  # fmt: skip


async def take_pending(db: Database, digest: str, integration: str, now: float) -> PendingAuth | None:
    """Claim an authorization once: None when unknown, already used, expired or of another
    integration (a claim in one transaction, so two callbacks cannot both win)."""
    async with db.tx() as tx:
        async with tx.execute(
            "SELECT connection_id, integration, verifier, redirect_uri, expires_at FROM oauth_states"
            " WHERE state_digest=? AND used_at IS NULL",
            (digest,),
        ) as cur:
            row = await cur.fetchone()
        if row is None:
            return None
        await tx.execute("UPDATE oauth_states SET used_at=? WHERE state_digest=?", (now, digest))
        if row[1] != integration or float(row[4]) < now:
            reason = "expired" if float(row[4]) < now else f"callback for {integration}, not {row[1]}"
            await tx.execute(
                "UPDATE oauth_states SET outcome='failed', message=? WHERE state_digest=?",
                (f"refused: {reason}", digest),
            )
            return None
    return PendingAuth(row[0], row[1], bytes(row[2]), row[3], float(row[4]))


async def finish_pending(db: Database, digest: str, outcome: str, message: str) -> None:
    await db.execute("UPDATE oauth_states SET outcome=?, message=? WHERE state_digest=?", (outcome, message, digest))


async def outcome_of(db: Database, digest: str) -> AuthOutcome | None:
    row = await db.fetchone(
        "SELECT connection_id, outcome, message, expires_at FROM oauth_states WHERE state_digest=?", (digest,)
    )
    return None if row is None else AuthOutcome(row[0], row[1], row[2], float(row[3]))

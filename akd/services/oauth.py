"""OAuth for connections: the user's OAuth apps, authorizations (start, callback) and
token refresh, which akd owns.

An authorization's ``state`` is unguessable, single use, bound to one connection and
expires after ``AUTH_TTL`` seconds; the store keeps only its SHA-256. A refresh happens
before a session starts when a token expires within ``REFRESH_SKEW`` seconds, and when
session code asks (``autokitteh.connections.refresh_oauth``); one at a time per
connection, the new access token and a rotated refresh token stored in one transaction.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from akd import integrations
from akd import oauth as flow
from akd.config import OAuthEndpointConfig
from akd.engine.session_env import FreshToken as Fresh
from akd.errors import FailedPrecondition, Forbidden, InvalidArgument, NotFound
from akd.oauth import Endpoints, TokenError, Tokens
from akd.secrets import SecretBox
from akd.services.connections import values_of
from akd.store import connections as conns_store
from akd.store import oauth_apps as store
from akd.store import sessions as sessions_store
from akd.store.connections import ConnectionRecord, Status, StoredVar
from akd.store.db import Database
from akd.store.oauth_apps import AuthOutcome, OAuthApp, PendingAuth
from akd.store.sessions import LogRecord

log = logging.getLogger(__name__)


class RefreshFailed(FailedPrecondition):
    """The vendor refused a refresh; the connection's status says why and what to run."""


AUTH_TTL = 600.0
REFRESH_SKEW = 60.0
Overrides = Mapping[str, OAuthEndpointConfig]


def redirect_uri(base_url: str, integration: str) -> str:
    """Where the vendor sends the browser back: akd's own public callback route."""
    return f"{base_url.rstrip('/')}/oauth/{integration}/callback"


# -- OAuth apps -----------------------------------------------------------------------------


@dataclass(frozen=True)
class AppInfo:
    integration: str
    client_id: str
    scopes: str
    endpoints: Endpoints
    redirect_uri: str
    updated_at: float


def _integration(name: str) -> str:
    integration = integrations.get(name)
    if integration.oauth is None or integration.name not in flow.ENDPOINTS:
        raise InvalidArgument(f"{integration.name} has no OAuth auth type in akd")
    return integration.name


async def configure_app(db: Database, data_dir: Path, overrides: Overrides, base_url: str, name: str,
                        client_id: str, client_secret: str, scopes: str = "") -> AppInfo:  # fmt: skip
    """Store the user's own OAuth app for an integration (the client secret encrypted)."""
    integration = _integration(name)
    if not client_id or not client_secret:
        raise InvalidArgument("an OAuth app needs both a client id and a client secret")
    app = OAuthApp(integration, client_id, SecretBox(data_dir).encrypt(client_secret), scopes.strip(), time.time())
    await store.put_app(db, app)
    return _info(app, overrides, base_url)


async def app_info(db: Database, overrides: Overrides, base_url: str, name: str) -> AppInfo:
    return _info(await _app(db, _integration(name)), overrides, base_url)


async def remove_app(db: Database, name: str) -> None:
    if not await store.delete_app(db, _integration(name)):
        raise NotFound(f"no OAuth app configured for {name}")


def _info(app: OAuthApp, overrides: Overrides, base_url: str) -> AppInfo:
    ep = flow.endpoints(app.integration, overrides)
    return AppInfo(app.integration, app.client_id, app.scopes, ep, redirect_uri(base_url, app.integration),
                   app.updated_at)  # fmt: skip


async def _app(db: Database, integration: str) -> OAuthApp:
    app = await store.get_app(db, integration)
    if app is None:
        raise FailedPrecondition(
            f"no OAuth app configured for {integration}; run `akctl integration configure {integration} "
            "--client-id ID --client-secret SECRET` with your OAuth app's credentials"
        )
    return app


# -- authorization --------------------------------------------------------------------------


@dataclass(frozen=True)
class Started:
    authorize_url: str
    state: str
    redirect_uri: str
    expires_at: float


async def start(db: Database, data_dir: Path, overrides: Overrides, base_url: str, rec: ConnectionRecord) -> Started:
    """A new authorization of ``rec``: the URL to open in a browser and its state."""
    integration = _integration(rec.integration)
    app = await _app(db, integration)
    ep = flow.endpoints(integration, overrides)
    state, verifier, uri = flow.new_state(), flow.new_verifier(), redirect_uri(base_url, integration)
    expires_at = time.time() + AUTH_TTL
    pending = PendingAuth(rec.connection_id, integration, SecretBox(data_dir).encrypt(verifier), uri, expires_at)
    await store.add_pending(db, flow.state_digest(state), pending)
    url = flow.authorize_url(ep, app.client_id, uri, state, verifier, tuple(app.scopes.split()))
    return Started(url, state, uri, expires_at)


async def complete(db: Database, data_dir: Path, overrides: Overrides, integration: str, state: str, code: str,
                   error: str = "") -> ConnectionRecord:  # fmt: skip
    """The vendor's redirect: claim the state once, exchange the code, store the tokens."""
    digest = flow.state_digest(state)
    pending = await store.take_pending(db, digest, integration, time.time()) if state else None
    if pending is None:
        raise Forbidden("unknown, expired or already used OAuth state: nothing was stored; "
                        "run `akctl connection init` again")  # fmt: skip
    try:
        if error:
            raise InvalidArgument(f"the vendor did not authorize: {error}")
        if not code:
            raise InvalidArgument("the vendor's redirect has no code")
        rec = await _store_authorization(db, data_dir, overrides, pending, code)
    except Exception as exc:
        await store.finish_pending(db, digest, "failed", str(getattr(exc, "message", exc)))
        raise
    await store.finish_pending(db, digest, "ok", rec.status_message)
    return rec


async def _store_authorization(db: Database, data_dir: Path, overrides: Overrides, pending: PendingAuth,
                               code: str) -> ConnectionRecord:  # fmt: skip
    rec = await conns_store.by_id(db, pending.connection_id)
    if rec is None:
        raise NotFound("the connection was deleted while it was being authorized")
    box = SecretBox(data_dir)
    app = await _app(db, pending.integration)
    ep = flow.endpoints(pending.integration, overrides)
    tokens = await flow.exchange_code(ep, app.client_id, box.decrypt(app.client_secret), code,
                                      box.decrypt(pending.verifier), pending.redirect_uri)  # fmt: skip
    mode = integrations.get(rec.integration).oauth
    assert mode is not None
    stored = [*_stored(box, flow.token_vars(ep, tokens)), _var(box, "auth_type", mode.name, False)]
    await conns_store.set_vars(db, rec.connection_id, stored, Status.OK, "authorized with OAuth")
    found = await conns_store.by_id(db, rec.connection_id)
    assert found is not None
    return found


async def outcome(db: Database, rec: ConnectionRecord, state: str) -> AuthOutcome:
    """How an authorization of ``rec`` went (what ``akctl connection init`` waits for)."""
    found = await store.outcome_of(db, flow.state_digest(state))
    if found is None or found.connection_id != rec.connection_id:
        raise NotFound(f"no OAuth authorization with that state for {rec.project}/{rec.name}")
    if found.outcome == "pending" and found.expires_at < time.time():
        return AuthOutcome(found.connection_id, "failed", "the authorization expired before the browser came back",
                           found.expires_at)  # fmt: skip
    return found


def _var(box: SecretBox, name: str, value: str, secret: bool) -> StoredVar:
    data = box.encrypt(value) if secret else value.encode("utf-8")
    return StoredVar(name, data, secret, secret, "user", time.time())


def _stored(box: SecretBox, values: dict[str, tuple[str, bool]]) -> list[StoredVar]:
    return [_var(box, name, value, secret) for name, (value, secret) in values.items()]


# -- refresh --------------------------------------------------------------------------------


class Refresher:
    """Token refresh for sessions (akd.engine.session_env.OAuthTokens), one at a time per connection."""

    def __init__(self, db: Database, data_dir: Path, overrides: Overrides) -> None:
        self.db = db
        self.data_dir = data_dir
        self.overrides = overrides
        self._locks: dict[str, asyncio.Lock] = {}

    async def refresh_stale(self, project_id: str, session_id: str) -> None:
        """Before a session starts: refresh each OAuth token of the project that expires
        within ``REFRESH_SKEW`` seconds. A failure is logged (the session starts anyway)."""
        for rec in await conns_store.list_for_project(self.db, project_id):
            if rec.status is Status.INIT_REQUIRED:
                continue  # a revoked refresh token stays revoked until `connection init`
            if rec.integration in flow.ENDPOINTS and integrations.get(rec.integration).oauth is not None:
                try:
                    await self._refresh(rec, session_id, only_if_stale=True)
                except RefreshFailed:
                    pass  # recorded in the status and the session log
                except Exception:
                    log.exception("OAuth refresh of %s/%s failed", rec.project, rec.name)

    async def refresh_named(self, project_id: str, session_id: str, integration: str, connection: str) -> Fresh:
        """The SDK request ``connection.refresh_oauth``: a new access token now."""
        rec = await conns_store.by_name(self.db, project_id, connection)
        if rec is None:
            raise NotFound(f"refresh_oauth: this project has no connection {connection!r}")
        wanted = integrations.find(integration)
        if integration and (wanted is None or wanted.name != rec.integration):
            raise InvalidArgument(f"refresh_oauth: connection {connection!r} is a {rec.integration} connection, "
                                  f"not {integration}")  # fmt: skip
        _integration(rec.integration)
        fresh = await self._refresh(rec, session_id, only_if_stale=False)
        assert fresh is not None
        return fresh

    async def _refresh(self, rec: ConnectionRecord, session_id: str, *, only_if_stale: bool) -> Fresh | None:
        ep = flow.endpoints(rec.integration, self.overrides)
        access, refresh_var, expiry_var, _ = flow.var_names(ep)
        seen = (await values_of(self.db, self.data_dir, rec.connection_id)).get(refresh_var, "")
        async with self._locks.setdefault(rec.connection_id, asyncio.Lock()):
            values = await values_of(self.db, self.data_dir, rec.connection_id)
            current = Fresh(values.get(access, ""), flow.parse_expiry(values.get(expiry_var, "")))
            if only_if_stale and (not values.get(refresh_var) or not _stale(current.expiry)):
                return None
            if values.get(refresh_var, "") != seen and current.access_token:
                return current  # refreshed by another caller while this one waited
            if not values.get(refresh_var):
                raise FailedPrecondition(f"connection {rec.project}/{rec.name} has no OAuth refresh token; "
                                         f"run `akctl connection init {rec.project}/{rec.name}`")  # fmt: skip
            return await self._exchange(rec, ep, values[refresh_var], session_id)

    async def _exchange(self, rec: ConnectionRecord, ep: Endpoints, refresh_token: str, session_id: str) -> Fresh:
        box = SecretBox(self.data_dir)
        app = await _app(self.db, rec.integration)
        try:
            tokens = await flow.refresh(ep, app.client_id, box.decrypt(app.client_secret), refresh_token)
        except TokenError as exc:
            raise RefreshFailed(await self._refresh_failed(rec, exc, session_id)) from None
        stored = _stored(box, flow.token_vars(ep, tokens, old_refresh=refresh_token))
        await conns_store.set_vars(self.db, rec.connection_id, stored, Status.OK, "OAuth token refreshed")
        await self._log(session_id, rec, tokens, rotated=bool(tokens.refresh_token) and
                        tokens.refresh_token != refresh_token)  # fmt: skip
        return Fresh(tokens.access_token, tokens.expiry)

    async def _refresh_failed(self, rec: ConnectionRecord, exc: TokenError, session_id: str) -> str:
        ref = f"{rec.project}/{rec.name}"
        if exc.error == "invalid_grant":
            message = f"the refresh token was revoked or expired; run `akctl connection init {ref}`"
            await conns_store.set_status(self.db, rec.connection_id, Status.INIT_REQUIRED, message)
        else:
            message = f"OAuth refresh failed: {exc.message}"
            await conns_store.set_status(self.db, rec.connection_id, Status.ERROR, message)
        log.warning("OAuth refresh of %s failed: %s", ref, exc.message)
        await self._record(session_id, {"connection": rec.name, "integration": rec.integration, "ok": False,
                                        "error": message})  # fmt: skip
        return message

    async def _log(self, session_id: str, rec: ConnectionRecord, tokens: Tokens, *, rotated: bool) -> None:
        expiry = flow.rfc3339(tokens.expiry) if tokens.expiry is not None else ""
        log.info("OAuth token of %s/%s refreshed (expires %s)", rec.project, rec.name, expiry or "never")
        await self._record(session_id, {"connection": rec.name, "integration": rec.integration, "ok": True,
                                        "expiry": expiry, "refresh_token_rotated": rotated})  # fmt: skip

    async def _record(self, session_id: str, data: dict[str, object]) -> None:
        if session_id:
            async with self.db.tx() as tx:
                await sessions_store.append_log(tx, session_id, [LogRecord("oauth_refresh", data)])


def _stale(expiry: float | None) -> bool:
    return expiry is not None and expiry < time.time() + REFRESH_SKEW

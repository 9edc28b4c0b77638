"""Connections: the manifest's declarations, their vars and status, tests, session env.

A connection's status follows its vars: ``init_required`` while its auth mode lacks a
var (the message names the vars and the command to run), ``ok`` once they are set (and
after a passing ``connection test``), ``error`` when the vendor refused them, and
``warning`` when they are set but akd has no test for the integration.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from akd import integrations
from akd.errors import InvalidArgument, NotFound
from akd.ids import new_id
from akd.integrations import AuthMode, Check, Integration
from akd.models import Manifest
from akd.secrets import SecretBox
from akd.store import connections as store
from akd.store import projects as projects_store
from akd.store.connections import ConnectionRecord, DeclaredConnection, Status, StoredVar
from akd.store.db import Connection as Tx
from akd.store.db import Database
from akd.vendor_auth import KubeconfigError, kubeconfig_target, sts_caller_identity

MASK = "********"
TEST_TIMEOUT = 15.0
_VAR_NAME = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_"


@dataclass(frozen=True)
class ConnectionVar:
    name: str
    value: str  # MASK for a secret unless revealed
    secret: bool
    origin: str
    updated_at: float


@dataclass(frozen=True)
class TestResult:
    ok: bool
    message: str
    connection: ConnectionRecord


# -- names -----------------------------------------------------------------------------


async def resolve(db: Database, ref: str) -> ConnectionRecord:
    """``PROJECT/CONN`` (or a connection id) to the stored connection."""
    if ref.startswith("con_"):
        found = await store.by_id(db, ref)
        if found is None:
            raise NotFound(f"connection {ref} not found")
        return found
    project, sep, name = ref.partition("/")
    if not sep or not project or not name:
        raise InvalidArgument(f"expected PROJECT/CONNECTION (e.g. myproj/slack_conn), got {ref!r}")
    prj = await projects_store.project_by_name(db, project)
    if prj is None:
        raise NotFound(f"project {project!r} not found; see `akctl project list`")
    found = await store.by_name(db, prj.project_id, name)
    if found is None:
        known = ", ".join(c.name for c in await store.list_for_project(db, prj.project_id)) or "none"
        raise NotFound(f"project {project!r} has no connection {name!r} (its connections: {known})")
    return found


# -- deploy ----------------------------------------------------------------------------


def declared(manifest: Manifest, box: SecretBox) -> list[DeclaredConnection]:
    """The manifest's connections, secrets encrypted; unknown integrations are refused."""
    out = []
    for spec in manifest.connections:
        integration = integrations.find(spec.integration)
        if integration is None:
            raise InvalidArgument(
                f"connection {spec.name!r}: unknown integration {spec.integration!r}; known: "
                f"{', '.join(integrations.known_names())}"
            )
        values = tuple(_stored(box, v.name, v.value, v.secret or _is_secret(integration, v.name), "manifest")
                       for v in spec.vars)  # fmt: skip
        out.append(DeclaredConnection(spec.name, integration.name, values))
    return out


async def sync(tx: Tx, project_id: str, manifest: Manifest, box: SecretBox) -> list[str]:
    """Apply the manifest's connections in the deploy's transaction; returns the created names."""
    return await store.sync(tx, project_id, declared(manifest, box), lambda: new_id("con"))


async def recheck_project(db: Database, data_dir: Path, project_id: str) -> list[ConnectionRecord]:
    """Status of each of the project's connections from its vars (after a deploy)."""
    return [await recheck(db, data_dir, c) for c in await store.list_for_project(db, project_id)]


# -- vars and status -------------------------------------------------------------------


def _is_secret(integration: Integration, name: str) -> bool:
    return integrations.is_secret_var(integration.name, name)


def _stored(box: SecretBox, name: str, value: str, secret: bool, origin: str) -> StoredVar:
    if secret:
        return StoredVar(name, box.encrypt(value), True, True, origin, time.time())
    return StoredVar(name, value.encode("utf-8"), False, False, origin, time.time())


def _plain(box: SecretBox, var: StoredVar) -> str:
    return box.open(var.value, var.encrypted)


async def values_of(db: Database, data_dir: Path, connection_id: str) -> dict[str, str]:
    """The connection's vars, decrypted (for sessions, tests and OAuth refresh)."""
    box = SecretBox(data_dir)
    return {v.name: _plain(box, v) for v in await store.vars_of(db, connection_id)}


def status_of(integration: Integration, values: dict[str, str]) -> tuple[Status, str, AuthMode | None]:
    """What a connection's vars say of it, without asking the vendor."""
    try:
        mode = integration.mode(values.get("auth_type", ""))
    except NotFound as exc:
        return Status.ERROR, exc.message, None
    candidates = [mode] if values.get("auth_type") else list(integration.modes)
    for candidate in candidates:
        if not candidate.missing(set(values)):
            if integration.check_for(candidate.name) is None:
                return Status.WARNING, "credentials set; akd has no connection test for this integration", candidate
            return Status.OK, "credentials set", candidate
    needed = ", ".join(mode.missing(set(values)))
    return Status.INIT_REQUIRED, f"missing {needed} ({mode.label})", mode


async def recheck(db: Database, data_dir: Path, rec: ConnectionRecord) -> ConnectionRecord:
    values = await values_of(db, data_dir, rec.connection_id)
    status, message, _ = status_of(integrations.get(rec.integration), values)
    if status is Status.INIT_REQUIRED:
        message += f"; run `akctl connection init {rec.project}/{rec.name}`"
    if rec.status is Status.ERROR and status is Status.OK and _unchanged_since_test(rec):
        return rec  # a failed test stands until the vars change or a test passes
    await store.set_status(db, rec.connection_id, status, message)
    found = await store.by_id(db, rec.connection_id)
    assert found is not None
    return found


def _unchanged_since_test(rec: ConnectionRecord) -> bool:
    return rec.status_message.startswith("vendor refused")


async def list_vars(db: Database, data_dir: Path, rec: ConnectionRecord, *, reveal: bool) -> list[ConnectionVar]:
    box = SecretBox(data_dir)
    return [
        ConnectionVar(v.name, _plain(box, v) if reveal or not v.secret else MASK, v.secret, v.origin, v.updated_at)
        for v in await store.vars_of(db, rec.connection_id)
    ]


async def get_var(db: Database, data_dir: Path, rec: ConnectionRecord, name: str, *, reveal: bool) -> ConnectionVar:
    for var in await list_vars(db, data_dir, rec, reveal=reveal):
        if var.name == name:
            return var
    raise NotFound(f"connection {rec.project}/{rec.name} has no var {name!r}")


async def set_var(
    db: Database, data_dir: Path, rec: ConnectionRecord, name: str, value: str, *, secret: bool
) -> ConnectionVar:
    """Set a connection var by hand (deploys leave it alone); the status is checked again."""
    if not name or any(ch not in _VAR_NAME for ch in name):
        raise InvalidArgument(f"var name must be letters, digits and underscores, got {name!r}")
    integration = integrations.get(rec.integration)
    old = {v.name: v for v in await store.vars_of(db, rec.connection_id)}
    secret = secret or _is_secret(integration, name) or (name in old and old[name].secret)
    await store.set_var(db, rec.connection_id, _stored(SecretBox(data_dir), name, value, secret, "user"))
    await recheck(db, data_dir, _fresh(rec))
    return await get_var(db, data_dir, rec, name, reveal=False)


async def delete_var(db: Database, data_dir: Path, rec: ConnectionRecord, name: str) -> None:
    if not await store.delete_var(db, rec.connection_id, name):
        raise NotFound(f"connection {rec.project}/{rec.name} has no var {name!r}")
    await recheck(db, data_dir, _fresh(rec))


def _fresh(rec: ConnectionRecord) -> ConnectionRecord:
    """``rec`` as if its vars just changed (a failed test no longer stands)."""
    return ConnectionRecord(rec.connection_id, rec.project_id, rec.project, rec.name, rec.integration,
                            Status.INIT_REQUIRED, "", rec.created_at, rec.updated_at)  # fmt: skip


async def init(
    db: Database, data_dir: Path, rec: ConnectionRecord, auth_type: str, values: dict[str, str], *, test: bool = True
) -> TestResult:
    """Store the credentials of one auth mode (``connection init``), then test them."""
    integration = integrations.get(rec.integration)
    mode = integration.mode(auth_type)
    missing = mode.missing(set(values))
    if missing:
        raise InvalidArgument(f"{integration.name} ({mode.label}) needs {', '.join(missing)}")
    box = SecretBox(data_dir)
    stored = [_stored(box, k, v, _is_secret(integration, k), "user") for k, v in values.items()]
    if len(integration.modes) > 1:
        stored.append(_stored(box, "auth_type", mode.name, False, "user"))
    status, message, _ = status_of(integration, {**await values_of(db, data_dir, rec.connection_id), **values,
                                                 "auth_type": mode.name})  # fmt: skip
    await store.set_vars(db, rec.connection_id, stored, status, message)
    if test and integration.check_for(mode.name) is not None:
        return await run_test(db, data_dir, _fresh(rec))
    found = await store.by_id(db, rec.connection_id)
    assert found is not None
    return TestResult(status is not Status.ERROR, message, found)


# -- the vendor round trip -------------------------------------------------------------


async def run_test(db: Database, data_dir: Path, rec: ConnectionRecord) -> TestResult:
    """Ask the vendor whether the credentials work; the status records the answer."""
    integration = integrations.get(rec.integration)
    values = await values_of(db, data_dir, rec.connection_id)
    status, message, mode = status_of(integration, values)
    check = integration.check_for(mode.name) if mode is not None else None
    if status is Status.OK and check is not None and mode is not None:
        ok, message = await _ask_vendor(check, mode, values)
        status = Status.OK if ok else Status.ERROR
        message = message if ok else f"vendor refused: {message}"
    elif status is Status.INIT_REQUIRED:
        message += f"; run `akctl connection init {rec.project}/{rec.name}`"
    await store.set_status(db, rec.connection_id, status, message)
    found = await store.by_id(db, rec.connection_id)
    assert found is not None
    return TestResult(status is Status.OK, message, found)


def base_url(check: Check, values: dict[str, str]) -> str:
    if values.get("base_url"):
        return values["base_url"]
    if values.get("enterprise_url"):
        return values["enterprise_url"].rstrip("/") + "/api/v3"
    if values.get("company_domain"):
        return f"https://{values['company_domain']}.pipedrive.com"
    return check.base_url


def _join(base: str, path: str) -> str:
    if base.endswith("/") or path.startswith("/"):
        return base.rstrip("/") + "/" + path.lstrip("/")
    return f"{base}/{path}"


def _credential(check: Check, mode: AuthMode, values: dict[str, str]) -> str:
    if values.get(check.secret_var):
        return values[check.secret_var]
    if mode.oauth and values.get("oauth_access_token"):
        return values["oauth_access_token"]
    return next((values[v.name] for v in mode.vars if v.secret and values.get(v.name)), "")


def _fill(template: str, values: dict[str, str]) -> str:
    """``{var}`` in a check's URL or form replaced by the connection's var (a tenant defaults
    to ``organizations``, Microsoft's name for any work or school tenant)."""

    def value(m: re.Match[str]) -> str:
        name = m.group(1)
        return values.get(name) or ("organizations" if name.endswith("tenant_id") else "")

    return re.sub(r"\{(\w+)\}", value, template)


def _request(check: Check, mode: AuthMode, values: dict[str, str]) -> dict[str, Any]:
    if check.auth == "aws-sigv4":
        url, signed, content = sts_caller_identity(values.get("base_url", ""), values.get(check.user_var, ""),
                                                   values.get(check.secret_var, ""), values.get("Region", ""),
                                                   values.get("Token", ""))  # fmt: skip
        return {"method": "POST", "url": url, "headers": signed, "params": {}, "auth": None, "json": None,
                "data": None, "content": content}  # fmt: skip
    secret = _credential(check, mode, values)
    base, path = _fill(base_url(check, values), values), _fill(check.path, values)
    headers: dict[str, str] = {"User-Agent": "akd-connection-test"}
    params: dict[str, str] = {}
    auth: tuple[str, str] | None = None
    kind = "bearer" if mode.oauth else check.auth
    if kind == "bearer":
        headers["Authorization"] = f"Bearer {secret}"
    elif kind == "token":
        headers["Authorization"] = f"token {secret}"
    elif kind == "x-api-key":
        headers.update({"x-api-key": secret, "anthropic-version": "2023-06-01"})
    elif kind == "basic":
        auth = (values.get(check.user_var, ""), secret)
    elif kind == "query-key":
        params["key"] = secret
    elif kind == "query-token":
        params["api_token"] = secret
    elif kind == "bot":
        headers["Authorization"] = f"Bot {secret}"
    elif kind == "bot-path":
        path = f"/bot{secret}{path}"
    elif kind == "api-key":
        headers["Authorization"] = f"api-key {secret}"
    elif kind != "none":  # "none": the credentials travel in the form
        headers["Authorization"] = secret
    url = _join(base, path)
    body = {"query": "{ viewer { id } }"} if kind == "raw" else None
    form = {k: _fill(v, values) for k, v in check.form} or None
    return {"method": check.method, "url": url, "headers": headers, "params": params, "auth": auth, "json": body,
            "data": form}  # fmt: skip


async def _ask_kubernetes(values: dict[str, str]) -> tuple[bool, str]:
    """``GET <server>/version`` as the kubeconfig's current context (token or client cert)."""
    import ssl
    import tempfile

    try:
        server, headers, tls = kubeconfig_target(values.get("config_file", ""))
    except KubeconfigError as exc:
        return False, str(exc)
    server = values.get("base_url") or server
    verify: ssl.SSLContext | bool = True
    with tempfile.TemporaryDirectory() as tmp:
        if tls:
            verify = ssl.create_default_context(cadata=tls["ca"]) if "ca" in tls else ssl.create_default_context()
            if "cert" in tls and "key" in tls:
                cert, key = Path(tmp, "cert.pem"), Path(tmp, "key.pem")
                cert.write_text(tls["cert"])
                key.write_text(tls["key"])
                verify.load_cert_chain(cert, key)
        try:
            async with httpx.AsyncClient(timeout=TEST_TIMEOUT, verify=verify) as client:
                resp = await client.get(_join(server, "/version"), headers=headers)
        except httpx.HTTPError as exc:
            return False, f"cannot reach {server}: {exc}"
    if resp.status_code >= 300:
        return False, f"HTTP {resp.status_code} from {server}/version: {_vendor_message(resp)}"
    return True, "the cluster accepted the credentials"


async def _ask_vendor(check: Check, mode: AuthMode, values: dict[str, str]) -> tuple[bool, str]:
    if check.auth == "kubeconfig":
        return await _ask_kubernetes(values)
    req = _request(check, mode, values)
    if not req["url"].startswith(("http://", "https://")):
        return False, f"no base URL to test against (set the connection var base_url); got {req['url']!r}"
    try:
        async with httpx.AsyncClient(timeout=TEST_TIMEOUT) as client:
            resp = await client.request(
                req["method"], req["url"], headers=req["headers"], params=req["params"], auth=req["auth"],
                json=req["json"], data=req["data"], content=req.get("content"),
            )  # fmt: skip
    except httpx.HTTPError as exc:
        return False, f"cannot reach {req['url']}: {exc}"
    detail = _vendor_message(resp)
    if resp.status_code >= 300:
        return False, f"HTTP {resp.status_code} from {req['url']}" + (f": {detail}" if detail else "")
    if check.ok_field:
        try:
            ok = bool(resp.json().get(check.ok_field))
        except (ValueError, AttributeError):
            ok = False
        if not ok:
            return False, detail or f"{check.ok_field} is false"
    return True, "the vendor accepted the credentials"


def _vendor_message(resp: httpx.Response) -> str:
    try:
        data = resp.json()
    except ValueError:
        return resp.text[:200].strip()
    if isinstance(data, dict) and isinstance(data.get("error"), str) and data.get("error_description"):
        return f"{data['error']}: {data['error_description']}"[:300]  # OAuth's error shape
    if isinstance(data, dict):
        for key in ("error", "message", "error_description", "detail"):
            value = data.get(key)
            if isinstance(value, dict):
                value = value.get("message") or json.dumps(value)
            if value:
                return str(value)[:300]
    return ""

"""What a session's environment holds of its project's connections.

Used by the engine when it starts a runner; depends only on the store and the secret
box (so the engine needs nothing from the services).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from akd.secrets import SecretBox
from akd.store import connections as store
from akd.store.db import Database


@dataclass(frozen=True)
class FreshToken:
    access_token: str
    expiry: float | None  # epoch seconds; None: no expiry


class OAuthTokens(Protocol):
    """akd's OAuth refresh (akd.services.oauth.Refresher), as the engine sees it."""

    async def refresh_stale(self, project_id: str, session_id: str) -> None: ...

    async def refresh_named(
        self, project_id: str, session_id: str, integration: str, connection: str
    ) -> FreshToken: ...


async def connection_env(
    db: Database, data_dir: Path, project_id: str, tokens: OAuthTokens | None = None, session_id: str = ""
) -> dict[str, str]:
    """``<conn>__<var>`` for every var of every connection (secrets decrypted), and
    ``<conn>__connection_id``, as AutoKitteh gives them to a session. OAuth tokens about
    to expire are refreshed first (on behalf of ``session_id``, in its log)."""
    if tokens is not None:
        await tokens.refresh_stale(project_id, session_id)
    box = SecretBox(data_dir)
    ids = await store.ids_of_project(db, project_id)
    env: dict[str, str] = {}
    for name, stored in (await store.vars_of_project(db, project_id)).items():
        env[f"{name}__connection_id"] = ids.get(name, "")
        for var in stored:
            env[f"{name}__{var.name}"] = box.open(var.value, var.encrypted)
    return env

"""What a session's environment holds of its project's connections.

Used by the engine when it starts a runner; depends only on the store and the secret
box (so the engine needs nothing from the services).
"""

from __future__ import annotations

from pathlib import Path

from akd.secrets import SecretBox
from akd.store import connections as store
from akd.store.db import Database


async def connection_env(db: Database, data_dir: Path, project_id: str) -> dict[str, str]:
    """``<conn>__<var>`` for every var of every connection (secrets decrypted), and
    ``<conn>__connection_id``, as AutoKitteh gives them to a session."""
    box = SecretBox(data_dir)
    ids = await store.ids_of_project(db, project_id)
    env: dict[str, str] = {}
    for name, stored in (await store.vars_of_project(db, project_id)).items():
        env[f"{name}__connection_id"] = ids.get(name, "")
        for var in stored:
            env[f"{name}__{var.name}"] = box.decrypt(var.value) if var.encrypted else var.value.decode("utf-8")
    return env

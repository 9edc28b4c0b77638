"""What an akd checks before it joins other akd nodes on a shared store."""

from __future__ import annotations

from pathlib import Path

from akd.errors import FailedPrecondition
from akd.secrets import SecretBox
from akd.store import meta as meta_store
from akd.store.db import Database


async def check_secret_key(db: Database, data_dir: Path) -> None:
    """On a store shared by several akd, every one must hold the same ``secret.key``: the
    first registers its key's fingerprint in the store; one with another key, or with none
    while the store has one, refuses to start (its secrets would not decrypt elsewhere)."""
    box = SecretBox(data_dir)
    stored = await meta_store.get(db, meta_store.SECRET_KEY)
    if stored is not None and not box.exists():
        raise FailedPrecondition(
            f"this store's secrets are encrypted with the key of another akd, and {box.path} does not exist: "
            f"copy secret.key from an akd of this store into {data_dir} and start again"
        )
    mine = box.fingerprint()  # made here on the store's first akd
    if await meta_store.put_first(db, meta_store.SECRET_KEY, mine) != mine:
        raise FailedPrecondition(
            f"{box.path} is not the key this store's secrets are encrypted with (another akd's is): "
            "copy secret.key from an akd of this store and start again"
        )

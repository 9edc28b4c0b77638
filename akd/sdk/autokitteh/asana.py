"""``autokitteh.asana``: an Asana client of a connection."""

from __future__ import annotations

from typing import Any

from ._integrations import base_url, direct, require


@direct
def asana_client(connection: str) -> Any:
    """An ``asana.ApiClient`` with the connection's ``pat``."""
    (pat,) = require(connection, "pat")
    import asana

    config = asana.Configuration()
    config.access_token = pat
    if base_url(connection):
        config.host = base_url(connection)
    return asana.ApiClient(config)


__all__ = ["asana_client"]

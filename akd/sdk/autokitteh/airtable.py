"""``autokitteh.airtable``: an Airtable client of a connection (pyairtable)."""

from __future__ import annotations

from typing import Any

from akd.runner.errors import OAuthRefreshError

from . import connections
from ._integrations import base_url, direct, not_initialized, var
from .connections import check_connection_name


@direct
def airtable_client(connection: str) -> Any:
    """A ``pyairtable.Api`` with the connection's ``pat``, or a freshly refreshed OAuth token."""
    check_connection_name(connection)
    secret = var(connection, "pat")
    if not secret:
        if not var(connection, "oauth_refresh_token"):
            raise not_initialized(connection, "no pat and no OAuth refresh token")
        try:
            secret, _ = connections.refresh_oauth("airtable", connection)
        except Exception as exc:
            raise OAuthRefreshError(connection, exc) from exc
    from pyairtable import Api

    return Api(secret, endpoint_url=base_url(connection)) if base_url(connection) else Api(secret)


__all__ = ["airtable_client"]

"""``autokitteh.hubspot``: a HubSpot client of a connection (hubspot-api-client)."""

from __future__ import annotations

from typing import Any

from akd.runner.errors import OAuthRefreshError

from . import connections
from ._integrations import direct, require, var
from .connections import check_connection_name


@direct
def hubspot_client(connection: str, **kwargs: Any) -> Any:
    """A ``hubspot.HubSpot`` with a freshly refreshed OAuth token (as AutoKitteh does on
    every call), or with an akd ``privateApp`` connection's token."""
    check_connection_name(connection)
    if var(connection, "auth_type") == "privateApp":
        (private,) = require(connection, "private_app_token")
        from hubspot import HubSpot

        return HubSpot(access_token=private, **kwargs)
    require(connection, "oauth_RefreshToken")
    from hubspot import HubSpot

    try:
        access, _ = connections.refresh_oauth("hubspot", connection)
    except Exception as exc:
        raise OAuthRefreshError(connection, exc) from exc
    return HubSpot(access_token=access, **kwargs)


__all__ = ["hubspot_client"]

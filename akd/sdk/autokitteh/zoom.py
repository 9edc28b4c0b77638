"""``autokitteh.zoom``: a session for Zoom's REST API (requests)."""

from __future__ import annotations

from typing import Any

from ._integrations import base_url, direct, require

API = "https://api.zoom.us/v2/"


@direct
def zoom_client(connection: str) -> Any:
    """A ``requests.Session`` for ``https://api.zoom.us/v2/`` with the connection's OAuth
    token (refreshed on 401). Server-to-server connections hold no token: ConnectionInitError."""
    (access,) = require(connection, "oauth_access_token")
    from ._http import OAuth2Session

    return OAuth2Session("zoom", connection, base_url(connection) or API, access)


__all__ = ["zoom_client"]

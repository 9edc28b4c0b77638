"""``autokitteh.height``: a session for Height's API (removed from AutoKitteh in 2025)."""

from __future__ import annotations

from typing import Any

from ._integrations import base_url, direct, token, var

API = "https://api.height.app/"


@direct
def height_client(connection: str) -> Any:
    """A ``requests.Session`` for Height's API with the connection's ``api_key`` or OAuth token."""
    token(connection, "api_key", "oauth_access_token")
    from ._http import OAuth2Session

    if var(connection, "api_key"):
        return OAuth2Session(
            "height", connection, base_url(connection) or API, var(connection, "api_key"), "api-key", oauth=False
        )
    return OAuth2Session("height", connection, base_url(connection) or API, var(connection, "oauth_access_token"))


__all__ = ["height_client"]

"""``autokitteh.linear``: a session for Linear's GraphQL API (requests)."""

from __future__ import annotations

from typing import Any

from ._integrations import base_url, direct, token, var

API = "https://api.linear.app/graphql/"


@direct
def linear_client(connection: str) -> Any:
    """A ``requests.Session`` for Linear's GraphQL endpoint (``client.post("", json=...)``),
    with the connection's ``api_key`` or OAuth token (refreshed on 401)."""
    token(connection, "api_key", "oauth_access_token")
    from ._http import OAuth2Session

    api_key = var(connection, "api_key")
    if api_key:  # Linear takes an API key without a scheme
        session = OAuth2Session("linear", connection, base_url(connection) or API, api_key, "", oauth=False)
    else:
        access = var(connection, "oauth_access_token")
        session = OAuth2Session("linear", connection, base_url(connection) or API, access)
    session.headers["Content-Type"] = "application/json"
    return session


__all__ = ["linear_client"]

"""``autokitteh.auth0``: an Auth0 Management API client of a connection (auth0-python)."""

from __future__ import annotations

from typing import Any

from ._integrations import direct, require


@direct
def auth0_client(connection: str, **kwargs: Any) -> Any:
    """An ``auth0.management.Auth0`` for ``auth0_domain`` with the connection's OAuth token."""
    access, domain = require(connection, "oauth_AccessToken", "auth0_domain")
    from auth0.management import Auth0

    return Auth0(domain, access, **kwargs)


__all__ = ["auth0_client"]

"""``autokitteh.github``: a GitHub client of a connection (PyGithub), by PAT or GitHub App."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin

from . import connections
from ._integrations import base_url, direct, not_initialized, var
from .connections import check_connection_name

if TYPE_CHECKING:
    from github import Github
    from github.Auth import AppAuth


@direct
def github_client(connection: str, **kwargs: Any) -> Github:
    """A ``github.Github`` for the connection's PAT (or OAuth user token), or for its GitHub App installation.

    The API address is the connection's ``base_url`` if set, else ``enterprise_url`` (or
    env ``GITHUB_ENTERPRISE_URL``) + ``api/v3``, else github.com's.
    """
    check_connection_name(connection)
    import github

    enterprise = var(connection, "enterprise_url") or os.environ.get("GITHUB_ENTERPRISE_URL", "")
    if base_url(connection):
        kwargs["base_url"] = base_url(connection)
    elif enterprise:
        kwargs["base_url"] = urljoin(enterprise, "api/v3")
    # A PAT, or the user token of akd's OAuth flow (auth_type oauth).
    token = var(connection, "pat") or var(connection, "oauth_access_token")
    if token:
        return github.Github(auth=github.Auth.Token(token), **kwargs)
    app_id, install_id = var(connection, "app_id"), var(connection, "install_id")
    if not app_id or not install_id:
        raise not_initialized(connection, "no pat, and no GitHub App (app_id and install_id)")
    key = var(connection, "private_key")
    auth = github.Auth.AppAuth(int(app_id), key) if key else _jwt_auth(int(app_id), connection)
    app = github.GithubIntegration(auth=auth, **kwargs)
    return app.get_github_for_installation(int(install_id))


def _jwt_auth(app_id: int, connection: str) -> AppAuth:
    """App auth whose JWTs ``autokitteh.connections.encode_jwt`` signs."""
    import time

    from github.Auth import AppAuth

    class _Signed(AppAuth):
        def create_jwt(self, expiration: int | None = None) -> str:
            now = int(time.time())
            payload = {"iat": now - 60, "exp": now + (expiration or 300), "iss": app_id}
            return connections.encode_jwt(payload, connection, "RS256")

    return _Signed(app_id, "signed-by-encode_jwt")


__all__ = ["github_client"]

"""``autokitteh.atlassian``: Jira and Confluence clients of a connection (atlassian-python-api)."""

from __future__ import annotations

from typing import Any

from akd.runner.errors import AtlassianOAuthError

from ._integrations import base_url, direct, require, var
from .connections import check_connection_name


def get_base_url(connection: str) -> str | None:
    """The connection's site URL (``BaseURL``, or an OAuth connection's ``AccessURL``), or None."""
    check_connection_name(connection)
    return var(connection, "BaseURL") or var(connection, "AccessURL") or None


def _args(connection: str) -> dict[str, Any]:
    check_connection_name(connection)
    if var(connection, "oauth_AccessToken"):
        raise AtlassianOAuthError(connection)
    (api_token,) = require(connection, "Token")
    url = base_url(connection) or var(connection, "BaseURL")
    email = var(connection, "Email")
    if email:
        return {"url": url, "username": email, "password": api_token, "cloud": True}
    return {"url": url, "token": api_token}


@direct
def jira_client(connection: str, **kwargs: Any) -> Any:
    """An ``atlassian.Jira`` with the connection's API token (and email) or PAT."""
    args = _args(connection)
    from atlassian import Jira

    return Jira(**args, **kwargs)


@direct
def confluence_client(connection: str, **kwargs: Any) -> Any:
    """An ``atlassian.Confluence`` with the connection's API token (and email) or PAT."""
    args = _args(connection)
    from atlassian import Confluence

    return Confluence(**args, **kwargs)


# Older names.
atlassian_jira_client = jira_client
atlassian_confluence_client = confluence_client

__all__ = ["atlassian_confluence_client", "atlassian_jira_client", "confluence_client", "get_base_url", "jira_client"]

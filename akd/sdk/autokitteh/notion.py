"""``autokitteh.notion``: a Notion client of a connection (notion-client)."""

from __future__ import annotations

from typing import Any

from ._integrations import base_url, direct, token


@direct
def notion_client(connection: str) -> Any:
    """A ``notion_client.Client`` with the connection's ``api_key`` or OAuth token."""
    auth = token(connection, "api_key", "oauth_access_token")
    from notion_client import Client

    return Client(auth=auth, base_url=base_url(connection)) if base_url(connection) else Client(auth=auth)


__all__ = ["notion_client"]

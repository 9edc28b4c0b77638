"""``autokitteh.reddit``: a Reddit client of a connection (PRAW)."""

from __future__ import annotations

from typing import Any

from ._integrations import base_url, direct, require, var


@direct
def reddit_client(connection: str) -> Any:
    """A ``praw.Reddit``: read-only unless the connection has ``username`` and ``password``."""
    client_id, client_secret, user_agent = require(connection, "client_id", "client_secret", "user_agent")
    import praw

    args: dict[str, Any] = {"client_id": client_id, "client_secret": client_secret, "user_agent": user_agent}
    if var(connection, "username") and var(connection, "password"):
        args.update(username=var(connection, "username"), password=var(connection, "password"))
    if base_url(connection):
        args["oauth_url"] = base_url(connection)
    return praw.Reddit(**args)


__all__ = ["reddit_client"]

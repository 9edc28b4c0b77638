"""``autokitteh.discord``: a Discord client of a connection (discord.py)."""

from __future__ import annotations

from typing import Any

from ._integrations import base_url, direct, require


@direct
def bot_token(connection: str) -> str:
    """The connection's ``BotToken`` (pass it to ``client.start``)."""
    return require(connection, "BotToken")[0]


@direct
def discord_client(connection: str, intents: Any = None, **kwargs: Any) -> Any:
    """A ``discord.Client`` (default intents unless given); start it with
    ``await client.start(bot_token(connection))``."""
    bot_token(connection)
    import discord

    if base_url(connection):  # discord.py keeps its API address per process, on Route
        discord.http.Route.BASE = base_url(connection)
    return discord.Client(intents=intents or discord.Intents.default(), **kwargs)


__all__ = ["bot_token", "discord_client"]

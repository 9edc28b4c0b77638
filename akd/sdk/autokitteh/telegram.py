"""``autokitteh.telegram``: a Telegram bot of a connection (python-telegram-bot)."""

from __future__ import annotations

from typing import Any

from ._integrations import base_url, direct, require


@direct
def telegram_client(connection: str) -> Any:
    """A ``telegram.Bot`` with the connection's ``BotToken``."""
    (token,) = require(connection, "BotToken")
    from telegram import Bot

    return Bot(token=token, base_url=base_url(connection)) if base_url(connection) else Bot(token=token)


__all__ = ["telegram_client"]

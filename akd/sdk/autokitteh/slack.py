"""``autokitteh.slack``: a Slack client of a connection (slack_sdk's WebClient)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from ._integrations import base_url, direct, token

if TYPE_CHECKING:
    from slack_sdk import WebClient

# AutoKitteh's order: OAuth first, then a private app's bot token, then the older names.
_TOKEN_VARS = ("oauth_access_token", "private_bot_token", "oauth_AccessToken", "BotToken")


@direct
def slack_client(connection: str, **kwargs: Any) -> WebClient:
    """A ``slack_sdk.WebClient`` with the connection's token, checked with ``auth.test``.

    Raises ValueError (bad name), ConnectionInitError (no token) or SlackApiError.
    """
    bot_token = token(connection, *_TOKEN_VARS)
    from slack_sdk import WebClient

    if base_url(connection):
        kwargs.setdefault("base_url", base_url(connection))
    client = WebClient(bot_token, **kwargs)
    client.auth_test().validate()  # type: ignore[no-untyped-call]
    return client


def normalize_channel_name(name: str) -> str:
    """``name`` as a valid Slack channel name: lower case, no quotes, other characters as
    ``-``, separators not repeated nor at the ends, at most 50 characters."""
    name = re.sub(r"['\"]", "", name.lower())
    name = re.sub(r"[^a-z0-9_-]", "-", name)
    name = re.sub(r"([_-])[_-]+", r"\1", name)
    return name[:50].strip("-_")


__all__ = ["normalize_channel_name", "slack_client"]

"""``autokitteh.anthropic``: an Anthropic client of a connection."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._integrations import base_url, direct, require

if TYPE_CHECKING:
    from anthropic import Anthropic


@direct
def anthropic_client(connection: str) -> Anthropic:
    """An ``anthropic.Anthropic`` with the connection's ``api_key`` (no request is made)."""
    (api_key,) = require(connection, "api_key")
    from anthropic import Anthropic

    return Anthropic(api_key=api_key, base_url=base_url(connection) or None)


@direct
def anthropic_pydantic_ai_provider(connection: str, **kwargs: Any) -> Any:
    """A pydantic-ai ``AnthropicProvider`` with the connection's ``api_key``."""
    (api_key,) = require(connection, "api_key")
    from pydantic_ai.providers.anthropic import AnthropicProvider

    if base_url(connection):
        kwargs.setdefault("base_url", base_url(connection))
    return AnthropicProvider(api_key=api_key, **kwargs)


__all__ = ["anthropic_client", "anthropic_pydantic_ai_provider"]

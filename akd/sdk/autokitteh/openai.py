"""``autokitteh.openai``: an OpenAI client of a ``chatgpt`` connection."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._integrations import base_url, direct, require

if TYPE_CHECKING:
    from openai import OpenAI


@direct
def openai_client(connection: str) -> OpenAI:
    """An ``openai.OpenAI`` with the connection's ``apiKey`` (no request is made)."""
    (api_key,) = require(connection, "apiKey")
    from openai import OpenAI

    return OpenAI(api_key=api_key, base_url=base_url(connection) or None)


@direct
def openai_pydantic_ai_provider(connection: str, **kwargs: Any) -> Any:
    """A pydantic-ai ``OpenAIProvider`` with the connection's ``apiKey``."""
    (api_key,) = require(connection, "apiKey")
    from pydantic_ai.providers.openai import OpenAIProvider

    if base_url(connection):
        kwargs.setdefault("base_url", base_url(connection))
    return OpenAIProvider(api_key=api_key, **kwargs)


__all__ = ["openai_client", "openai_pydantic_ai_provider"]

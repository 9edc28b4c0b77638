"""``autokitteh.openai``: clients of the openai integration (see ``_integrations``)."""

from autokitteh._integrations import unconfigured

openai_client = unconfigured("openai", "openai_client")

__all__ = ["openai_client"]

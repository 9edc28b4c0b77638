"""``autokitteh.anthropic``: clients of the anthropic integration (see ``_integrations``)."""

from autokitteh._integrations import unconfigured

anthropic_client = unconfigured("anthropic", "anthropic_client")

__all__ = ["anthropic_client"]

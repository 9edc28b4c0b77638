"""``autokitteh.asana``: clients of the asana integration (see ``_integrations``)."""

from autokitteh._integrations import unconfigured

asana_client = unconfigured("asana", "asana_client")

__all__ = ["asana_client"]

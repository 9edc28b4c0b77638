"""``autokitteh.hubspot``: clients of the hubspot integration (see ``_integrations``)."""

from autokitteh._integrations import unconfigured

hubspot_client = unconfigured("hubspot", "hubspot_client")

__all__ = ["hubspot_client"]

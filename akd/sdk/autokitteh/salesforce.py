"""``autokitteh.salesforce``: clients of the salesforce integration (see ``_integrations``)."""

from autokitteh._integrations import unconfigured

salesforce_client = unconfigured("salesforce", "salesforce_client")

__all__ = ["salesforce_client"]

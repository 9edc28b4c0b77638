"""``autokitteh.airtable``: clients of the airtable integration (see ``_integrations``)."""

from autokitteh._integrations import unconfigured

airtable_client = unconfigured("airtable", "airtable_client")

__all__ = ["airtable_client"]

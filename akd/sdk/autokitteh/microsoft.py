"""``autokitteh.microsoft``: clients of the microsoft integration (see ``_integrations``)."""

from autokitteh._integrations import unconfigured

teams_client = unconfigured("microsoft", "teams_client")

__all__ = ["teams_client"]

"""``autokitteh.slack``: clients of the slack integration (see ``_integrations``)."""

from autokitteh._integrations import unconfigured

slack_client = unconfigured("slack", "slack_client")

__all__ = ["slack_client"]

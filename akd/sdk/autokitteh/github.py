"""``autokitteh.github``: clients of the github integration (see ``_integrations``)."""

from autokitteh._integrations import unconfigured

github_client = unconfigured("github", "github_client")

__all__ = ["github_client"]

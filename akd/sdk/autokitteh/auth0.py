"""``autokitteh.auth0``: clients of the auth0 integration (see ``_integrations``)."""

from autokitteh._integrations import unconfigured

auth0_client = unconfigured("auth0", "auth0_client")

__all__ = ["auth0_client"]

"""``autokitteh.height``: clients of the height integration (see ``_integrations``)."""

from autokitteh._integrations import unconfigured

height_client = unconfigured("height", "height_client")

__all__ = ["height_client"]

"""``autokitteh.zoom``: clients of the zoom integration (see ``_integrations``)."""

from autokitteh._integrations import unconfigured

zoom_client = unconfigured("zoom", "zoom_client")

__all__ = ["zoom_client"]

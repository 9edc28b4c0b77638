"""``autokitteh.linear``: clients of the linear integration (see ``_integrations``)."""

from autokitteh._integrations import unconfigured

linear_client = unconfigured("linear", "linear_client")

__all__ = ["linear_client"]

"""``autokitteh.kubernetes``: clients of the kubernetes integration (see ``_integrations``)."""

from autokitteh._integrations import unconfigured

kubernetes_client = unconfigured("kubernetes", "kubernetes_client")

__all__ = ["kubernetes_client"]

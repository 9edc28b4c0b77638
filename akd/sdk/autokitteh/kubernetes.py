"""``autokitteh.kubernetes``: the Kubernetes client configured from a connection's kubeconfig."""

from __future__ import annotations

import json
from types import ModuleType

from ._integrations import base_url, direct, not_initialized, require


@direct
def kubernetes_client(connection: str) -> ModuleType:
    """The ``kubernetes.client`` module, configured by the connection's ``config_file``."""
    (text,) = require(connection, "config_file")
    from kubernetes import client, config

    try:
        try:
            data = json.loads(text)
        except ValueError:
            import yaml

            data = yaml.safe_load(text)
        config.load_kube_config_from_dict(data)
    except config.ConfigException as exc:
        raise not_initialized(connection, f"bad kubeconfig: {exc}") from exc
    except Exception as exc:
        raise RuntimeError(f"kubernetes_client({connection!r}): {exc}") from exc
    if base_url(connection):
        conf = client.Configuration.get_default_copy()
        conf.host = base_url(connection)
        client.Configuration.set_default(conf)
    module: ModuleType = client
    return module


__all__ = ["kubernetes_client"]

"""``autokitteh.triggers``: the webhook URLs of this project's triggers."""

import os

from akd.runner.errors import AutoKittehError


def get_webhook_url(trigger_name: str) -> str:
    """The public URL of a webhook trigger of this project (also in env ``<trigger>__webhook_url``)."""
    url = os.environ.get(f"{trigger_name}__webhook_url")
    if not url:
        raise AutoKittehError(f"no webhook trigger named {trigger_name!r} in this project")
    return url


__all__ = ["get_webhook_url"]

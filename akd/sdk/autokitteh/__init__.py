"""akd's implementation of the ``autokitteh`` SDK, as seen by user code in a session."""

from __future__ import annotations

import os

from akd.runner import errors
from akd.runner.decorators import activity, inhibit_activities, register_no_activity
from akd.runner.errors import AutoKittehError, ConnectionInitError
from akd.runner.retry import RetryPolicy, retry_policy
from akd.runner.values import AttrDict, Event


def get_webhook_url(trigger: str) -> str:
    """The public URL of a webhook trigger of this project (also in env ``<trigger>__webhook_url``)."""
    url = os.environ.get(f"{trigger}__webhook_url")
    if not url:
        raise AutoKittehError(f"no webhook trigger named {trigger!r} in this project")
    return url


__all__ = [
    "AttrDict",
    "AutoKittehError",
    "ConnectionInitError",
    "Event",
    "RetryPolicy",
    "activity",
    "errors",
    "get_webhook_url",
    "inhibit_activities",
    "register_no_activity",
    "retry_policy",
]

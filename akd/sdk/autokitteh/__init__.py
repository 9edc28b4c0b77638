"""akd's implementation of the ``autokitteh`` SDK, as seen by user code in a session."""

from __future__ import annotations

import os

from akd.runner import errors
from akd.runner.api import (
    add_values,
    check_and_set_value,
    del_value,
    get_value,
    http_outcome,
    list_values_keys,
    mutate_value,
    next_event,
    next_signal,
    set_value,
    signal,
    start,
    subscribe,
    unsubscribe,
)
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
    "add_values",
    "check_and_set_value",
    "del_value",
    "errors",
    "get_value",
    "get_webhook_url",
    "http_outcome",
    "inhibit_activities",
    "list_values_keys",
    "mutate_value",
    "next_event",
    "next_signal",
    "register_no_activity",
    "retry_policy",
    "set_value",
    "signal",
    "start",
    "subscribe",
    "unsubscribe",
]

"""akd's implementation of the ``autokitteh`` SDK, as seen by user code in a session.

Names and submodules follow AutoKitteh's Python SDK: ``autokitteh.activities``,
``.events``, ``.signals``, ``.store``, ``.triggers``, ``.outcomes``, ``.event``,
``.attr_dict`` and ``.errors`` each give what AutoKitteh's do.
"""

from __future__ import annotations

from akd.runner.retry import RetryPolicy, retry_policy

from . import errors
from .activities import activity, inhibit_activities, register_no_activity
from .attr_dict import AttrDict
from .errors import AutoKittehError, ConnectionInitError
from .event import Event
from .events import next_event, start, subscribe, unsubscribe
from .outcomes import http_outcome, outcome
from .signals import Signal, next_signal, signal
from .store import (
    add_values,
    check_and_set_value,
    del_value,
    get_store_public_url,
    get_value,
    list_values_keys,
    mutate_value,
    publish_value,
    set_value,
    store,
    unpublish_value,
)
from .triggers import get_webhook_url

__all__ = [
    "AttrDict",
    "AutoKittehError",
    "ConnectionInitError",
    "Event",
    "RetryPolicy",
    "Signal",
    "activity",
    "add_values",
    "check_and_set_value",
    "del_value",
    "errors",
    "get_store_public_url",
    "get_value",
    "get_webhook_url",
    "http_outcome",
    "inhibit_activities",
    "list_values_keys",
    "mutate_value",
    "next_event",
    "next_signal",
    "outcome",
    "publish_value",
    "register_no_activity",
    "retry_policy",
    "set_value",
    "signal",
    "start",
    "store",
    "subscribe",
    "unpublish_value",
    "unsubscribe",
]

"""``autokitteh.store``: the project's key-value store, as functions and as the dict ``store``."""

from akd.runner.api import (
    Op,
    Store,
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

__all__ = [
    "Op",
    "Store",
    "add_values",
    "check_and_set_value",
    "del_value",
    "get_store_public_url",
    "get_value",
    "list_values_keys",
    "mutate_value",
    "publish_value",
    "set_value",
    "store",
    "unpublish_value",
]

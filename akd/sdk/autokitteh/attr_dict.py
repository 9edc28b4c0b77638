"""``autokitteh.attr_dict``: dicts with attribute access."""

from akd.runner.values import AttrDict

__all__ = ["AttrDict"]

"""``autokitteh.errors``: the SDK's error classes."""

from akd.runner.errors import *  # noqa: F403
from akd.runner.errors import __all__ as _names  # noqa: F401

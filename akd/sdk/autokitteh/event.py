"""``autokitteh.event``: what an entry function receives."""

from akd.runner.values import Event

__all__ = ["Event"]

"""``autokitteh.signals``: messages between sessions."""

from akd.runner.api import next_signal, signal
from akd.runner.values import Signal

__all__ = ["Signal", "next_signal", "signal"]

"""Errors the runner raises into user code (re-exported by the ``autokitteh`` SDK).

::

    AutoKittehError
    ├── ActivityError            a step could not be journaled
    │   ├── UnpicklableResultError
    │   └── StepResultTooLargeError
    ├── NonDeterminismError      replay took another path than the journal
    ├── ConnectionInitError      an integration used without a configured connection
    └── SessionStoppedError
"""

from __future__ import annotations


class AutoKittehError(Exception):
    """Base of every error raised by the akd SDK."""


class ActivityError(AutoKittehError):
    pass


class UnpicklableResultError(ActivityError):
    pass


class StepResultTooLargeError(ActivityError):
    pass


class NonDeterminismError(AutoKittehError):
    pass


class ConnectionInitError(AutoKittehError):
    pass


class SessionStoppedError(AutoKittehError):
    pass


class StepFailure(AutoKittehError):
    """Stands in for a step's exception that could not be pickled."""

    def __init__(self, type_name: str, message: str) -> None:
        super().__init__(f"{type_name}: {message}")
        self.type_name = type_name
        self.message = message

    def __reduce__(self) -> tuple[type[StepFailure], tuple[str, str]]:
        return (StepFailure, (self.type_name, self.message))


__all__ = [
    "ActivityError",
    "AutoKittehError",
    "ConnectionInitError",
    "NonDeterminismError",
    "SessionStoppedError",
    "StepFailure",
    "StepResultTooLargeError",
    "UnpicklableResultError",
]

"""Errors the runner raises into user code (re-exported by the ``autokitteh`` SDK).

::

    AutoKittehError
    ├── ActivityError            a step could not be journaled
    │   ├── UnpicklableResultError
    │   └── StepResultTooLargeError
    ├── NonDeterminismError      replay took another path than the journal
    ├── ConnectionInitError      an integration used without a configured connection
    ├── EnvVarError              a required environment variable is missing or invalid
    ├── OAuthRefreshError        an OAuth token could not be refreshed
    ├── AtlassianOAuthError      an API call an OAuth-based Atlassian connection cannot make
    └── SessionStoppedError
    AuthenticationError          (an Exception, as in AutoKitteh) a connection's credentials were refused

EnvVarError, OAuthRefreshError, AtlassianOAuthError and AuthenticationError take the
constructor arguments of their AutoKitteh namesakes.
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


class EnvVarError(AutoKittehError):
    def __init__(self, env_var: str, desc: str) -> None:
        super().__init__(f"environment variable {env_var!r} is {desc}")


class OAuthRefreshError(AutoKittehError):
    def __init__(self, connection: str, error: object) -> None:
        super().__init__(f"connection {connection!r}: OAuth token refresh failed: {error}")


class AtlassianOAuthError(AutoKittehError):
    def __init__(self, connection: str) -> None:
        super().__init__(f"connection {connection!r} is OAuth-based and cannot make this API call; use a token")


class AuthenticationError(Exception):
    def __init__(self, connection: str, reason: str) -> None:
        super().__init__(f"connection {connection!r}: authentication failed: {reason}")


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
    "AtlassianOAuthError",
    "AuthenticationError",
    "AutoKittehError",
    "ConnectionInitError",
    "EnvVarError",
    "NonDeterminismError",
    "OAuthRefreshError",
    "SessionStoppedError",
    "StepFailure",
    "StepResultTooLargeError",
    "UnpicklableResultError",
]

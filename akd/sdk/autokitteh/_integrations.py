"""What the integration modules (``autokitteh.slack`` and friends) share.

A client factory reads its connection's vars from the session's env
(``<connection>__<var>``, set by akd), checks what AutoKitteh's checks, and returns the
vendor's own client. Vendor libraries are imported inside the factories, so a project
that never asks for a client needs none of them. Factories run directly in a session
(they only read env vars); the calls their clients make later are journaled as usual.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

from akd.runner.errors import ConnectionInitError

from .connections import check_connection_name

F = TypeVar("F", bound=Callable[..., Any])


def direct(fn: F) -> F:
    """Run ``fn`` as a plain call in a session, never as a journaled step."""
    fn._akd_direct = True  # type: ignore[attr-defined]
    return fn


def var(connection: str, name: str) -> str:
    """The connection var ``name`` ('' when unset)."""
    return os.environ.get(f"{connection}__{name}", "")


def first(connection: str, *names: str) -> str:
    """The first of ``names`` that is set, in that order."""
    return next((v for v in (var(connection, n) for n in names) if v), "")


def base_url(connection: str) -> str:
    """The connection var ``base_url`` (akd's override of the vendor's API address), or ''."""
    return var(connection, "base_url")


def not_initialized(connection: str, needs: str) -> ConnectionInitError:
    """AutoKitteh's error for a connection without credentials, saying how to give them."""
    message = f"AutoKitteh connection {connection!r} not initialized: {needs}"
    if var(connection, "connection_id"):
        message += f"; run `akctl connection init PROJECT/{connection}` (PROJECT: this project's name)"
    else:
        message += f"; this project declares no connection {connection!r} (see connections: in autokitteh.yaml)"
    err = ConnectionInitError(message)
    err.connection = connection  # type: ignore[attr-defined]
    return err


def require(connection: str, *names: str) -> list[str]:
    """The values of ``names``, after checking the connection name; ConnectionInitError if one is unset."""
    check_connection_name(connection)
    values = [var(connection, n) for n in names]
    missing = [n for n, v in zip(names, values, strict=True) if not v]
    if missing:
        raise not_initialized(connection, f"missing {', '.join(missing)}")
    return values


def token(connection: str, *names: str) -> str:
    """The first credential var of ``names`` that is set; ConnectionInitError if none is."""
    check_connection_name(connection)
    found = first(connection, *names)
    if not found:
        raise not_initialized(connection, f"no credentials (set {' or '.join(names)})")
    return found


def unconfigured(integration: str, function: str) -> Any:
    """A factory for a client akd cannot build: raises a clear ConnectionInitError."""

    def client(connection: str = "", *args: Any, **kwargs: Any) -> NoReturn:
        raise ConnectionInitError(
            f"{function}({connection!r}): akd has no {integration} client; build it yourself from the "
            f"connection's vars (env {connection}__<var>)"
        )

    client.__name__ = function
    client.__qualname__ = function
    return direct(client)

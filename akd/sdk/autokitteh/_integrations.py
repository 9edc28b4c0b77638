"""Integration modules (``autokitteh.slack`` and friends) without connections.

AutoKitteh projects import these at module level; they must import cleanly. akd does
not manage integration connections yet, so creating a client raises a clear
``ConnectionInitError`` naming the connection.
"""

from __future__ import annotations

from typing import Any, NoReturn

from akd.runner.errors import ConnectionInitError


def unconfigured(integration: str, function: str) -> Any:
    def client(connection: str = "", *args: Any, **kwargs: Any) -> NoReturn:
        raise ConnectionInitError(
            f"{function}({connection!r}): connection {connection!r} is not initialized; akd does not "
            f"manage {integration} connections yet: create the client yourself with your token in a "
            "project var (secret: true)"
        )

    client.__name__ = function
    client.__qualname__ = function
    client._akd_direct = True  # type: ignore[attr-defined]
    return client

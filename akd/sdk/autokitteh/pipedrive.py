"""``autokitteh.pipedrive``: a Pipedrive client of a connection (pipedrive-python-lib)."""

from __future__ import annotations

from typing import Any

from ._integrations import base_url, direct, require


@direct
def pipedrive_client(connection: str) -> Any:
    """A ``pipedrive.client.Client`` for ``company_domain`` with the connection's ``api_key``."""
    domain, api_key = require(connection, "company_domain", "api_key")
    from pipedrive.client import Client

    client = Client(domain=base_url(connection) or domain)
    client.set_api_token(api_key)
    return client


__all__ = ["pipedrive_client"]

"""``autokitteh.twilio``: a Twilio client of a connection."""

from __future__ import annotations

from typing import Any

from ._integrations import base_url, direct, require, var


@direct
def twilio_client(connection: str) -> Any:
    """A ``twilio.rest.Client`` with the connection's ``Username``/``Password`` (the account
    SID and auth token, or an API key and secret) for account ``AccountSID``."""
    username, password = require(connection, "Username", "Password")
    from twilio.rest import Client

    client = Client(username, password, account_sid=var(connection, "AccountSID") or None)
    if base_url(connection):  # twilio-python keeps the address per domain; api.twilio.com is "api"
        client.api.base_url = base_url(connection)
    return client


__all__ = ["twilio_client"]

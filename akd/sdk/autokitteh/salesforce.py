"""``autokitteh.salesforce``: a Salesforce client of a connection (simple-salesforce)."""

from __future__ import annotations

from typing import Any

from ._integrations import base_url, direct, require


@direct
def salesforce_client(connection: str, **kwargs: Any) -> Any:
    """A ``simple_salesforce.Salesforce`` on ``instance_url`` with the connection's OAuth token."""
    access, instance = require(connection, "oauth_access_token", "instance_url")
    from simple_salesforce import Salesforce

    return Salesforce(instance_url=base_url(connection) or instance, session_id=access, **kwargs)


__all__ = ["salesforce_client"]

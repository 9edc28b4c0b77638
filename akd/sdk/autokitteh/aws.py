"""``autokitteh.aws``: boto3 clients of a connection."""

from __future__ import annotations

from typing import Any

from ._integrations import base_url, direct, var
from .connections import check_connection_name


@direct
def boto3_client(connection: str, service: str, region: str = "", **kwargs: Any) -> Any:
    """``boto3.client(service)`` with the connection's ``AccessKeyID``, ``SecretKey``,
    ``Token`` and ``Region`` (``region`` overrides it). Unset keys leave boto3 to its own
    credential chain, as in AutoKitteh."""
    check_connection_name(connection)
    if not service:
        raise ValueError("AWS service name is required")
    import boto3

    if base_url(connection):
        kwargs.setdefault("endpoint_url", base_url(connection))
    return boto3.client(
        service,
        region or var(connection, "Region") or None,
        aws_access_key_id=var(connection, "AccessKeyID") or None,
        aws_secret_access_key=var(connection, "SecretKey") or None,
        aws_session_token=var(connection, "Token") or None,
        **kwargs,
    )


__all__ = ["boto3_client"]

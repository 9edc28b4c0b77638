"""``autokitteh.microsoft``: a Microsoft Graph client of a connection (msgraph-sdk)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from akd.runner.errors import OAuthRefreshError

from . import connections
from ._integrations import direct, require, var
from .connections import check_connection_name


class OAuthTokenProvider:
    """An azure-identity ``TokenCredential`` over the connection's OAuth token, refreshed
    through akd when it is within ``buffer_time`` of expiring."""

    def __init__(self, connection: str, buffer_time: timedelta | None = None) -> None:
        (self.token,) = require(connection, "oauth_access_token")
        self.connection = connection
        self.buffer = buffer_time if buffer_time is not None else timedelta(minutes=5)
        stamp = var(connection, "oauth_expiry")
        self.expiry = datetime.fromisoformat(stamp.replace("Z", "+00:00")) if stamp else datetime.now(UTC)

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        from azure.core.credentials import AccessToken

        expiry = self.expiry if self.expiry.tzinfo else self.expiry.replace(tzinfo=UTC)
        if expiry - self.buffer < datetime.now(UTC):
            try:
                self.token, naive = connections.refresh_oauth("microsoft", self.connection)
            except Exception as exc:
                raise OAuthRefreshError(self.connection, exc) from exc
            self.expiry = naive.replace(tzinfo=UTC)
        return AccessToken(self.token, int(self.expiry.timestamp()))


@direct
def teams_client(connection: str, **kwargs: Any) -> Any:
    """A ``msgraph.GraphServiceClient`` for an OAuth or daemon-app connection."""
    check_connection_name(connection)
    from msgraph import GraphServiceClient

    auth_type = var(connection, "auth_type")
    if auth_type in ("oauthDefault", "oauthPrivate", "oauth"):
        return GraphServiceClient(credentials=OAuthTokenProvider(connection), **kwargs)
    if auth_type == "daemonApp":
        from azure.identity import CertificateCredential, ClientSecretCredential

        (client_id,) = require(connection, "private_client_id")
        tenant = var(connection, "private_tenant_id") or "common"
        cert = var(connection, "private_certificate")
        if cert:
            creds: Any = CertificateCredential(tenant, client_id, certificate_data=cert.encode())
        else:
            creds = ClientSecretCredential(tenant, client_id, require(connection, "private_client_secret")[0])
        return GraphServiceClient(credentials=creds, **kwargs)
    raise ValueError(f"connection {connection!r}: unsupported auth_type {auth_type!r}")


__all__ = ["OAuthTokenProvider", "teams_client"]

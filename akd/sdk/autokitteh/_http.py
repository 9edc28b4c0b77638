"""A ``requests.Session`` bound to a base URL with a connection's bearer token, refreshing
it once on HTTP 401 (what AutoKitteh's OAuth2Session does). Imported only by factories
that need it, so ``requests`` is needed only then."""

from __future__ import annotations

from typing import Any
from urllib.parse import urljoin

import requests

from . import connections
from ._integrations import var


class OAuth2Session(requests.Session):
    """Requests to relative URLs go to ``base_url``; a 401 refreshes the token and retries once."""

    def __init__(
        self, integration: str, connection: str, base_url: str, token: str, scheme: str = "Bearer", oauth: bool = True
    ) -> None:
        super().__init__()
        self.integration, self.connection, self.base_url = integration, connection, base_url
        self.headers["Authorization"] = f"{scheme} {token}".strip()
        if oauth and var(connection, "oauth_refresh_token"):
            self.hooks["response"].append(self._refresh_on_401)

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        full = urljoin(self.base_url, url.decode() if isinstance(url, bytes) else url)
        verb = method.decode() if isinstance(method, bytes) else method
        return super().request(verb, full, *args, **kwargs)

    def _refresh_on_401(self, resp: requests.Response, *args: Any, **kwargs: Any) -> requests.Response:
        if resp.status_code != 401 or getattr(resp.request, "_akd_retried", False):
            return resp
        access, _ = connections.refresh_oauth(self.integration, self.connection)
        self.headers["Authorization"] = f"Bearer {access}"
        again = resp.request.copy()
        again.headers["Authorization"] = f"Bearer {access}"
        again._akd_retried = True  # type: ignore[attr-defined]
        return self.send(again, **kwargs)

"""Connection tests of the client-credentials integrations (auth0, zoom, reddit, Microsoft,
Azure Bot): the token request each makes, against a local token endpoint."""

from __future__ import annotations

import asyncio
import base64
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import pytest

from akd import integrations
from akd.services.connections import _ask_vendor

SEEN: list[dict[str, Any]] = []


class TokenEndpoint(BaseHTTPRequestHandler):
    """Grants a token to client ``cid`` with secret ``good``, in the form or by basic auth."""

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers["Content-Length"] or 0)).decode()
        form = {k: v[0] for k, v in parse_qs(raw).items()}
        user, secret = form.get("client_id", ""), form.get("client_secret", "")
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Basic "):
            user, _, secret = base64.b64decode(auth[6:]).decode().partition(":")
        SEEN.append({"path": self.path, "form": form, "user": user})
        ok = user == "cid" and secret == "good"
        body = json.dumps({"access_token": "t", "token_type": "Bearer"} if ok else
                          {"error": "invalid_client", "error_description": "bad client secret"}).encode()  # fmt: skip
        self.send_response(200 if ok else 401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), TokenEndpoint)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


CASES = {
    "auth0": ("oauth", {"auth0_domain": "t.auth0.com", "client_id": "cid"}, "client_secret", "/oauth/token"),
    "zoom": ("serverToServer", {"private_account_id": "acc", "private_client_id": "cid"}, "private_client_secret",
             "/oauth/token"),
    "reddit": ("oauthPrivate", {"client_id": "cid", "user_agent": "ua"}, "client_secret", "/api/v1/access_token"),
    "microsoft": ("daemonApp", {"private_client_id": "cid"}, "private_client_secret",
                  "/organizations/oauth2/v2.0/token"),
    "azurebot": ("initialized", {"app_id": "cid", "tenant_id": "tid"}, "app_password", "/tid/oauth2/v2.0/token"),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(CASES))
def test_client_credentials_are_tested_with_a_token_request(endpoint: str, name: str) -> None:
    mode_name, values, secret_var, path = CASES[name]
    integration = integrations.get(name)
    mode = integration.mode(mode_name)
    check = integration.check_for(mode.name)
    assert check is not None, f"{name} {mode_name} has no test"
    good = {**values, secret_var: "good", "base_url": endpoint}
    ok, message = asyncio.run(_ask_vendor(check, mode, good))
    assert ok, message
    assert SEEN[-1]["path"] == path and SEEN[-1]["user"] == "cid"
    ok, message = asyncio.run(_ask_vendor(check, mode, {**good, secret_var: "bad"}))
    assert not ok and "bad client secret" in message, message


def test_zoom_sends_its_account_and_grant_type() -> None:
    check = integrations.get("zoom").check_for("serverToServer")
    assert check is not None and dict(check.form) == {"grant_type": "account_credentials",
                                                      "account_id": "{private_account_id}"}  # fmt: skip

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
from akd.vendor_auth import sigv4_authorization

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


class Sts(BaseHTTPRequestHandler):
    """STS GetCallerIdentity: the signature is recomputed with the secret it knows."""

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"] or 0))
        signed = {k: self.headers[k] for k in ("host", "content-type", "x-amz-date")}
        expected = sigv4_authorization(
            "POST", f"http://{self.headers['host']}/", signed, body, access_key="AKIDTEST", secret_key="s3cret",
            region="us-east-1", service="sts", amz_date=self.headers["x-amz-date"],
        )  # fmt: skip
        ok = self.headers.get("authorization") == expected and body.startswith(b"Action=GetCallerIdentity")
        text = (b"<GetCallerIdentityResponse><Arn>arn:aws:iam::1:user/t</Arn></GetCallerIdentityResponse>" if ok
                else b"<ErrorResponse><Error><Code>SignatureDoesNotMatch</Code></Error></ErrorResponse>")  # fmt: skip
        self.send_response(200 if ok else 403)
        self.send_header("Content-Length", str(len(text)))
        self.end_headers()
        self.wfile.write(text)

    def log_message(self, *args: Any) -> None:
        pass


def test_aws_keys_are_tested_with_a_signed_caller_identity_request() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Sts)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        integration = integrations.get("aws")
        mode = integration.mode("initialized")
        check = integration.check_for(mode.name)
        assert check is not None
        values = {"AccessKeyID": "AKIDTEST", "SecretKey": "s3cret", "Region": "us-east-1",
                  "base_url": f"http://127.0.0.1:{server.server_address[1]}"}  # fmt: skip
        ok, message = asyncio.run(_ask_vendor(check, mode, values))
        assert ok, message
        ok, message = asyncio.run(_ask_vendor(check, mode, {**values, "SecretKey": "wrong"}))
        assert not ok and "SignatureDoesNotMatch" in message, message
    finally:
        server.shutdown()
        server.server_close()


class KubeApi(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        ok = self.path == "/version" and self.headers.get("Authorization") == "Bearer kube-token"
        body = json.dumps({"major": "1", "minor": "31"} if ok else {"kind": "Status", "message": "Unauthorized"})
        self.send_response(200 if ok else 401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args: Any) -> None:
        pass


KUBECONFIG = """\
apiVersion: v1
kind: Config
current-context: dev
contexts: [{{name: dev, context: {{cluster: local, user: me}}}}]
clusters: [{{name: local, cluster: {{server: "{server}"}}}}]
users: [{{name: me, user: {{token: {token}}}}}]
"""


def test_kubernetes_is_tested_as_the_kubeconfigs_current_context() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), KubeApi)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        integration = integrations.get("kubernetes")
        mode = integration.mode("initialized")
        check = integration.check_for(mode.name)
        assert check is not None
        url = f"http://127.0.0.1:{server.server_address[1]}"
        ok, message = asyncio.run(
            _ask_vendor(check, mode, {"config_file": KUBECONFIG.format(server=url, token="kube-token")})
        )
        assert ok, message
        ok, message = asyncio.run(
            _ask_vendor(check, mode, {"config_file": KUBECONFIG.format(server=url, token="nope")})
        )
        assert not ok and "Unauthorized" in message, message
        plugin = (
            "current-context: x\ncontexts: [{name: x, context: {cluster: c, user: u}}]\n"
            "clusters: [{name: c, cluster: {server: x}}]\nusers: [{name: u, user: {exec: {command: aws}}}]\n"
        )
        ok, message = asyncio.run(_ask_vendor(check, mode, {"config_file": plugin}))
        assert not ok and "credential plugin" in message
    finally:
        server.shutdown()
        server.server_close()

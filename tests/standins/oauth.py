"""A local OAuth 2.0 authorization server (RFC 6749 + PKCE, RFC 7636) for tests.

``GET /authorize`` approves at once: it redirects to the ``redirect_uri`` with a code
and the ``state``. ``POST /token`` takes ``authorization_code`` (the PKCE verifier must
match the challenge; the client authenticates in the body or with Basic) and
``refresh_token`` (each use rotates the refresh token; a used or revoked one gets
``invalid_grant``). ``expires_in`` of the next tokens is settable.

    with OAuthStandIn("cid", "csecret") as server:
        server.url  # http://127.0.0.1:<port>
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, unquote_plus, urlencode, urlsplit


@dataclass
class Grant:
    client_id: str
    redirect_uri: str
    challenge: str
    method: str
    scope: str


@dataclass
class OAuthStandIn:
    client_id: str
    client_secret: str
    expires_in: int = 3600
    codes: dict[str, Grant] = field(default_factory=dict)
    live_refresh: set[str] = field(default_factory=set)
    access_tokens: list[str] = field(default_factory=list)
    refresh_tokens: list[str] = field(default_factory=list)
    requests: list[dict[str, str]] = field(default_factory=list)  # token endpoint forms (secrets included)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        standin = self

        class Handler(_Handler):
            server_state = standin

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> OAuthStandIn:
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self._server.shutdown()
        self._server.server_close()

    def revoke(self, refresh_token: str) -> None:
        with self.lock:
            self.live_refresh.discard(refresh_token)

    # -- what the handler calls -----------------------------------------------------------

    def authorize(self, q: dict[str, str]) -> tuple[int, dict[str, str]]:
        if q.get("client_id") != self.client_id:
            return 400, {"error": "invalid_client"}
        if q.get("response_type") != "code" or not q.get("redirect_uri") or not q.get("code_challenge"):
            return 400, {"error": "invalid_request"}
        code = secrets.token_urlsafe(16)
        with self.lock:
            self.codes[code] = Grant(q["client_id"], q["redirect_uri"], q["code_challenge"],
                                     q.get("code_challenge_method", "plain"), q.get("scope", ""))  # fmt: skip
        sep = "&" if "?" in q["redirect_uri"] else "?"
        return 302, {"Location": q["redirect_uri"] + sep + urlencode({"code": code, "state": q.get("state", "")})}

    def token(self, form: dict[str, str], basic: tuple[str, str] | None) -> tuple[int, dict[str, Any]]:
        self.requests.append(dict(form))
        client = basic or (form.get("client_id", ""), form.get("client_secret", ""))
        if client != (self.client_id, self.client_secret):
            return 401, {"error": "invalid_client"}
        with self.lock:
            if form.get("grant_type") == "authorization_code":
                return self._code_grant(form)
            if form.get("grant_type") == "refresh_token":
                if form.get("refresh_token") not in self.live_refresh:
                    return 400, {"error": "invalid_grant", "error_description": "refresh token revoked or used"}
                self.live_refresh.discard(form["refresh_token"])
                return 200, self._issue()
        return 400, {"error": "unsupported_grant_type"}

    def _code_grant(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        grant = self.codes.pop(form.get("code", ""), None)
        if grant is None or grant.redirect_uri != form.get("redirect_uri"):
            return 400, {"error": "invalid_grant", "error_description": "unknown code or redirect_uri mismatch"}
        digest = hashlib.sha256(form.get("code_verifier", "").encode()).digest()
        if grant.method != "S256" or base64.urlsafe_b64encode(digest).rstrip(b"=").decode() != grant.challenge:
            return 400, {"error": "invalid_grant", "error_description": "PKCE verification failed"}
        return 200, self._issue()

    def _issue(self) -> dict[str, Any]:
        access, refresh = f"at-{secrets.token_hex(8)}", f"rt-{secrets.token_hex(8)}"
        self.access_tokens.append(access)
        self.refresh_tokens.append(refresh)
        self.live_refresh.add(refresh)
        return {"access_token": access, "refresh_token": refresh, "token_type": "Bearer",
                "expires_in": self.expires_in}  # fmt: skip


class _Handler(BaseHTTPRequestHandler):
    server_state: OAuthStandIn

    def _send(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        if parts.path != "/authorize":
            self._send(404, {"error": "not_found"})
            return
        status, out = self.server_state.authorize({k: v[0] for k, v in parse_qs(parts.query).items()})
        if status == 302:
            self._send(302, {}, out)
        else:
            self._send(status, out)

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
        if urlsplit(self.path).path != "/token":
            self._send(404, {"error": "not_found"})
            return
        form = {k: v[0] for k, v in parse_qs(raw).items()}
        status, out = self.server_state.token(form, _basic(self.headers.get("Authorization", "")))
        self._send(status, out)

    def log_message(self, *args: Any) -> None:
        pass


def _basic(header: str) -> tuple[str, str] | None:
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    user, _, password = base64.b64decode(value).decode().partition(":")
    return unquote_plus(user), unquote_plus(password)

"""OAuth 2.0 authorization code flow with PKCE (RFC 6749, RFC 7636), pure parts plus
the two token-endpoint calls.

Endpoints and default scopes per integration are AutoKitteh's
(``integrations/oauth/configs.go``); ``[oauth.<integration>]`` in ``akd.toml`` overrides
them (a self-hosted vendor, or a local stand-in in tests). Tokens land in connection
vars under one of two schemes, as AutoKitteh stores them:

- new: ``oauth_access_token``, ``oauth_refresh_token``, ``oauth_expiry`` (RFC 3339),
  ``oauth_token_type``;
- legacy (the Google family, jira, confluence, auth0, hubspot): ``oauth_AccessToken``,
  ``oauth_RefreshToken``, ``oauth_Expiry`` (Go's ``time.String()``), ``oauth_TokenType``.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, quote_plus, urlencode

import httpx

from akd.config import OAuthEndpointConfig
from akd.errors import BadGateway, NotFound

TOKEN_TIMEOUT = 15.0


class TokenError(BadGateway):
    """The token endpoint refused (``error`` is the RFC 6749 code, e.g. ``invalid_grant``)."""

    def __init__(self, error: str, description: str, url: str) -> None:
        detail = f": {description}" if description else ""
        super().__init__(f"the token endpoint {url} answered {error}{detail}", details={"oauth_error": error})
        self.error = error


@dataclass(frozen=True)
class Endpoints:
    authorize_url: str
    token_url: str
    scopes: tuple[str, ...] = ()
    extra_params: tuple[tuple[str, str], ...] = ()  # added to the authorize URL
    legacy: bool = False  # the legacy var scheme (oauth_AccessToken, ...)
    basic_auth: bool = False  # client credentials in an Authorization: Basic header


_GOOGLE_AUTH, _GOOGLE_TOKEN = "https://accounts.google.com/o/oauth2/auth", "https://oauth2.googleapis.com/token"
_GOOGLE_BASE = ("openid", "https://www.googleapis.com/auth/userinfo.email",
                "https://www.googleapis.com/auth/userinfo.profile")  # fmt: skip
_OFFLINE = (("access_type", "offline"), ("prompt", "consent"))
_API = "https://www.googleapis.com/auth/"


def _google(*scopes: str) -> Endpoints:
    return Endpoints(_GOOGLE_AUTH, _GOOGLE_TOKEN, _GOOGLE_BASE + tuple(_API + s for s in scopes), _OFFLINE, True)


def _atlassian(*scopes: str) -> Endpoints:
    return Endpoints("https://auth.atlassian.com/authorize", "https://auth.atlassian.com/oauth/token", scopes,
                     (("audience", "api.atlassian.com"), ("prompt", "consent")), legacy=True)  # fmt: skip


_MICROSOFT = Endpoints(
    "https://login.microsoftonline.com/common/oauth2/v2.0/authorize",
    "https://login.microsoftonline.com/common/oauth2/v2.0/token",
    ("offline_access", "openid", "profile", "email", "User.Read", "Chat.ReadWrite.All", "ChannelMessage.Send",
     "Team.ReadBasic.All"),
)  # fmt: skip

ENDPOINTS: dict[str, Endpoints] = {
    "slack": Endpoints("https://slack.com/oauth/v2/authorize", "https://slack.com/api/oauth.v2.access",
                       ("app_mentions:read", "channels:history", "channels:read", "chat:write", "commands",
                        "groups:history", "groups:read", "im:history", "im:read", "im:write", "reactions:read",
                        "reactions:write", "users:read", "users:read.email"), basic_auth=True),
    # A user's own OAuth app (AutoKitteh's default GitHub flow installs a GitHub App instead).
    "github": Endpoints("https://github.com/login/oauth/authorize", "https://github.com/login/oauth/access_token",
                        ("repo", "read:user", "read:org")),
    "gmail": _google("gmail.modify", "gmail.settings.basic"),
    "googlesheets": _google("spreadsheets"),
    "googlecalendar": _google("calendar", "calendar.events"),
    "googledrive": _google("drive.file"),
    "googleforms": _google("forms.body", "forms.responses.readonly"),
    "google": _google("drive.file", "calendar", "calendar.events", "gmail.modify", "spreadsheets", "forms.body"),
    "youtube": _google("youtube", "youtube.readonly", "youtube.upload"),
    "jira": _atlassian("read:jira-work", "read:jira-user", "write:jira-work", "manage:jira-webhook",
                       "read:account", "offline_access"),
    "confluence": _atlassian("write:confluence-content", "read:confluence-space.summary",
                             "read:confluence-content.all", "search:confluence", "read:confluence-user",
                             "offline_access"),
    "hubspot": Endpoints("https://app.hubspot.com/oauth/authorize", "https://api.hubapi.com/oauth/v1/token",
                         ("crm.objects.companies.read", "crm.objects.companies.write", "crm.objects.contacts.read",
                          "crm.objects.contacts.write", "crm.objects.deals.read", "crm.objects.deals.write",
                          "crm.objects.owners.read"), legacy=True),
    "notion": Endpoints("https://api.notion.com/v1/oauth/authorize", "https://api.notion.com/v1/oauth/token",
                        (), (("owner", "user"),), basic_auth=True),
    "linear": Endpoints("https://linear.app/oauth/authorize", "https://api.linear.app/oauth/token", ("read", "write")),
    "airtable": Endpoints("https://airtable.com/oauth2/v1/authorize", "https://airtable.com/oauth2/v1/token",
                          ("data.records:read", "data.records:write", "data.recordComments:read",
                           "data.recordComments:write", "schema.bases:read", "schema.bases:write", "user.email:read",
                           "webhook:manage"), basic_auth=True),
    "salesforce": Endpoints("https://login.salesforce.com/services/oauth2/authorize",
                            "https://login.salesforce.com/services/oauth2/token", ("api", "refresh_token")),
    "zoom": Endpoints("https://zoom.us/oauth/authorize", "https://zoom.us/oauth/token", basic_auth=True),
    "microsoft": _MICROSOFT,
    "microsoft_teams": _MICROSOFT,
    "height": Endpoints("https://height.app/oauth/authorization", "https://api.height.app/oauth/tokens", ("api",)),
}  # fmt: skip


def endpoints(integration: str, overrides: Mapping[str, OAuthEndpointConfig]) -> Endpoints:
    """The integration's endpoints with ``[oauth.<integration>]`` applied."""
    base = ENDPOINTS.get(integration)
    if base is None:
        known = ", ".join(sorted(ENDPOINTS))
        raise NotFound(f"akd has no OAuth endpoints for {integration!r}; OAuth works for {known}")
    over = overrides.get(integration)
    if over is None:
        return base
    return replace(
        base,
        authorize_url=over.authorize_url or base.authorize_url,
        token_url=over.token_url or base.token_url,
        scopes=tuple(over.scopes.split()) if over.scopes else base.scopes,
    )


# -- the authorization request ----------------------------------------------------------


def new_state() -> str:
    """An unguessable state (256 random bits)."""
    return secrets.token_urlsafe(32)


def state_digest(state: str) -> str:
    """What the store keeps of a state (the state itself is only in the browser's URL)."""
    return hashlib.sha256(state.encode()).hexdigest()


def new_verifier() -> str:
    """A PKCE code verifier: 43-128 characters of [A-Za-z0-9-._~] (RFC 7636 4.1)."""
    return secrets.token_urlsafe(48)


def challenge(verifier: str) -> str:
    """The S256 code challenge of a verifier."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def authorize_url(ep: Endpoints, client_id: str, redirect_uri: str, state: str, verifier: str,
                  scopes: tuple[str, ...] = ()) -> str:  # fmt: skip
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "state": state,
        "code_challenge": challenge(verifier),
        "code_challenge_method": "S256",
    }
    if scopes or ep.scopes:
        params["scope"] = " ".join(scopes or ep.scopes)
    params.update(dict(ep.extra_params))
    sep = "&" if "?" in ep.authorize_url else "?"
    return f"{ep.authorize_url}{sep}{urlencode(params)}"


# -- the token endpoint ------------------------------------------------------------------


@dataclass(frozen=True)
class Tokens:
    access_token: str
    refresh_token: str  # empty when the vendor sent none (keep the old one)
    expiry: float | None  # epoch seconds; None: the token does not expire
    token_type: str


async def exchange_code(ep: Endpoints, client_id: str, client_secret: str, code: str, verifier: str,
                        redirect_uri: str) -> Tokens:  # fmt: skip
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri, "code_verifier": verifier}
    return await _token_request(ep, client_id, client_secret, form)


async def refresh(ep: Endpoints, client_id: str, client_secret: str, refresh_token: str) -> Tokens:
    form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
    return await _token_request(ep, client_id, client_secret, form)


async def _token_request(ep: Endpoints, client_id: str, client_secret: str, form: dict[str, str]) -> Tokens:
    headers = {"Accept": "application/json"}
    if ep.basic_auth:
        # RFC 6749 2.3.1: each part form-encoded, then Basic.
        pair = f"{quote_plus(client_id)}:{quote_plus(client_secret)}".encode()
        headers["Authorization"] = "Basic " + base64.b64encode(pair).decode("ascii")
    else:
        form = {**form, "client_id": client_id, "client_secret": client_secret}
    started = time.time()
    try:
        async with httpx.AsyncClient(timeout=TOKEN_TIMEOUT) as client:
            resp = await client.post(ep.token_url, data=form, headers=headers)
    except httpx.HTTPError as exc:
        raise BadGateway(f"cannot reach the token endpoint {ep.token_url}: {exc}") from None
    return _tokens(_answer(resp), started, ep.token_url, resp.status_code)


def _answer(resp: httpx.Response) -> dict[str, Any]:
    """The token endpoint's answer: JSON, or a form (GitHub without an Accept header)."""
    try:
        data = resp.json()
    except ValueError:
        data = dict(parse_qsl(resp.text))
    return data if isinstance(data, dict) else {}


def _tokens(data: dict[str, Any], started: float, url: str, status: int) -> Tokens:
    if data.get("error") or data.get("ok") is False:  # Slack answers 200 with ok=false
        error = str(data.get("error") or "error")
        raise TokenError(error, str(data.get("error_description") or ""), url)
    token = data.get("access_token")
    if status >= 300 or not isinstance(token, str) or not token:
        raise TokenError("invalid_response", f"HTTP {status} without an access_token", url)
    expires_in = data.get("expires_in")
    expiry = started + float(expires_in) if isinstance(expires_in, int | float | str) and str(expires_in) else None
    return Tokens(token, str(data.get("refresh_token") or ""), expiry, str(data.get("token_type") or "Bearer"))


# -- connection vars -----------------------------------------------------------------------

NEW_VARS = ("oauth_access_token", "oauth_refresh_token", "oauth_expiry", "oauth_token_type")
LEGACY_VARS = ("oauth_AccessToken", "oauth_RefreshToken", "oauth_Expiry", "oauth_TokenType")


def var_names(ep: Endpoints) -> tuple[str, str, str, str]:
    """(access token, refresh token, expiry, token type) var names of the endpoint's scheme."""
    return LEGACY_VARS if ep.legacy else NEW_VARS


def token_vars(ep: Endpoints, tokens: Tokens, old_refresh: str = "") -> dict[str, tuple[str, bool]]:
    """The vars to store: name -> (value, secret). A missing refresh token keeps ``old_refresh``."""
    access, refresh_var, expiry, token_type = var_names(ep)
    out = {access: (tokens.access_token, True), token_type: (tokens.token_type, False)}
    if tokens.refresh_token or old_refresh:
        out[refresh_var] = (tokens.refresh_token or old_refresh, True)
    out[expiry] = (format_expiry(tokens.expiry, legacy=ep.legacy) if tokens.expiry is not None else "", False)
    return out


def format_expiry(t: float, *, legacy: bool) -> str:
    when = datetime.fromtimestamp(t, UTC)
    if legacy:  # Go's time.String(), which AutoKitteh's Python clients parse
        return when.strftime("%Y-%m-%d %H:%M:%S.%f +0000 UTC")
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def rfc3339(t: float) -> str:
    return format_expiry(t, legacy=False)


_GO_TIME = re.compile(r"^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d)(\.\d+)? ([+-]\d{4})")


def parse_expiry(text: str) -> float | None:
    """Epoch seconds of an RFC 3339 or Go ``time.String()`` expiry; None if empty or unreadable."""
    text = text.strip()
    if not text:
        return None
    go = _GO_TIME.match(text)
    if go:
        text = f"{go[1]}T{go[2]}{go[3] or ''}{go[4]}"
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()

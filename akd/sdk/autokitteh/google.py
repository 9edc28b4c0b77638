"""``autokitteh.google``: Google API clients of a connection (google-api-python-client,
gspread, google-generativeai), by service-account JSON key or OAuth user credentials."""

from __future__ import annotations

import json
import os
import re
from datetime import UTC, datetime
from typing import Any

from akd.runner.errors import OAuthRefreshError

from . import connections
from ._integrations import base_url, direct, not_initialized, require, var
from .connections import check_connection_name

_SCOPES = {
    "gmail": ["https://www.googleapis.com/auth/gmail.modify", "https://www.googleapis.com/auth/gmail.settings.basic"],
    "googlecalendar": ["https://www.googleapis.com/auth/calendar", "https://www.googleapis.com/auth/calendar.events"],
    "googledrive": ["https://www.googleapis.com/auth/drive.file"],
    "googleforms": ["https://www.googleapis.com/auth/forms.body",
                    "https://www.googleapis.com/auth/forms.responses.readonly"],
    "googlesheets": ["https://www.googleapis.com/auth/spreadsheets"],
    "youtube": ["https://www.googleapis.com/auth/youtube.readonly", "https://www.googleapis.com/auth/youtube.upload",
                "https://www.googleapis.com/auth/youtube"],
}  # fmt: skip


def oauth_expiry(stamp: str) -> datetime:
    """An ``oauth_Expiry`` as naive UTC: AutoKitteh's Go ``time.String()`` form
    (``2024-06-20 19:18:17.123456 -0700 PDT m=+0.1``) or RFC 3339."""
    try:
        parsed = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        plain = re.sub(r"\.\d+", "", re.sub(r" [A-Z]+.*", "", stamp.strip()))
        parsed = datetime.strptime(plain, "%Y-%m-%d %H:%M:%S %z")
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed


def google_creds(integration: str, connection: str, scopes: list[str], **kwargs: Any) -> Any:
    """The connection's credentials: OAuth user credentials when ``auth_type`` is ``oauth``,
    else the service account of its ``JSON`` key."""
    check_connection_name(connection)
    if var(connection, "auth_type") == "oauth":
        return _oauth_creds(integration, connection, scopes)
    key = var(connection, "JSON")
    if not key:
        raise not_initialized(connection, "missing JSON (a service account key) or an OAuth authorization")
    from google.oauth2 import service_account

    return service_account.Credentials.from_service_account_info(json.loads(key), scopes=scopes, **kwargs)


def _oauth_creds(integration: str, connection: str, scopes: list[str]) -> Any:
    import google.auth.transport.requests
    from google.auth.exceptions import RefreshError
    from google.oauth2.credentials import Credentials

    access, stamp = require(connection, "oauth_AccessToken", "oauth_Expiry")
    if os.environ.get("GOOGLE_CLIENT_SECRET"):  # a session holding the OAuth app refreshes by itself
        creds = Credentials.from_authorized_user_info({
            "token": access, "refresh_token": var(connection, "oauth_RefreshToken"),
            "expiry": oauth_expiry(stamp).isoformat() + "Z", "client_id": os.environ.get("GOOGLE_CLIENT_ID", ""),
            "client_secret": os.environ["GOOGLE_CLIENT_SECRET"],
        }, scopes)  # fmt: skip
    else:
        creds = Credentials(token=access, expiry=oauth_expiry(stamp), scopes=scopes)
        creds.refresh_handler = lambda request, scopes: connections.refresh_oauth(integration, connection)
    if creds.expired:
        try:
            creds.refresh(google.auth.transport.requests.Request())
        except RefreshError as exc:
            raise OAuthRefreshError(connection, exc) from exc
    return creds


def _build(service: str, version: str, integration: str, connection: str, **kwargs: Any) -> Any:
    creds = google_creds(integration, connection, _SCOPES[integration], **kwargs)
    from googleapiclient.discovery import build

    options = {"api_endpoint": base_url(connection)} if base_url(connection) else None
    return build(service, version, credentials=creds, client_options=options)


@direct
def gmail_client(connection: str, **kwargs: Any) -> Any:
    """A Gmail API client (``googleapiclient`` resource ``gmail`` v1)."""
    return _build("gmail", "v1", "gmail", connection, **kwargs)


@direct
def google_calendar_client(connection: str, **kwargs: Any) -> Any:
    """A Google Calendar API client (``calendar`` v3)."""
    return _build("calendar", "v3", "googlecalendar", connection, **kwargs)


@direct
def google_drive_client(connection: str, **kwargs: Any) -> Any:
    """A Google Drive API client (``drive`` v3)."""
    return _build("drive", "v3", "googledrive", connection, **kwargs)


@direct
def google_forms_client(connection: str, **kwargs: Any) -> Any:
    """A Google Forms API client (``forms`` v1)."""
    return _build("forms", "v1", "googleforms", connection, **kwargs)


@direct
def google_sheets_client(connection: str, **kwargs: Any) -> Any:
    """A Google Sheets API client (``sheets`` v4)."""
    return _build("sheets", "v4", "googlesheets", connection, **kwargs)


@direct
def youtube_client(connection: str, **kwargs: Any) -> Any:
    """A YouTube Data API client (``youtube`` v3)."""
    return _build("youtube", "v3", "youtube", connection, **kwargs)


@direct
def gspread_client(connection: str, **kwargs: Any) -> Any:
    """A ``gspread.Client`` with the connection's credentials."""
    creds = google_creds("googlesheets", connection, _SCOPES["googlesheets"], **kwargs)
    import gspread

    return gspread.authorize(creds)


@direct
def gemini_client(connection: str, **kwargs: Any) -> Any:
    """A ``google.generativeai.GenerativeModel`` with the ``googlegemini`` connection's ``api_key``."""
    (api_key,) = require(connection, "api_key")
    import google.generativeai as genai

    options = {"api_endpoint": base_url(connection)} if base_url(connection) else None
    genai.configure(api_key=api_key, client_options=options)
    return genai.GenerativeModel(**kwargs)


@direct
def google_pydantic_ai_provider(connection: str, **kwargs: Any) -> Any:
    """A pydantic-ai ``GoogleProvider`` with the ``googlegemini`` connection's ``api_key``."""
    (api_key,) = require(connection, "api_key")
    from pydantic_ai.providers.google import GoogleProvider

    return GoogleProvider(api_key=api_key, **kwargs)


def google_id(url: str) -> str:
    """The document, form or sheet id in a Google URL (or the id itself)."""
    match = re.match(r"(.*/d/(e/)?)?([\w-]{20,})", url)
    if match is None:
        raise ValueError(f"Invalid Google ID in {url!r}")
    return match.group(3)


__all__ = [
    "gemini_client",
    "gmail_client",
    "google_calendar_client",
    "google_creds",
    "google_drive_client",
    "google_forms_client",
    "google_id",
    "google_pydantic_ai_provider",
    "google_sheets_client",
    "gspread_client",
    "oauth_expiry",
    "youtube_client",
]

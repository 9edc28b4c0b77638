"""``autokitteh.google``: clients of the google integration (see ``_integrations``)."""

from autokitteh._integrations import unconfigured

gmail_client = unconfigured("google", "gmail_client")
google_calendar_client = unconfigured("google", "google_calendar_client")
google_drive_client = unconfigured("google", "google_drive_client")
google_forms_client = unconfigured("google", "google_forms_client")
google_sheets_client = unconfigured("google", "google_sheets_client")
gemini_client = unconfigured("google", "gemini_client")
google_id = unconfigured("google", "google_id")

__all__ = [
    "gemini_client",
    "gmail_client",
    "google_calendar_client",
    "google_drive_client",
    "google_forms_client",
    "google_id",
    "google_sheets_client",
]

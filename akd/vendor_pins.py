"""The vendor libraries akd installs for a project's integrations, pinned (pure data).

AutoKitteh's Python runtime preinstalls its py-sdk's ``[all]`` extra: every vendor SDK
its clients use, plus requests, PyYAML, beautifulsoup4 and tenacity, and kittehub
projects import them without a requirements.txt. akd installs the same libraries, but
only those a project's connections need (``akd.vendor_layers``).

The versions are the newest that satisfy AutoKitteh's own specifiers (py-sdk 0.8.2,
``pyproject.toml`` ``[all]``), resolved together on Python 3.11 from the package index
(``pip install --dry-run`` of the whole set), so any mix of integrations installs.
Change a pin and every project with that integration gets a new layer at its next deploy.
"""

from __future__ import annotations

__all__ = ["COMMON", "PINS"]

# Every project gets these, connections or not (AutoKitteh's "general" set).
COMMON: tuple[str, ...] = ("PyYAML==6.0.4", "beautifulsoup4==4.15.0", "requests==2.34.2", "tenacity==9.2.1")

# autokitteh.google builds its clients with google-api-python-client and google-auth.
_GOOGLE = ("google-api-python-client==2.202.0", "google-auth-httplib2==0.4.4", "google-auth-oauthlib==1.5.0")
_ATLASSIAN = ("atlassian-python-api==3.41.21",)
_MICROSOFT = ("azure-identity==1.27.0", "msgraph-sdk==1.65.0")
# The clients that return a requests session with the OAuth token (AutoKitteh's
# OAuth2Session is a requests_toolbelt BaseUrlSession).
_OAUTH_SESSION = ("requests-toolbelt==1.0.0",)

# Integration (akd.integrations name) -> the requirement lines its client needs.
PINS: dict[str, tuple[str, ...]] = {
    "airtable": ("pyairtable==3.5.1",),
    "anthropic": ("anthropic==0.75.0",),
    "asana": ("asana==5.4.0",),
    "auth0": ("auth0-python==4.13.0",),
    "azurebot": (),  # AutoKitteh's Azure Bot Service integration: plain HTTP (requests)
    "aws": ("boto3==1.44.8",),
    "chatgpt": ("openai==1.109.1",),
    "confluence": _ATLASSIAN,
    "discord": ("discord.py==2.7.1",),
    "github": ("PyGithub==2.8.1",),
    "gmail": _GOOGLE,
    "google": _GOOGLE,
    "googlecalendar": _GOOGLE,
    "googledrive": _GOOGLE,
    "googleforms": _GOOGLE,
    "googlegemini": (*_GOOGLE, "google-generativeai==0.8.6"),
    "googlesheets": (*_GOOGLE, "gspread==6.2.1", "gspread-formatting==1.2.1"),
    "height": _OAUTH_SESSION,
    "hubspot": ("hubspot-api-client==11.1.0",),
    "jira": _ATLASSIAN,
    "kubernetes": ("kubernetes==31.0.0",),
    "linear": _OAUTH_SESSION,
    "microsoft": _MICROSOFT,
    "microsoft_teams": _MICROSOFT,
    "notion": ("notion-client==2.7.0",),
    "pipedrive": ("pipedrive-python-lib==1.2.3",),
    "reddit": ("praw==7.8.2",),
    "salesforce": ("simple-salesforce==1.12.10",),
    "slack": ("slack-sdk==3.48.0",),
    "telegram": ("python-telegram-bot==22.8",),
    "twilio": ("twilio==9.13.0",),
    "stripe": (),  # akd only: deliveries in, no client factory
    "standardwebhooks": (),  # akd only: deliveries in, no client factory
    "youtube": _GOOGLE,
    "zoom": _OAUTH_SESSION,
}

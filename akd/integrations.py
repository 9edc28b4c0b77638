"""The integrations akd knows: names, auth modes, the vars each mode needs, a connection test.

Pure data (no I/O): the build checks manifest integrations against it, ``akctl
integration list`` shows it, connection status and ``connection init`` follow it, and
``akd.services.connections`` runs each integration's test. Names and var names are
AutoKitteh's, so ``autokitteh.yaml`` files and the vars their clients read carry over.

A connection's vars reach its sessions as env ``<connection>__<var>``; every integration
also honours ``base_url`` (an akd extension: a self-hosted vendor, or a local stand-in
in tests) and ``auth_type`` picks the mode when an integration has several.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from akd.errors import NotFound


@dataclass(frozen=True)
class VarDef:
    name: str
    prompt: str
    secret: bool = True
    file: bool = False  # read from a file (a service-account JSON, a kubeconfig)
    optional: bool = False


@dataclass(frozen=True)
class AuthMode:
    name: str  # the value of the connection var ``auth_type`` (AutoKitteh's)
    label: str
    vars: tuple[VarDef, ...]
    oauth: bool = False  # credentials come from an OAuth 2.0 authorization (akd.oauth)

    def missing(self, present: set[str]) -> list[str]:
        return [v.name for v in self.vars if not v.optional and v.name not in present]


@dataclass(frozen=True)
class Check:
    """A cheap authenticated request that proves the credentials work (``connection test``)."""

    method: str
    path: str  # appended to the base URL
    base_url: str  # the vendor's default; the connection var ``base_url`` overrides it
    auth: str  # "bearer" | "token" | "x-api-key" | "basic" | "query-key" | "bot"
    secret_var: str  # the var whose value authenticates
    user_var: str = ""  # for "basic": the user name var
    ok_field: str = ""  # a JSON field that must be true (Slack answers 200 with ok=false)


@dataclass(frozen=True)
class Integration:
    name: str
    display_name: str
    modes: tuple[AuthMode, ...]
    check: Check | None = None
    extra_vars: tuple[VarDef, ...] = field(default=())  # optional settings read by the clients
    events: bool = False  # the vendor delivers events over HTTP

    def mode(self, auth_type: str) -> AuthMode:
        """The mode an ``auth_type`` var names (the first mode when it is empty)."""
        if not auth_type:
            return self.modes[0]
        for mode in self.modes:
            if mode.name == auth_type:
                return mode
        known = ", ".join(m.name for m in self.modes)
        raise NotFound(f"{self.name} has no auth type {auth_type!r} (known: {known})")

    @property
    def oauth(self) -> AuthMode | None:
        return next((m for m in self.modes if m.oauth), None)


def _oauth(*extra: VarDef) -> AuthMode:
    return AuthMode(
        "oauth",
        "OAuth 2.0 (your own OAuth app; akctl integration configure)",
        (VarDef("oauth_access_token", "access token"), *extra),
        oauth=True,
    )


def _key(name: str = "api_key", label: str = "API key") -> AuthMode:
    return AuthMode("apiKey" if name == "api_key" else name, label, (VarDef(name, label),))


def _pat(label: str = "personal access token") -> AuthMode:
    return AuthMode("pat", label, (VarDef("pat", label),))


_GOOGLE_JSON = AuthMode("json", "service account (JSON key file)", (VarDef("json", "service account JSON key file",
                                                                            file=True),))  # fmt: skip
_GOOGLE_CHECK = Check("GET", "/oauth2/v3/tokeninfo", "https://www.googleapis.com", "bearer", "oauth_access_token")


def _google(name: str, display: str) -> Integration:
    return Integration(name, display, (_oauth(), _GOOGLE_JSON), _GOOGLE_CHECK)


def _atlassian(name: str, display: str) -> Integration:
    token = AuthMode("apiToken", "API token (with your email and site URL)", (
        VarDef("base_url", "site URL (https://<you>.atlassian.net)", secret=False),
        VarDef("email", "account email", secret=False),
        VarDef("api_token", "API token"),
    ))  # fmt: skip
    path = "/rest/api/3/myself" if name == "jira" else "/wiki/rest/api/user/current"
    return Integration(name, display, (token, _oauth()), Check("GET", path, "", "basic", "api_token", "email"),
                       events=True)  # fmt: skip


_INTEGRATIONS = (
    Integration(
        "slack", "Slack",
        (
            AuthMode("socketMode", "Socket Mode app (bot token + app-level token; no public URL)", (
                VarDef("private_bot_token", "bot token (xoxb-...)"),
                VarDef("private_app_token", "app-level token (xapp-...)"),
            )),
            AuthMode("botToken", "bot token (+ signing secret for Events API deliveries)", (
                VarDef("private_bot_token", "bot token (xoxb-...)"),
                VarDef("private_signing_secret", "signing secret", optional=True),
            )),
            _oauth(),
        ),
        Check("POST", "auth.test", "https://slack.com/api/", "bearer", "private_bot_token", ok_field="ok"),
        events=True,
    ),
    Integration(
        "github", "GitHub",
        (
            AuthMode("pat", "personal access token (+ webhook secret for events)", (
                VarDef("pat", "personal access token"),
                VarDef("pat_secret", "webhook secret", optional=True),
            )),
            AuthMode("app", "GitHub App", (
                VarDef("app_id", "app id", secret=False),
                VarDef("private_key", "app private key (PEM file)", file=True),
                VarDef("install_id", "installation id", secret=False),
                VarDef("webhook_secret", "webhook secret", optional=True),
            )),
            _oauth(),
        ),
        Check("GET", "/user", "https://api.github.com", "token", "pat"),
        extra_vars=(VarDef("enterprise_url", "GitHub Enterprise URL", secret=False, optional=True),),
        events=True,
    ),
    Integration("chatgpt", "OpenAI ChatGPT", (_key(),),
                Check("GET", "/models", "https://api.openai.com/v1", "bearer", "api_key")),
    Integration("anthropic", "Anthropic Claude", (_key(),),
                Check("GET", "/v1/models", "https://api.anthropic.com", "x-api-key", "api_key")),
    Integration("googlegemini", "Google Gemini", (_key(),),
                Check("GET", "/v1beta/models", "https://generativelanguage.googleapis.com", "query-key", "api_key")),
    _google("gmail", "Gmail"),
    _google("googlesheets", "Google Sheets"),
    _google("googlecalendar", "Google Calendar"),
    _google("googledrive", "Google Drive"),
    _google("googleforms", "Google Forms"),
    _google("google", "Google (all APIs)"),
    _google("youtube", "YouTube"),
    _atlassian("jira", "Atlassian Jira"),
    _atlassian("confluence", "Atlassian Confluence"),
    Integration(
        "twilio", "Twilio",
        (AuthMode("authToken", "account SID + auth token", (
            VarDef("account_sid", "account SID", secret=False), VarDef("auth_token", "auth token"),
        )), AuthMode("apiKey", "account SID + API key", (
            VarDef("account_sid", "account SID", secret=False), VarDef("api_key", "API key SID", secret=False),
            VarDef("api_secret", "API key secret"),
        ))),
        Check("GET", "/2010-04-01/Accounts.json", "https://api.twilio.com", "basic", "auth_token", "account_sid"),
        events=True,
    ),
    Integration("discord", "Discord", (AuthMode("botToken", "bot token", (VarDef("botToken", "bot token"),)),),
                Check("GET", "/api/v10/users/@me", "https://discord.com", "bot", "botToken")),
    Integration("telegram", "Telegram", (AuthMode("botToken", "bot token", (VarDef("bot_token", "bot token"),)),),
                Check("GET", "/getMe", "https://api.telegram.org", "bot-path", "bot_token"), events=True),
    Integration("hubspot", "HubSpot", (_oauth(), AuthMode("privateApp", "private app token",
                                                          (VarDef("private_app_token", "private app token"),))),
                Check("GET", "/account-info/v3/details", "https://api.hubapi.com", "bearer", "oauth_access_token")),
    Integration("asana", "Asana", (_pat(),),
                Check("GET", "/api/1.0/users/me", "https://app.asana.com", "bearer", "pat")),
    Integration("notion", "Notion", (_key("api_key", "internal integration secret"), _oauth()),
                Check("GET", "/v1/users/me", "https://api.notion.com", "bearer", "api_key")),
    Integration("linear", "Linear", (_key(), _oauth()),
                Check("POST", "/graphql", "https://api.linear.app", "raw", "api_key"), events=True),
    Integration("airtable", "Airtable", (_pat(), _oauth()),
                Check("GET", "/v0/meta/whoami", "https://api.airtable.com", "bearer", "pat")),
    Integration("pipedrive", "Pipedrive", (AuthMode("apiKey", "API token + company domain", (
        VarDef("api_key", "API token"), VarDef("company_domain", "company domain", secret=False),
    )),), Check("GET", "/api/v1/users/me", "", "query-token", "api_key")),
    Integration("reddit", "Reddit", (AuthMode("script", "script app", (
        VarDef("client_id", "client id", secret=False), VarDef("client_secret", "client secret"),
        VarDef("user_agent", "user agent", secret=False),
        VarDef("username", "username", secret=False, optional=True), VarDef("password", "password", optional=True),
    )),)),
    Integration("auth0", "Auth0", (AuthMode("clientCredentials", "machine-to-machine app", (
        VarDef("auth0_domain", "domain (<tenant>.auth0.com)", secret=False),
        VarDef("client_id", "client id", secret=False), VarDef("client_secret", "client secret"),
    )),)),
    Integration("aws", "AWS", (AuthMode("keys", "access key", (
        VarDef("access_key", "access key id", secret=False), VarDef("secret_key", "secret access key"),
        VarDef("region", "region", secret=False), VarDef("token", "session token", optional=True),
    )),)),
    Integration("salesforce", "Salesforce", (_oauth(VarDef("instance_url", "instance URL", secret=False)),),
                Check("GET", "/services/oauth2/userinfo", "https://login.salesforce.com", "bearer",
                      "oauth_access_token")),
    Integration("zoom", "Zoom", (AuthMode("serverToServer", "server-to-server OAuth app", (
        VarDef("account_id", "account id", secret=False), VarDef("client_id", "client id", secret=False),
        VarDef("client_secret", "client secret"),
    )), _oauth()), events=True),
    Integration("kubernetes", "Kubernetes", (AuthMode("config", "kubeconfig", (
        VarDef("config_file", "kubeconfig file", file=True),
    )),)),
    Integration("microsoft", "Microsoft 365", (_oauth(), AuthMode("daemonApp", "daemon app (client credentials)", (
        VarDef("private_client_id", "client id", secret=False), VarDef("private_client_secret", "client secret"),
        VarDef("private_tenant_id", "tenant id", secret=False),
    )))),
    Integration("microsoft_teams", "Microsoft Teams", (_oauth(), AuthMode("daemonApp", "daemon app", (
        VarDef("private_client_id", "client id", secret=False), VarDef("private_client_secret", "client secret"),
        VarDef("private_tenant_id", "tenant id", secret=False),
    ))), events=True),
    Integration("height", "Height", (_key(), _oauth()),
                Check("GET", "/users/me", "https://api.height.app", "api-key", "api_key")),
)

REGISTRY: dict[str, Integration] = {i.name: i for i in _INTEGRATIONS}
# Other spellings seen in AutoKitteh projects.
ALIASES: dict[str, str] = {"openai": "chatgpt", "gemini": "googlegemini", "teams": "microsoft_teams",
                           "google_sheets": "googlesheets"}  # fmt: skip


def find(name: str) -> Integration | None:
    return REGISTRY.get(ALIASES.get(name, name))


def get(name: str) -> Integration:
    found = find(name)
    if found is None:
        raise NotFound(f"unknown integration {name!r}; known: {', '.join(sorted(REGISTRY))}")
    return found


def known_names() -> list[str]:
    return sorted(REGISTRY)

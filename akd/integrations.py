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
    # A form body (a token request: client credentials); values may name vars as {var}, and
    # so may ``base_url`` and ``path``.
    form: tuple[tuple[str, str], ...] = ()
    modes: tuple[str, ...] = ()  # the auth types this check is for (empty: every one)


@dataclass(frozen=True)
class Integration:
    name: str
    display_name: str
    modes: tuple[AuthMode, ...]
    check: Check | None = None
    extra_vars: tuple[VarDef, ...] = field(default=())  # optional settings read by the clients
    events: bool = False  # the vendor delivers events over HTTP
    more_checks: tuple[Check, ...] = ()  # tests of other auth types (client credentials ...)

    def check_for(self, mode: str) -> Check | None:
        """The test of one auth type's credentials (None: akd cannot test them)."""
        for check in (self.check, *self.more_checks):
            if check is not None and (not check.modes or mode in check.modes):
                return check
        return None

    @property
    def has_test(self) -> bool:
        return self.check is not None or bool(self.more_checks)

    def mode(self, auth_type: str) -> AuthMode:
        """The mode an ``auth_type`` var names (the first mode when it is empty)."""
        if not auth_type:
            return self.modes[0]
        for mode in self.modes:
            if mode.name == auth_type:
                return mode
        if auth_type == "oauth":  # AutoKitteh's older name, migrated there to oauthDefault
            return self.mode("oauthDefault")
        known = ", ".join(m.name for m in self.modes)
        raise NotFound(f"{self.name} has no auth type {auth_type!r} (known: {known})")

    @property
    def oauth(self) -> AuthMode | None:
        return next((m for m in self.modes if m.oauth), None)


def _oauth(name: str = "oauthDefault", *extra: VarDef, first: tuple[VarDef, ...] = ()) -> AuthMode:
    """AutoKitteh's current OAuth vars (``oauth_access_token``, expiry in RFC 3339)."""
    return AuthMode(
        name,
        "OAuth 2.0 (akd's OAuth app)" if name == "oauthDefault" else "OAuth 2.0 (your own OAuth app)",
        (*first, VarDef("oauth_access_token", "access token"),
         VarDef("oauth_refresh_token", "refresh token", optional=True),
         VarDef("oauth_expiry", "expiry (RFC 3339)", secret=False, optional=True), *extra),
        oauth=True,
    )  # fmt: skip


def _private(*extra: VarDef) -> AuthMode:
    """``oauthPrivate``: the user's own OAuth app (its id and secret), then the OAuth vars."""
    app = (VarDef("private_client_id", "client id", secret=False), VarDef("private_client_secret", "client secret"))
    return _oauth("oauthPrivate", *extra, first=app)


def _legacy_oauth(*extra: VarDef) -> AuthMode:
    """``oauth`` with AutoKitteh's older var names (Google, Atlassian, Auth0, HubSpot clients read
    these; ``oauth_Expiry`` is a Go ``time.String()``)."""
    return AuthMode(
        "oauth",
        "OAuth 2.0 (akd's OAuth app)",
        (*extra, VarDef("oauth_AccessToken", "access token"),
         VarDef("oauth_RefreshToken", "refresh token", optional=True),
         VarDef("oauth_Expiry", "expiry", secret=False, optional=True)),
        oauth=True,
    )  # fmt: skip


def _key(name: str = "api_key", label: str = "API key", auth_type: str = "apiKey") -> AuthMode:
    return AuthMode(auth_type, label, (VarDef(name, label),))


def _pat(label: str = "personal access token") -> AuthMode:
    return AuthMode("pat", label, (VarDef("pat", label),))


def _opt(name: str, prompt: str, secret: bool = False) -> VarDef:
    return VarDef(name, prompt, secret=secret, optional=True)


_GOOGLE_JSON = AuthMode("jsonKey", "service account (JSON key file)",
                        (VarDef("JSON", "service account JSON key file", file=True),))  # fmt: skip
_GOOGLE_CHECK = Check("GET", "/oauth2/v3/tokeninfo", "https://www.googleapis.com", "bearer", "oauth_AccessToken")
_GOOGLE_EXTRA = {"googlecalendar": (_opt("CalendarID", "calendar id"),), "googleforms": (_opt("FormID", "form id"),)}


def _google(name: str, display: str) -> Integration:
    return Integration(name, display, (_GOOGLE_JSON, _legacy_oauth()), _GOOGLE_CHECK,
                       extra_vars=_GOOGLE_EXTRA.get(name, ()), events=name in _GOOGLE_EVENTS)  # fmt: skip


_GOOGLE_EVENTS = ("gmail", "googlecalendar", "googledrive", "googleforms")


def _atlassian(name: str, display: str) -> Integration:
    site = VarDef("BaseURL", "site URL (https://<you>.atlassian.net)", secret=False)
    token = AuthMode("apiToken", "API token (with your account email and site URL)", (
        site, VarDef("Email", "account email"), VarDef("Token", "API token"),
    ))  # fmt: skip
    pat = AuthMode("pat", "personal access token (Jira/Confluence Data Center)", (site, VarDef("Token", "PAT")))
    path = "/rest/api/3/myself" if name == "jira" else "/wiki/rest/api/user/current"
    # The secret of an admin webhook (or an OAuth app's client secret for its JWTs): an akd
    # var; AutoKitteh reads its app's secret from the environment.
    secret = (_opt("webhook_secret", "webhook secret (verifies deliveries)", secret=True),)
    return Integration(name, display, (token, pat, _legacy_oauth()), Check("GET", path, "", "basic", "Token", "Email"),
                       extra_vars=secret, events=True)  # fmt: skip


def _microsoft(name: str, display: str) -> Integration:
    tenant = _opt("private_tenant_id", "tenant id (default: common)")
    daemon = AuthMode("daemonApp", "daemon app (client credentials)", (
        VarDef("private_client_id", "client id", secret=False), VarDef("private_client_secret", "client secret"),
        tenant, _opt("private_certificate", "certificate (PEM), instead of the secret", secret=True),
    ))  # fmt: skip
    graph = Check("GET", "/v1.0/me", "https://graph.microsoft.com", "bearer", "oauth_access_token",
                  modes=("oauthDefault", "oauthPrivate"))  # fmt: skip
    return Integration(name, display, (daemon, _oauth(), _private(tenant)), graph, events=True,
                       more_checks=(_client_credentials(
                           "/{private_tenant_id}/oauth2/v2.0/token", "https://login.microsoftonline.com",
                           "private_client_id", "private_client_secret", "https://graph.microsoft.com/.default",
                           modes=("daemonApp",)),))  # fmt: skip


def _client_credentials(
    path: str, base: str, id_var: str, secret_var: str, scope: str, *, modes: tuple[str, ...]
) -> Check:
    """A token request with the app's own credentials in the form (OAuth client credentials)."""
    form = (("grant_type", "client_credentials"), ("client_id", f"{{{id_var}}}"),
            ("client_secret", f"{{{secret_var}}}"), ("scope", scope))  # fmt: skip
    return Check("POST", path, base, "none", secret_var, ok_field="access_token", form=form, modes=modes)


_INTEGRATIONS = (
    Integration(
        "slack",
        "Slack",
        (
            AuthMode(
                "socketMode",
                "Socket Mode app (bot token + app-level token; no public URL)",
                (
                    VarDef("private_bot_token", "bot token (xoxb-...)"),
                    VarDef("private_app_token", "app-level token (xapp-...)"),
                ),
            ),
            # An akd extension: AutoKitteh has no such auth_type (its private apps are oauthPrivate).
            AuthMode(
                "botToken",
                "bot token (+ signing secret for Events API deliveries; akd only)",
                (
                    VarDef("private_bot_token", "bot token (xoxb-...)"),
                    _opt("private_signing_secret", "signing secret", secret=True),
                ),
            ),
            _oauth(),
            _private(VarDef("private_signing_secret", "signing secret")),
        ),
        Check("POST", "auth.test", "https://slack.com/api/", "bearer", "private_bot_token", ok_field="ok"),
        events=True,
    ),
    Integration(
        "github",
        "GitHub",
        (
            AuthMode(
                "pat",
                "personal access token (+ webhook secret for events)",
                (
                    VarDef("pat", "personal access token"),
                    _opt("pat_secret", "webhook secret", secret=True),
                    _opt("pat_key", "webhook path key (/github/webhook/<key>)"),
                ),
            ),
            # AutoKitteh's own-app installation: app and installation ids; JWTs are signed with
            # the key in env GITHUB_PRIVATE_KEY (encode_jwt), no token is kept.
            AuthMode(
                "oauthDefault",
                "GitHub App installation (key in env GITHUB_PRIVATE_KEY)",
                (
                    VarDef("app_id", "app id", secret=False),
                    VarDef("install_id", "installation id", secret=False),
                ),
            ),
            # akd's browser flow with your own OAuth app (akctl integration configure github).
            AuthMode(
                "oauth",
                "OAuth (your own OAuth app)",
                (
                    VarDef("oauth_access_token", "access token"),
                    _opt("oauth_refresh_token", "refresh token", secret=True),
                    _opt("oauth_expiry", "expiry"),
                ),
                oauth=True,
            ),
            AuthMode(
                "oauthPrivate",
                "your own GitHub App (app id, installation id, private key)",
                (
                    VarDef("app_id", "app id", secret=False),
                    VarDef("install_id", "installation id", secret=False),
                    VarDef("private_key", "app private key (PEM file)", file=True),
                    _opt("webhook_secret", "webhook secret", secret=True),
                    _opt("client_id", "client id"),
                    _opt("client_secret", "client secret", secret=True),
                    _opt("app_name", "app name"),
                ),
            ),
        ),
        Check("GET", "/user", "https://api.github.com", "token", "pat"),
        extra_vars=(_opt("enterprise_url", "GitHub Enterprise URL"),),
        events=True,
    ),
    Integration(
        "chatgpt",
        "OpenAI ChatGPT",
        (_key("apiKey", "API key", "initialized"),),
        Check("GET", "/models", "https://api.openai.com/v1", "bearer", "apiKey"),
    ),
    Integration(
        "anthropic",
        "Anthropic Claude",
        (_key(),),
        Check("GET", "/v1/models", "https://api.anthropic.com", "x-api-key", "api_key"),
    ),
    Integration(
        "googlegemini",
        "Google Gemini",
        (_key(),),
        Check("GET", "/v1beta/models", "https://generativelanguage.googleapis.com", "query-key", "api_key"),
    ),
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
        "twilio",
        "Twilio",
        # Username/Password are what the client sends: the account SID and auth token, or an API key pair.
        (
            AuthMode(
                "apiToken",
                "account SID + auth token",
                (
                    VarDef("AccountSID", "account SID", secret=False),
                    VarDef("Username", "account SID (again)", secret=False),
                    VarDef("Password", "auth token"),
                ),
            ),
            AuthMode(
                "apiKey",
                "account SID + API key",
                (
                    VarDef("AccountSID", "account SID", secret=False),
                    VarDef("Username", "API key SID", secret=False),
                    VarDef("Password", "API key secret"),
                ),
            ),
        ),
        Check("GET", "/2010-04-01/Accounts.json", "https://api.twilio.com", "basic", "Password", "Username"),
        # Twilio signs webhooks with the account's auth token (Password in apiToken mode).
        extra_vars=(_opt("auth_token", "auth token (verifies webhooks; default: Password)", secret=True),),
        events=True,
    ),
    Integration(
        "discord",
        "Discord",
        (
            AuthMode(
                "initialized",
                "bot token",
                (
                    VarDef("BotToken", "bot token"),
                    _opt("BotID", "bot id"),
                ),
            ),
        ),
        Check("GET", "/api/v10/users/@me", "https://discord.com", "bot", "BotToken"),
        # An akd extension: interactions over HTTP, signed with the application's key.
        extra_vars=(_opt("public_key", "application public key (interactions endpoint)"),),
        events=True,
    ),
    Integration(
        "telegram",
        "Telegram",
        (
            AuthMode(
                "botToken",
                "bot token",
                (
                    VarDef("BotToken", "bot token"),
                    _opt("SecretToken", "webhook secret token", secret=True),
                    _opt("BotID", "bot id"),
                    _opt("WebhookURL", "webhook URL"),
                ),
            ),
        ),
        Check("GET", "/getMe", "https://api.telegram.org", "bot-path", "BotToken"),
        events=True,
    ),
    Integration(
        "hubspot",
        "HubSpot",
        (
            _legacy_oauth(_opt("portal_id", "portal id")),
            # An akd extension: a private app's token, used as is (AutoKitteh's client only refreshes OAuth).
            AuthMode("privateApp", "private app token (akd only)", (VarDef("private_app_token", "private app token"),)),
        ),
        Check("GET", "/account-info/v3/details", "https://api.hubapi.com", "bearer", "oauth_AccessToken"),
        events=True,
    ),
    Integration(
        "asana", "Asana", (_pat(),), Check("GET", "/api/1.0/users/me", "https://app.asana.com", "bearer", "pat")
    ),
    Integration(
        "notion",
        "Notion",
        (_key("api_key", "internal integration secret"), _oauth()),
        Check("GET", "/v1/users/me", "https://api.notion.com", "bearer", "api_key"),
    ),
    Integration(
        "linear",
        "Linear",
        (
            _key(),
            _oauth("oauthDefault", _opt("actor", "actor (user or app)")),
            _private(_opt("private_webhook_secret", "webhook secret", secret=True)),
        ),
        Check("POST", "/graphql", "https://api.linear.app", "raw", "api_key"),
        events=True,
    ),
    Integration(
        "airtable",
        "Airtable",
        (_pat(), _oauth()),
        Check("GET", "/v0/meta/whoami", "https://api.airtable.com", "bearer", "pat"),
    ),
    Integration(
        "pipedrive",
        "Pipedrive",
        (
            AuthMode(
                "apiKey",
                "API token + company domain",
                (
                    VarDef("api_key", "API token"),
                    VarDef("company_domain", "company domain", secret=False),
                ),
            ),
        ),
        Check("GET", "/api/v1/users/me", "", "query-token", "api_key"),
    ),
    # AutoKitteh calls a script app's credentials "oauthPrivate"; they are entered by hand, no flow.
    Integration(
        "reddit",
        "Reddit",
        (
            AuthMode(
                "oauthPrivate",
                "script app (client id and secret)",
                (
                    VarDef("client_id", "client id"),
                    VarDef("client_secret", "client secret"),
                    VarDef("user_agent", "user agent"),
                    _opt("username", "username (for a read-write client)", secret=True),
                    _opt("password", "password (for a read-write client)", secret=True),
                ),
            ),
        ),
        Check(
            "POST",
            "/api/v1/access_token",
            "https://www.reddit.com",
            "basic",
            "client_secret",
            "client_id",
            ok_field="access_token",
            form=(("grant_type", "client_credentials"),),
        ),
    ),
    Integration(
        "auth0",
        "Auth0",
        (
            _legacy_oauth(
                VarDef("auth0_domain", "domain (<tenant>.auth0.com)", secret=False),
                VarDef("client_id", "client id", secret=False),
                VarDef("client_secret", "client secret"),
            ),
        ),
        Check(
            "POST",
            "/oauth/token",
            "https://{auth0_domain}",
            "none",
            "client_secret",
            ok_field="access_token",
            form=(
                ("grant_type", "client_credentials"),
                ("client_id", "{client_id}"),
                ("client_secret", "{client_secret}"),
                ("audience", "https://{auth0_domain}/api/v2/"),
            ),
        ),
    ),
    Integration(
        "aws",
        "AWS",
        (
            AuthMode(
                "initialized",
                "access key",
                (
                    VarDef("Region", "region", secret=False),
                    VarDef("AccessKeyID", "access key id"),
                    VarDef("SecretKey", "secret access key"),
                    _opt("Token", "session token", secret=True),
                ),
            ),
        ),
        Check("POST", "/", "https://sts.{Region}.amazonaws.com", "aws-sigv4", "SecretKey", "AccessKeyID"),
    ),
    Integration(
        "salesforce",
        "Salesforce",
        (
            _oauth("oauthDefault", VarDef("instance_url", "instance URL", secret=False)),
            _private(VarDef("instance_url", "instance URL", secret=False)),
        ),
        Check("GET", "/services/oauth2/userinfo", "https://login.salesforce.com", "bearer", "oauth_access_token"),
    ),
    Integration(
        "zoom",
        "Zoom",
        (
            AuthMode(
                "serverToServer",
                "server-to-server OAuth app",
                (
                    VarDef("private_account_id", "account id", secret=False),
                    VarDef("private_client_id", "client id", secret=False),
                    VarDef("private_client_secret", "client secret"),
                    _opt("private_secret_token", "webhook secret token", secret=True),
                ),
            ),
            _oauth(),
            _private(
                VarDef("private_account_id", "account id", secret=False),
                _opt("private_secret_token", "webhook secret token", secret=True),
            ),
        ),
        events=True,
        more_checks=(
            Check(
                "POST",
                "/oauth/token",
                "https://zoom.us",
                "basic",
                "private_client_secret",
                "private_client_id",
                ok_field="access_token",
                modes=("serverToServer",),
                form=(("grant_type", "account_credentials"), ("account_id", "{private_account_id}")),
            ),
            Check(
                "GET",
                "/v2/users/me",
                "https://api.zoom.us",
                "bearer",
                "oauth_access_token",
                modes=("oauthDefault", "oauthPrivate"),
            ),
        ),
    ),
    Integration(
        "kubernetes",
        "Kubernetes",
        (AuthMode("initialized", "kubeconfig", (VarDef("config_file", "kubeconfig file (YAML or JSON)", file=True),)),),
        Check("GET", "/version", "", "kubeconfig", "config_file"),
    ),
    _microsoft("microsoft", "Microsoft 365"),
    _microsoft("microsoft_teams", "Microsoft Teams"),
    Integration(
        "azurebot",
        "Azure Bot Service",
        (
            AuthMode(
                "initialized",
                "bot app id and password",
                (
                    VarDef("app_id", "app id", secret=False),
                    VarDef("app_password", "app password"),
                    VarDef("tenant_id", "tenant id", secret=False),
                ),
            ),
        ),
        _client_credentials(
            "/{tenant_id}/oauth2/v2.0/token",
            "https://login.microsoftonline.com",
            "app_id",
            "app_password",
            "https://api.botframework.com/.default",
            modes=(),
        ),
        events=True,
    ),
    # akd only (AutoKitteh has neither): deliveries signed per Stripe's and the Standard
    # Webhooks spec (Svix, Resend, Clerk, ...).
    Integration(
        "stripe",
        "Stripe (akd only)",
        (
            AuthMode(
                "apiKey",
                "secret key (+ webhook signing secret)",
                (
                    VarDef("api_key", "secret key (sk_...)"),
                    _opt("webhook_secret", "webhook signing secret (whsec_...)", True),
                ),
            ),
        ),
        events=True,
    ),
    Integration(
        "standardwebhooks",
        "Standard Webhooks / Svix (akd only)",
        (AuthMode("initialized", "signing secret", (VarDef("webhook_secret", "signing secret (whsec_...)"),)),),
        events=True,
    ),
    # Removed from AutoKitteh (2025-11); kept so projects that name it still deploy.
    Integration(
        "height",
        "Height (removed from AutoKitteh)",
        (_key(), _oauth(), _private()),
        Check("GET", "/users/me", "https://api.height.app", "api-key", "api_key"),
    ),
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


# Connection vars that are settings, not credentials, whatever the integration.
PLAIN_VARS = frozenset({"auth_type", "base_url", "enterprise_url"})


def is_secret_var(integration: str, name: str) -> bool:
    """Whether a connection var holds a credential: as the registry says for the var, and
    for a name it does not know, yes (better masked once too often than shown once)."""
    found = find(integration)
    if found is not None:
        for var in (*(v for m in found.modes for v in m.vars), *found.extra_vars):
            if var.name == name:
                return var.secret
    return name not in PLAIN_VARS


def known_names() -> list[str]:
    return sorted(REGISTRY)

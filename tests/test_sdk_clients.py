"""The ``autokitteh.<integration>`` client factories, in process: connection vars set as
env vars (as a session has them), the vendors' own client libraries talking to the local
stand-ins in ``tests.standins``."""

from __future__ import annotations

import importlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from akd.runner.errors import AtlassianOAuthError, ConnectionInitError
from tests.standins.anthropic import AnthropicStandIn
from tests.standins.base import Recorded, StandIn
from tests.standins.github import GitHubStandIn
from tests.standins.openai import OpenAIStandIn
from tests.standins.slack import SlackStandIn

SDK_DIR = str(Path(__file__).resolve().parents[1] / "akd" / "sdk")


def ak(module: str) -> ModuleType:
    """``autokitteh.<module>`` as a session imports it."""
    if SDK_DIR not in sys.path:
        sys.path.insert(0, SDK_DIR)
    return importlib.import_module(f"autokitteh.{module}")


@pytest.fixture
def conn(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Set connection vars: ``conn("slack_conn", private_bot_token="...")``."""

    def set_vars(name: str, **values: str) -> str:
        monkeypatch.setenv(f"{name}__connection_id", "con_01abcdefghijklmnopqrstuvwx")
        for key, value in values.items():
            monkeypatch.setenv(f"{name}__{key}", value)
        return name

    return set_vars


@pytest.fixture(scope="module")
def slack() -> Iterator[SlackStandIn]:
    with SlackStandIn(tokens={"xoxb-good"}) as server:
        yield server


@pytest.fixture(scope="module")
def rsa_key() -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()  # fmt: skip
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo).decode()  # fmt: skip
    return private, public


# -- names and errors ------------------------------------------------------------------

# Every factory and the arguments after the connection name.
FACTORIES = [
    ("slack", "slack_client", ()), ("github", "github_client", ()), ("openai", "openai_client", ()),
    ("openai", "openai_pydantic_ai_provider", ()), ("anthropic", "anthropic_client", ()),
    ("anthropic", "anthropic_pydantic_ai_provider", ()), ("google", "gmail_client", ()),
    ("google", "google_sheets_client", ()), ("google", "google_calendar_client", ()),
    ("google", "google_drive_client", ()), ("google", "google_forms_client", ()), ("google", "youtube_client", ()),
    ("google", "gspread_client", ()), ("google", "gemini_client", ()), ("google", "google_pydantic_ai_provider", ()),
    ("atlassian", "jira_client", ()), ("atlassian", "confluence_client", ()), ("twilio", "twilio_client", ()),
    ("hubspot", "hubspot_client", ()), ("asana", "asana_client", ()), ("notion", "notion_client", ()),
    ("linear", "linear_client", ()), ("discord", "discord_client", ()), ("discord", "bot_token", ()),
    ("telegram", "telegram_client", ()), ("reddit", "reddit_client", ()), ("pipedrive", "pipedrive_client", ()),
    ("auth0", "auth0_client", ()), ("airtable", "airtable_client", ()), ("salesforce", "salesforce_client", ()),
    ("zoom", "zoom_client", ()), ("kubernetes", "kubernetes_client", ()), ("height", "height_client", ()),
]  # fmt: skip


@pytest.mark.parametrize(("module", "name", "args"), FACTORIES, ids=[f[1] for f in FACTORIES])
def test_a_factory_without_vars_names_the_connection_and_the_init_command(
    conn: Any, module: str, name: str, args: tuple[Any, ...]
) -> None:
    factory = getattr(ak(module), name)
    assert factory._akd_direct is True  # a plain call in a session, not a journaled step
    with pytest.raises(ValueError, match="Invalid AutoKitteh connection name"):
        factory("9lives", *args)
    conn("my_conn")  # declared (it has an id) but without credentials
    with pytest.raises(ConnectionInitError) as err:
        factory("my_conn", *args)
    text = str(err.value)
    assert "AutoKitteh connection 'my_conn' not initialized" in text
    assert "akctl connection init PROJECT/my_conn" in text
    with pytest.raises(ConnectionInitError, match="declares no connection 'other'"):
        factory("other", *args)


def test_check_connection_name() -> None:
    check = ak("connections").check_connection_name
    for good in ("slack_conn", "_x", "A1"):
        check(good)
    for bad in ("", "1a", "a-b", "a b", "a.b"):
        with pytest.raises(ValueError, match="Invalid AutoKitteh connection name"):
            check(bad)


def test_importing_every_integration_module_loads_no_vendor_library() -> None:
    names = ["slack", "github", "openai", "anthropic", "google", "atlassian", "twilio", "aws", "hubspot", "asana",
             "notion", "linear", "discord", "telegram", "reddit", "pipedrive", "auth0", "airtable", "salesforce",
             "zoom", "kubernetes", "microsoft", "height", "connections"]  # fmt: skip
    vendors = ["slack_sdk", "github", "openai", "anthropic", "requests", "jwt", "googleapiclient", "boto3", "httpx"]
    code = f"import sys; sys.path.insert(0, {SDK_DIR!r})\n"
    code += "".join(f"import autokitteh.{n}\n" for n in names)
    code += f"print(sorted(m for m in sys.modules if m.split('.')[0] in {vendors!r}))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


# -- Slack -----------------------------------------------------------------------------


def test_slack_client_checks_the_token_then_posts(conn: Any, slack: SlackStandIn) -> None:
    from slack_sdk import WebClient

    client = ak("slack").slack_client(conn("slack_conn", private_bot_token="xoxb-good", base_url=slack.base_url))
    assert isinstance(client, WebClient) and client.base_url == slack.base_url
    assert slack.requests[-1].path == "/api/auth.test"  # AutoKitteh checks the token first
    resp = client.chat_postMessage(channel="C123", text="hello from akd")
    assert resp["ok"] and slack.messages[-1] == {"channel": "C123", "text": "hello from akd"}
    assert slack.requests[-1].auth == "Bearer xoxb-good"


def test_slack_client_prefers_the_oauth_token_and_refuses_a_bad_one(conn: Any, slack: SlackStandIn) -> None:
    from slack_sdk.errors import SlackApiError

    name = conn("s2", oauth_access_token="xoxb-good", private_bot_token="xoxb-bad", base_url=slack.base_url)
    ak("slack").slack_client(name)
    assert slack.requests[-1].auth == "Bearer xoxb-good"
    conn("s3", private_bot_token="xoxb-bad", base_url=slack.base_url)
    with pytest.raises(SlackApiError, match="invalid_auth"):
        ak("slack").slack_client("s3")


def test_normalize_channel_name() -> None:
    assert ak("slack").normalize_channel_name("  Bug #42: 'Login' fails!! ") == "bug-42-login-fails"


# -- GitHub ----------------------------------------------------------------------------


def test_github_client_with_a_pat_reads_a_repo(conn: Any) -> None:
    from github import Github

    with GitHubStandIn(pats={"ghp_good"}) as gh:
        client = ak("github").github_client(conn("gh", pat="ghp_good", base_url=gh.url))
        assert isinstance(client, Github)
        assert client.get_user().login == "octocat"
        repo = client.get_repo("octo/hello")
        assert (repo.full_name, repo.description) == ("octo/hello", "a test repo")
        assert gh.requests[-1].auth == "token ghp_good"
        client.close()


def test_github_client_honours_enterprise_url(conn: Any) -> None:
    with GitHubStandIn(pats={"ghp_good"}) as gh:
        client = ak("github").github_client(conn("ghe", pat="ghp_good", enterprise_url=gh.url + "/"))
        assert client.get_repo("octo/hello").name == "hello"
        assert gh.requests[-1].path == "/api/v3/repos/octo/hello"
        client.close()


@pytest.mark.parametrize("key_in", ["connection", "env"])
def test_github_client_as_an_app_installation(conn: Any, monkeypatch: pytest.MonkeyPatch,
                                              rsa_key: tuple[str, str], key_in: str) -> None:  # fmt: skip
    private, public = rsa_key
    with GitHubStandIn(pats=set(), app_id=123, app_public_key=public) as gh:
        if key_in == "connection":
            name = conn("app", app_id="123", install_id="77", private_key=private, base_url=gh.url)
        else:  # no private_key var: JWTs come from encode_jwt, which finds GITHUB_PRIVATE_KEY
            name = conn("app2", app_id="123", install_id="77", base_url=gh.url)
            monkeypatch.setenv("GITHUB_PRIVATE_KEY", private)
        client = ak("github").github_client(name)
        assert client.get_repo("octo/hello").full_name == "octo/hello"
        paths = [r.path for r in gh.requests]
        assert "/app/installations/77/access_tokens" in paths
        assert gh.requests[-1].auth == "token ghs_installation_77"
        client.close()


def test_encode_jwt_signs_rs256_with_the_connection_key(conn: Any, rsa_key: tuple[str, str],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    private, public = rsa_key
    connections = ak("connections")
    conn("app", private_key=private)
    payload = {"iat": 1700000000, "exp": 4100000000, "iss": 5}
    claims = {**payload, "iss": "5"}
    for token in (connections.encode_jwt(payload, "app", "RS256"), connections._rs256(claims, private)):
        assert jwt.decode(token, public, algorithms=["RS256"], options={"verify_iat": False}) == claims
    with pytest.raises(ak("errors").AutoKittehError, match="only RS256"):
        connections.encode_jwt(payload, "app", "HS256")
    monkeypatch.delenv("GITHUB_PRIVATE_KEY", raising=False)
    conn("nokey")
    with pytest.raises(ConnectionInitError, match=r"'nokey'.*private_key"):
        connections.encode_jwt(payload, "nokey", "RS256")


# -- OpenAI, Anthropic -----------------------------------------------------------------


def test_openai_client(conn: Any) -> None:
    with OpenAIStandIn(keys={"sk-good"}) as api:
        client = ak("openai").openai_client(conn("ai", apiKey="sk-good", base_url=api.base_url))
        assert [m.id for m in client.models.list()] == ["gpt-test"]
        done = client.chat.completions.create(model="gpt-test", messages=[{"role": "user", "content": "hi"}])
        assert done.choices[0].message.content == "echo: hi"
        assert api.requests[-1].auth == "Bearer sk-good"
        client.close()
        conn("ai_bad", apiKey="sk-bad", base_url=api.base_url)
        import openai

        with ak("openai").openai_client("ai_bad") as bad, pytest.raises(openai.AuthenticationError):
            bad.models.list()
        conn("ai_snake", api_key="sk-good")  # AutoKitteh's chatgpt var is apiKey, not api_key
        with pytest.raises(ConnectionInitError, match="apiKey"):
            ak("openai").openai_client("ai_snake")


def test_anthropic_client(conn: Any) -> None:
    with AnthropicStandIn(keys={"sk-ant-good"}) as api:
        client = ak("anthropic").anthropic_client(conn("claude", api_key="sk-ant-good", base_url=api.url))
        msg = client.messages.create(model="claude-test", max_tokens=10, messages=[{"role": "user", "content": "yo"}])
        assert msg.content[0].text == "echo: yo"  # type: ignore[union-attr]
        assert api.requests[-1].headers["x-api-key"] == "sk-ant-good"
        client.close()


# -- requests-based sessions (Linear, Zoom, Height) ------------------------------------


def _echo_server() -> StandIn:
    server = StandIn()
    server.route("POST", r"/graphql/?", lambda req, m: (200, {"data": {"viewer": {"id": "u1"}}}))
    server.route("GET", r"/v2/users/me", lambda req, m: (200, {"id": "z1"}))
    return server


def test_linear_and_zoom_sessions_send_the_token_to_the_base_url(conn: Any) -> None:
    with _echo_server() as api:
        linear = ak("linear").linear_client(conn("lin", api_key="lin_api_1", base_url=f"{api.url}/graphql/"))
        assert linear.post("", json={"query": "{ viewer { id } }"}).json()["data"]["viewer"]["id"] == "u1"
        req: Recorded = api.requests[-1]
        assert (req.path, req.auth, req.headers["content-type"]) == ("/graphql/", "lin_api_1", "application/json")
        zoom = ak("zoom").zoom_client(conn("zm", oauth_access_token="zoom-tok", base_url=f"{api.url}/v2/"))
        assert zoom.get("users/me").json() == {"id": "z1"}
        assert api.requests[-1].auth == "Bearer zoom-tok"
        linear.close()
        zoom.close()


# -- pure helpers ------------------------------------------------------------------------


def test_google_expiry_in_go_and_rfc3339_forms() -> None:
    google = ak("google")
    go = google.oauth_expiry("2024-06-20 19:18:17.123456 -0700 PDT m=+0.123")
    assert go.isoformat() == "2024-06-21T02:18:17"
    assert google.oauth_expiry("2024-06-21T02:18:17Z") == go
    assert google.google_id("https://docs.google.com/spreadsheets/d/1AbCdEfGhIjKlMnOpQrStUvWxYz/edit") == (
        "1AbCdEfGhIjKlMnOpQrStUvWxYz"
    )


def test_jira_refuses_an_oauth_connection_and_reads_the_site_url(conn: Any) -> None:
    atlassian = ak("atlassian")
    conn("jira_oauth", oauth_AccessToken="tok", AccessURL="https://x.atlassian.net")
    with pytest.raises(AtlassianOAuthError):
        atlassian.jira_client("jira_oauth")
    assert atlassian.get_base_url("jira_oauth") == "https://x.atlassian.net"


def test_boto3_client_needs_a_service_name(conn: Any) -> None:
    with pytest.raises(ValueError, match="AWS service name is required"):
        ak("aws").boto3_client(conn("aws_conn"), "")


# Clients whose library akd does not depend on (AutoKitteh preinstalls them in its runner):
# the var checks above run without them; building the client needs them.
@pytest.mark.parametrize(("module", "name", "lib", "values"), [
    ("twilio", "twilio_client", "twilio", {"AccountSID": "AC1", "Username": "AC1", "Password": "tok"}),
    ("atlassian", "jira_client", "atlassian", {"BaseURL": "http://127.0.0.1:9", "Token": "t", "Email": "a@b.c"}),
    ("google", "google_sheets_client", "googleapiclient", {"JSON": "{}"}),
    ("notion", "notion_client", "notion_client", {"api_key": "secret_1"}),
    ("asana", "asana_client", "asana", {"pat": "p"}),
])  # fmt: skip
def test_clients_of_libraries_outside_our_deps(conn: Any, module: str, name: str, lib: str,
                                               values: dict[str, str]) -> None:  # fmt: skip
    try:
        importlib.import_module(lib)
    except ImportError:
        pytest.skip(f"{lib} is not installed (not one of akd's dependencies)")
    client = getattr(ak(module), name)(conn("c", **values))
    assert client is not None

"""akd.oauth (PKCE, authorize URL, expiry formats), ``[oauth.<integration>]`` config and
the single-use, expiring states of akd.store.oauth_apps on a real SQLite database."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from akd import oauth
from akd.config import OAuthEndpointConfig, load_config
from akd.errors import InvalidArgument
from akd.store import connections as conns_store
from akd.store import oauth_apps
from akd.store.db import SqliteDatabase
from akd.store.projects import upsert_project


def test_pkce_challenge_is_s256_of_the_verifier() -> None:
    verifier = oauth.new_verifier()
    assert 43 <= len(verifier) <= 128
    digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    assert oauth.challenge(verifier) == digest
    assert oauth.new_state() != oauth.new_state() and len(oauth.new_state()) >= 43


def test_authorize_url_carries_pkce_state_scopes_and_overrides() -> None:
    overrides = {"github": OAuthEndpointConfig(authorize_url="http://127.0.0.1:1/auth?x=1", scopes="a b")}
    ep = oauth.endpoints("github", overrides)
    assert ep.token_url == oauth.ENDPOINTS["github"].token_url
    url = oauth.authorize_url(ep, "cid", "http://127.0.0.1:2/oauth/github/callback", "st", "v" * 50)
    parts = urlsplit(url)
    q = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert parts.path == "/auth" and q["x"] == "1" and q["scope"] == "a b" and q["state"] == "st"
    assert q["code_challenge"] == oauth.challenge("v" * 50) and q["code_challenge_method"] == "S256"
    assert q["redirect_uri"] == "http://127.0.0.1:2/oauth/github/callback" and q["response_type"] == "code"


def test_expiry_formats_round_trip() -> None:
    t = 1_780_000_000.0
    new, legacy = oauth.format_expiry(t, legacy=False), oauth.format_expiry(t, legacy=True)
    assert new == "2026-05-28T20:26:40Z" and legacy == "2026-05-28 20:26:40.000000 +0000 UTC"
    assert oauth.parse_expiry(new) == oauth.parse_expiry(legacy) == t
    assert oauth.parse_expiry("2024-06-20 19:18:17.123456 -0700 PDT m=+0.1") == 1718936297.123456
    assert oauth.parse_expiry("") is None and oauth.parse_expiry("soon") is None


def test_oauth_overrides_from_file_and_env(tmp_path: Path) -> None:
    path = tmp_path / "akd.toml"
    path.write_text('[oauth.github]\nauthorize_url = "http://127.0.0.1:9/a"\n[oauth.microsoft_teams]\nscopes = "x"\n')
    cfg = load_config(path, environ={"AKD_OAUTH_GITHUB_TOKEN_URL": "http://127.0.0.1:9/t",
                                     "AKD_OAUTH_MICROSOFT_TEAMS_TOKEN_URL": "https://t"})  # fmt: skip
    assert cfg.oauth["github"] == OAuthEndpointConfig("http://127.0.0.1:9/a", "http://127.0.0.1:9/t", "")
    assert cfg.oauth["microsoft_teams"] == OAuthEndpointConfig("", "https://t", "x")


@pytest.mark.parametrize(
    ("toml", "words"),
    [
        ('[oauth.nosuch]\ntoken_url = "http://x"\n', "[oauth.nosuch]: unknown integration"),
        ('[oauth.github]\ntokenurl = "http://x"\n', "unknown setting tokenurl"),
        ('[oauth.github]\ntoken_url = "ftp://x"\n', "expected an http(s) URL"),
        ('[oauth]\ngithub = "x"\n', "[oauth.github] must be a table"),
    ],
)
def test_bad_oauth_settings_are_named(tmp_path: Path, toml: str, words: str) -> None:
    path = tmp_path / "akd.toml"
    path.write_text(toml)
    with pytest.raises(InvalidArgument) as err:
        load_config(path, environ={})
    assert words in err.value.message


def test_states_are_single_use_expiring_and_bound_to_an_integration(tmp_path: Path) -> None:
    async def scenario() -> None:
        db = SqliteDatabase(tmp_path / "akd.db")
        await db.open()
        try:
            async with db.tx() as tx:
                await upsert_project(tx, "prj_1", "p", "p", "")
                await conns_store.sync(tx, "prj_1", [conns_store.DeclaredConnection("gh", "github", ())],
                                       lambda: "con_1")  # fmt: skip
            now = time.time()
            for digest, expires in (("live", now + 600), ("old", now - 1), ("other", now + 600)):
                await oauth_apps.add_pending(db, digest, oauth_apps.PendingAuth("con_1", "github", b"v", "r", expires))
            assert await oauth_apps.take_pending(db, "live", "github", now) is not None
            assert await oauth_apps.take_pending(db, "live", "github", now) is None  # used
            assert await oauth_apps.take_pending(db, "old", "github", now) is None  # expired
            assert await oauth_apps.take_pending(db, "other", "slack", now) is None  # another integration
            assert await oauth_apps.take_pending(db, "other", "github", now) is None  # and spent by that
            assert await oauth_apps.take_pending(db, "never", "github", now) is None
            outcomes = {d: await oauth_apps.outcome_of(db, d) for d in ("old", "other")}
            assert {d: (o.outcome if o else None) for d, o in outcomes.items()} == {"old": "failed", "other": "failed"}
        finally:
            await db.close()

    asyncio.run(scenario())

"""Webhook signature schemes (pure functions)."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from akd.api.signatures import verify
from akd.errors import InvalidArgument, Unauthenticated

SECRET = "s3cret"
BODY = b'{"action": "opened"}'
NOW = 1_800_000_000.0


def sign(message: bytes) -> str:
    return hmac.new(SECRET.encode(), message, hashlib.sha256).hexdigest()


def test_github_signature() -> None:
    verify("github", SECRET, {"x-hub-signature-256": "sha256=" + sign(BODY)}, BODY, NOW)
    with pytest.raises(Unauthenticated, match="missing"):
        verify("github", SECRET, {}, BODY, NOW)
    with pytest.raises(Unauthenticated, match="bad signature"):
        verify("github", SECRET, {"x-hub-signature-256": "sha256=" + sign(b"other")}, BODY, NOW)


def test_slack_signature_and_staleness() -> None:
    ts = str(int(NOW))
    good = {"x-slack-request-timestamp": ts, "x-slack-signature": "v0=" + sign(f"v0:{ts}:".encode() + BODY)}
    verify("slack", SECRET, good, BODY, NOW)
    with pytest.raises(Unauthenticated, match="stale"):
        verify("slack", SECRET, good, BODY, NOW + 301)
    with pytest.raises(Unauthenticated, match="x-slack-request-timestamp"):
        verify("slack", SECRET, {"x-slack-signature": good["x-slack-signature"]}, BODY, NOW)


def test_generic_sha256_signature() -> None:
    ts = str(int(NOW))
    good = {"x-signature-timestamp": ts, "x-signature-256": "sha256=" + sign(ts.encode() + b"." + BODY)}
    verify("sha256", SECRET, good, BODY, NOW)
    with pytest.raises(Unauthenticated, match="bad signature"):
        verify("sha256", SECRET, good, BODY + b" ", NOW)
    with pytest.raises(Unauthenticated, match="stale"):
        verify("sha256", SECRET, good, BODY, NOW - 1000)


def test_unknown_scheme() -> None:
    with pytest.raises(InvalidArgument, match="github, slack, sha256"):
        verify("md5", SECRET, {}, BODY, NOW)


@pytest.mark.parametrize("scheme", ["slack", "sha256"])
@pytest.mark.parametrize("ts", ["nan", "NaN", " nan ", "-nan", "inf", "-inf", "infinity"])
def test_non_finite_timestamps_are_refused(scheme: str, ts: str) -> None:
    """A correctly signed "nan" timestamp used to pass the skew check: valid forever."""
    if scheme == "slack":
        headers = {"x-slack-request-timestamp": ts, "x-slack-signature": "v0=" + sign(f"v0:{ts}:".encode() + BODY)}
    else:
        headers = {"x-signature-timestamp": ts, "x-signature-256": "sha256=" + sign(ts.encode() + b"." + BODY)}
    with pytest.raises(Unauthenticated, match=r"invalid|stale"):
        verify(scheme, SECRET, headers, BODY, NOW)

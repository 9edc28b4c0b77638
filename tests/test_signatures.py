"""Webhook signature schemes (pure functions)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from urllib.parse import urlencode

import jwt
import pytest

from akd.errors import InvalidArgument, Unauthenticated
from akd.signatures import PRESETS, SCHEMES, discord_public_key, ed25519_valid, sign, verify, zoom_encrypted_token

SECRET = "s3cret"
BODY = b'{"action": "opened"}'
NOW = 1_800_000_000.0


def hexmac(message: bytes) -> str:
    return hmac.new(SECRET.encode(), message, hashlib.sha256).hexdigest()


def test_github_signature() -> None:
    verify("github", SECRET, {"x-hub-signature-256": "sha256=" + hexmac(BODY)}, BODY, NOW)
    with pytest.raises(Unauthenticated, match="missing"):
        verify("github", SECRET, {}, BODY, NOW)
    with pytest.raises(Unauthenticated, match="bad signature"):
        verify("github", SECRET, {"x-hub-signature-256": "sha256=" + hexmac(b"other")}, BODY, NOW)


def test_slack_signature_and_staleness() -> None:
    ts = str(int(NOW))
    good = {"x-slack-request-timestamp": ts, "x-slack-signature": "v0=" + hexmac(f"v0:{ts}:".encode() + BODY)}
    verify("slack", SECRET, good, BODY, NOW)
    with pytest.raises(Unauthenticated, match="stale"):
        verify("slack", SECRET, good, BODY, NOW + 301)
    with pytest.raises(Unauthenticated, match="x-slack-request-timestamp"):
        verify("slack", SECRET, {"x-slack-signature": good["x-slack-signature"]}, BODY, NOW)


def test_generic_sha256_signature() -> None:
    ts = str(int(NOW))
    good = {"x-signature-timestamp": ts, "x-signature-256": "sha256=" + hexmac(ts.encode() + b"." + BODY)}
    verify("sha256", SECRET, good, BODY, NOW)
    with pytest.raises(Unauthenticated, match="bad signature"):
        verify("sha256", SECRET, good, BODY + b" ", NOW)
    with pytest.raises(Unauthenticated, match="stale"):
        verify("sha256", SECRET, good, BODY, NOW - 1000)


def test_unknown_scheme() -> None:
    assert set(SCHEMES) <= set(PRESETS)
    with pytest.raises(InvalidArgument, match="github, slack, sha256, atlassian, linear, twilio, stripe"):
        verify("md5", SECRET, {}, BODY, NOW)


@pytest.mark.parametrize("scheme", ["slack", "sha256"])
@pytest.mark.parametrize("ts", ["nan", "NaN", " nan ", "-nan", "inf", "-inf", "infinity"])
def test_non_finite_timestamps_are_refused(scheme: str, ts: str) -> None:
    """A correctly signed "nan" timestamp used to pass the skew check: valid forever."""
    if scheme == "slack":
        headers = {"x-slack-request-timestamp": ts, "x-slack-signature": "v0=" + hexmac(f"v0:{ts}:".encode() + BODY)}
    else:
        headers = {"x-signature-timestamp": ts, "x-signature-256": "sha256=" + hexmac(ts.encode() + b"." + BODY)}
    with pytest.raises(Unauthenticated, match=r"invalid|stale"):
        verify(scheme, SECRET, headers, BODY, NOW)


# -- Slack: integer timestamps only ---------------------------------------------------------


@pytest.mark.parametrize("ts", ["1800000000.5", "1.8e9", "0x6b49d200", "+1800000000", "", "1800000000 1"])
def test_slack_timestamps_must_be_whole_seconds(ts: str) -> None:
    headers = {"x-slack-request-timestamp": ts, "x-slack-signature": "v0=" + hexmac(f"v0:{ts}:".encode() + BODY)}
    with pytest.raises(Unauthenticated, match="x-slack-request-timestamp"):
        verify("slack", SECRET, headers, BODY, NOW)


# -- every preset: sign is verify's inverse ------------------------------------------------

TWILIO_URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
RFC8032_SEED = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"
WHSEC = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def _secret_for(scheme: str) -> str:
    return {"standardwebhooks": WHSEC, "discord": RFC8032_SEED}.get(scheme, SECRET)


def _verify_secret_for(scheme: str) -> str:
    return discord_public_key(RFC8032_SEED) if scheme == "discord" else _secret_for(scheme)


def _body_for(scheme: str) -> bytes:
    if scheme == "linear":
        return json.dumps({"action": "create", "webhookTimestamp": int(NOW * 1000)}).encode()
    if scheme == "twilio":
        return b"MessageSid=SM1&Body=hi+there&From=%2B15550001"
    return BODY


@pytest.mark.parametrize("scheme", list(PRESETS))
def test_sign_is_the_inverse_of_verify(scheme: str) -> None:
    body = _body_for(scheme)
    headers = sign(scheme, _secret_for(scheme), body, url=TWILIO_URL, now=NOW)
    verify(scheme, _verify_secret_for(scheme), headers, body, NOW, url=TWILIO_URL)
    with pytest.raises(Unauthenticated):
        verify(scheme, _verify_secret_for(scheme), headers, body.replace(b"i", b"I", 1), NOW, url=TWILIO_URL)
    with pytest.raises(Unauthenticated):
        verify(scheme, _verify_secret_for(scheme), {}, body, NOW, url=TWILIO_URL)


@pytest.mark.parametrize("scheme", [s for s in PRESETS if s not in ("github", "atlassian", "twilio")])
def test_timestamped_presets_refuse_stale_requests(scheme: str) -> None:
    body = _body_for(scheme)
    headers = sign(scheme, _secret_for(scheme), body, url=TWILIO_URL, now=NOW)
    with pytest.raises(Unauthenticated, match="stale"):
        verify(scheme, _verify_secret_for(scheme), headers, body, NOW + 400, url=TWILIO_URL)


# -- Stripe ---------------------------------------------------------------------------------


def _stripe_header(t: str, body: bytes, secret: str = "whsec_test") -> str:
    return f"t={t},v1=" + hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()


def test_stripe_signature() -> None:
    t = str(int(NOW))
    body = b'{"id": "evt_1", "type": "payment_intent.succeeded"}'
    verify("stripe", "whsec_test", {"Stripe-Signature": _stripe_header(t, body)}, body, NOW)
    # While a secret rolls Stripe sends one v1 per secret (and a v0 test signature): any v1 may match.
    rolled = f"t={t},v1={'0' * 64},{_stripe_header(t, body).split(',')[1]},v0={'1' * 64}"
    verify("stripe", "whsec_test", {"stripe-signature": rolled}, body, NOW)
    with pytest.raises(Unauthenticated, match="bad signature"):
        verify("stripe", "whsec_other", {"stripe-signature": _stripe_header(t, body)}, body, NOW)
    with pytest.raises(Unauthenticated, match="no signature"):  # a v0 alone is never enough
        verify("stripe", "whsec_test", {"stripe-signature": f"t={t},v0=" + "a" * 64}, body, NOW)
    with pytest.raises(Unauthenticated, match="stale"):
        verify("stripe", "whsec_test", {"stripe-signature": _stripe_header(t, body)}, body, NOW + 301)
    for bad_t in ("nan", "1.8e9", ""):
        with pytest.raises(Unauthenticated, match="Stripe-Signature t"):
            verify("stripe", "whsec_test", {"stripe-signature": _stripe_header(bad_t, body)}, body, NOW)


# -- Standard Webhooks ------------------------------------------------------------------------


def test_standard_webhooks_spec_test_vector() -> None:
    # The Standard Webhooks specification's example: this secret, id, timestamp and body.
    headers = {"webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek", "webhook-timestamp": "1614265330",
               "webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="}  # fmt: skip
    body = b'{"test": 2432232314}'
    verify("standardwebhooks", WHSEC, headers, body, 1614265330)
    # Several signatures (a rotated key) separated by spaces; svix-* header names.
    svix = {f"svix-{k.split('-')[1]}": v for k, v in headers.items()}
    svix["svix-signature"] = "v1,bm90IGl0 v1a,ignored " + headers["webhook-signature"]
    verify("standardwebhooks", WHSEC, svix, body, 1614265330 + 200)
    with pytest.raises(Unauthenticated, match="bad signature"):
        verify("standardwebhooks", WHSEC, {**headers, "webhook-id": "msg_other"}, body, 1614265330)
    with pytest.raises(Unauthenticated, match="stale"):
        verify("standardwebhooks", WHSEC, headers, body, 1614265330 + 301)
    with pytest.raises(Unauthenticated, match="webhook-id"):
        verify("standardwebhooks", WHSEC, {k: v for k, v in headers.items() if k != "webhook-id"}, body, 1614265330)
    with pytest.raises(Unauthenticated, match="whsec_"):
        verify("standardwebhooks", "whsec_not base64!", headers, body, 1614265330)


# -- Discord (ed25519) ------------------------------------------------------------------------

# RFC 8032 section 7.1, tests 1-3: (secret key, public key, message, signature).
RFC8032 = [
    ("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
     "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
     "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"),
    ("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
     "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
     "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"),
    ("c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
     "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025", "af82",
     "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a"),
]  # fmt: skip


@pytest.mark.parametrize(("seed", "public", "message", "signature"), RFC8032)
def test_ed25519_rfc8032_vectors(seed: str, public: str, message: str, signature: str) -> None:
    assert discord_public_key(seed) == public
    assert ed25519_valid(public, bytes.fromhex(message), signature)
    assert not ed25519_valid(public, bytes.fromhex(message) + b"x", signature)
    flipped = f"{int(signature[0], 16) ^ 1:x}" + signature[1:]
    assert not ed25519_valid(public, bytes.fromhex(message), flipped)


def test_discord_signature_over_timestamp_and_body() -> None:
    seed, public, _, signature = RFC8032[1]
    ts = str(int(NOW))
    headers = sign("discord", seed, BODY, now=NOW)
    assert headers["X-Signature-Timestamp"] == ts
    verify("discord", public, headers, BODY, NOW)
    with pytest.raises(Unauthenticated, match="bad signature"):  # another app's key
        verify("discord", RFC8032[0][1], headers, BODY, NOW)
    with pytest.raises(Unauthenticated, match="bad signature"):  # a valid signature of another message
        verify("discord", public, {"x-signature-ed25519": signature, "x-signature-timestamp": ts}, BODY, NOW)
    with pytest.raises(Unauthenticated, match="bad signature"):  # not hex
        verify("discord", public, {**headers, "X-Signature-Ed25519": "zz"}, BODY, NOW)
    with pytest.raises(Unauthenticated, match="not hex"):
        verify("discord", "not a key", headers, BODY, NOW)
    with pytest.raises(Unauthenticated, match="X-Signature-Timestamp"):
        verify("discord", public, {**headers, "X-Signature-Timestamp": "nan"}, BODY, NOW)


# -- Twilio -----------------------------------------------------------------------------------

TWILIO_PARAMS = {"CallSid": "CA1234567890ABCDE", "Caller": "+14158675309", "Digits": "1234",
                 "From": "+14158675309", "To": "+18005551212"}  # fmt: skip
FORM = {"content-type": "application/x-www-form-urlencoded"}


def test_twilio_documented_example() -> None:
    # Twilio's request-validation example: auth token 12345, this URL and these params.
    body = urlencode(TWILIO_PARAMS).encode()
    verify("twilio", "12345", {**FORM, "x-twilio-signature": "RSOYDt4T1cUTdK1PDd93/VVr8B8="}, body, url=TWILIO_URL)
    # The same with a port in the URL Twilio called; and signed with the default port.
    port = TWILIO_URL.replace(".com", ".com:1234")
    verify("twilio", "12345", {**FORM, "x-twilio-signature": "RSOYDt4T1cUTdK1PDd93/VVr8B8="}, body, url=port)
    verify("twilio", "12345", {**FORM, "x-twilio-signature": "kvajT1Ptam85bY51eRf/AJRuM3w="}, body, url=TWILIO_URL)
    # Repeated params: sorted by name then value, a repeated pair once.
    repeated = urlencode([("Sid", "CA123"), ("SidAccount", "AC123"), ("Digits", "5678"), ("Digits", "1234"),
                          ("Digits", "1234")]).encode()  # fmt: skip
    verify("twilio", "12345", {**FORM, "x-twilio-signature": "IK+Dwps556ElfBT0I3Rgjkr1wJU="}, repeated, url=TWILIO_URL)
    with pytest.raises(Unauthenticated, match="bad signature"):
        verify("twilio", "12345", {**FORM, "x-twilio-signature": "RSOYDt4T1cUTdK1PDd93/VVr8B8="},
               body.replace(b"1234", b"9999"), url=TWILIO_URL)  # fmt: skip
    with pytest.raises(Unauthenticated, match="bad signature"):
        verify("twilio", "12345", {**FORM, "x-twilio-signature": "RSOYDt4T1cUTdK1PDd93/VVr8B8="}, body,
               url=TWILIO_URL + "&extra=1")  # fmt: skip
    with pytest.raises(Unauthenticated, match="missing"):
        verify("twilio", "12345", FORM, body, url=TWILIO_URL)
    with pytest.raises(InvalidArgument, match="URL"):
        verify("twilio", "12345", {**FORM, "x-twilio-signature": "RSOYDt4T1cUTdK1PDd93/VVr8B8="}, body)


def test_twilio_json_body_signed_through_body_sha256() -> None:
    body = b'{"property": "value", "boolean": true}'
    digest = "0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620"
    assert hashlib.sha256(body).hexdigest() == digest
    url = f"{TWILIO_URL}&bodySHA256={digest}"
    headers = {"content-type": "application/json", "x-twilio-signature": "a9nBmqA0ju/hNViExpshrM61xv4="}
    verify("twilio", "12345", headers, body, url=url)
    with pytest.raises(Unauthenticated, match="bodySHA256"):
        verify("twilio", "12345", headers, body + b" ", url=url)
    # A signature over the URL alone does not cover a JSON body that came without bodySHA256.
    url_only = base64.b64encode(hmac.new(b"12345", TWILIO_URL.encode(), hashlib.sha1).digest()).decode()
    with pytest.raises(Unauthenticated, match="bodySHA256"):
        verify("twilio", "12345", {**headers, "x-twilio-signature": url_only}, body, url=TWILIO_URL)


# -- Linear, Zoom, Atlassian -----------------------------------------------------------------


def test_linear_signature_and_webhook_timestamp() -> None:
    def body(stamp: object) -> bytes:
        return json.dumps({"action": "create", "type": "Issue", "webhookTimestamp": stamp}).encode()

    good = body(int(NOW * 1000))
    verify("linear", SECRET, {"linear-signature": hexmac(good)}, good, NOW + 59)
    with pytest.raises(Unauthenticated, match="stale"):
        verify("linear", SECRET, {"linear-signature": hexmac(good)}, good, NOW + 61)
    for stamp in (None, "1800000000000", True):
        raw = body(stamp)
        with pytest.raises(Unauthenticated, match="webhookTimestamp"):
            verify("linear", SECRET, {"linear-signature": hexmac(raw)}, raw, NOW)
    with pytest.raises(Unauthenticated, match="JSON"):
        verify("linear", SECRET, {"linear-signature": hexmac(b"[1]")}, b"[1]", NOW)
    with pytest.raises(Unauthenticated, match="bad signature"):
        verify("linear", SECRET, {"linear-signature": hexmac(good).upper()}, good, NOW)


def test_zoom_signature_in_seconds_or_milliseconds() -> None:
    for ts in (str(int(NOW)), str(int(NOW * 1000))):
        headers = {"x-zm-request-timestamp": ts, "x-zm-signature": "v0=" + hexmac(f"v0:{ts}:".encode() + BODY)}
        verify("zoom", SECRET, headers, BODY, NOW)
        with pytest.raises(Unauthenticated, match="stale"):
            verify("zoom", SECRET, headers, BODY, NOW + 301)
    with pytest.raises(Unauthenticated, match="x-zm-request-timestamp"):
        verify("zoom", SECRET, {"x-zm-request-timestamp": "1e9", "x-zm-signature": "v0=00"}, BODY, NOW)
    assert zoom_encrypted_token(SECRET, "qgg8vlvZRS6UYooatFL8Aw") == hexmac(b"qgg8vlvZRS6UYooatFL8Aw")


def test_atlassian_hub_signature_and_jwt() -> None:
    verify("atlassian", SECRET, {"x-hub-signature": "sha256=" + hexmac(BODY)}, BODY, NOW)
    with pytest.raises(Unauthenticated, match="X-Hub-Signature"):
        verify("atlassian", SECRET, {"x-hub-signature": "sha256=" + hexmac(b"x")}, BODY, NOW)
    with pytest.raises(Unauthenticated, match="missing"):
        verify("atlassian", SECRET, {}, BODY, NOW)
    key = "a-jira-app-client-secret-of-32-bytes"
    token = jwt.encode({"iss": "jira", "exp": int(NOW) + 60}, key, algorithm="HS256")
    verify("atlassian", key, {"authorization": f"Bearer {token}"}, BODY, NOW)
    with pytest.raises(Unauthenticated, match="expired"):
        verify("atlassian", key, {"authorization": f"Bearer {token}"}, BODY, NOW + 600)
    other = jwt.encode({"iss": "jira"}, "other" * 8, algorithm="HS256")
    with pytest.raises(Unauthenticated, match="bad signature"):
        verify("atlassian", key, {"authorization": f"Bearer {other}"}, BODY, NOW)
    unsigned = jwt.encode({"iss": "jira"}, None, algorithm="none")
    with pytest.raises(Unauthenticated, match="HS256"):
        verify("atlassian", key, {"authorization": f"Bearer {unsigned}"}, BODY, NOW)
    with pytest.raises(Unauthenticated, match="malformed"):
        verify("atlassian", key, {"authorization": "Bearer a.b"}, BODY, NOW)

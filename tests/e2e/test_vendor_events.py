"""Deliveries from Jira, Confluence, Linear, Twilio, Zoom, Stripe, Standard Webhooks and
Discord to a connection (connection events issue, the signed-preset vendors): each signed
the vendor's way over the raw bytes (computed here independently of akd's code), stored
before the 2xx, deduplicated by the vendor's delivery id, and dispatched to the
connection's triggers, whose sessions print what they got. One daemon for the module,
with ``[server] public_url`` set to another spelling of its address (``localhost`` for
``127.0.0.1``), so the URLs it prints and the URL Twilio's signature covers are the
public one."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import unquote_plus, urlencode

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tests.e2e.harness import Akd, wait_for, write_project

pytestmark = pytest.mark.e2e

PROJECT = "vendev"
CONNECTIONS = {"jira": "jira_conn", "confluence": "conf_conn", "linear": "linear_conn", "twilio": "twilio_conn",
               "zoom": "zoom_conn", "stripe": "stripe_conn", "standardwebhooks": "sw_conn",
               "discord": "discord_conn"}  # fmt: skip
TRIGGERS = {
    "jira": "      event_type: issue_created\n",
    "linear": '      event_type: issue\n      filter: data.action == "create"\n',
    "stripe": "      event_type: payment_intent.succeeded\n",
}

PROGRAM = """\
def on_jira(event):
    print("jira", event.event_type, event.data.issue.key)

def on_confluence(event):
    print("confluence", event.event_type, event.data.page.title)

def on_linear(event):
    print("linear", event.event_type, event.data.action, event.data.data.title)

def on_twilio(event):
    print("twilio", event.event_type, event.data["from"], event.data.body, event.data.message_sid)

def on_zoom(event):
    print("zoom", event.event_type, event.data.payload.object.topic)

def on_stripe(event):
    print("stripe", event.event_type, event.data.data.object.amount)

def on_standardwebhooks(event):
    print("standardwebhooks", event.event_type, event.data.data.email)

def on_discord(event):
    print("discord", event.event_type, event.data.data.name, event.data.member.user.username)
"""

# RFC 8032 section 7.1, test 1: the Discord application's key pair here.
DISCORD_SEED = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"
DISCORD_PUBLIC = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
WHSEC = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SECRETS = {"jira": ("webhook_secret", "jira-webhook-secret"), "confluence": ("webhook_secret", "conf-secret"),
           "linear": ("private_webhook_secret", "lin_wh_secret"), "twilio": ("auth_token", "12345"),
           "zoom": ("private_secret_token", "zoom-secret-token"), "stripe": ("webhook_secret", "whsec_stripe_test"),
           "standardwebhooks": ("webhook_secret", WHSEC), "discord": ("public_key", DISCORD_PUBLIC)}  # fmt: skip


def _manifest() -> str:
    conns = "".join(f"    - name: {c}\n      integration: {i}\n" for i, c in CONNECTIONS.items())
    triggers = "".join(
        f"    - name: on_{i}\n      connection: {c}\n{TRIGGERS.get(i, '')}      call: program.py:on_{i}\n"
        for i, c in CONNECTIONS.items()
    )
    return f"version: v2\nproject:\n  name: {PROJECT}\n  connections:\n{conns}  triggers:\n{triggers}"


# -- the vendors' signatures, computed here -------------------------------------------------


def _hmac_hex(secret: str | bytes, message: bytes) -> str:
    key = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def _atlassian(secret: str, body: bytes, url: str) -> dict[str, str]:
    return {"X-Hub-Signature": "sha256=" + _hmac_hex(secret, body)}


def _linear(secret: str, body: bytes, url: str) -> dict[str, str]:
    return {"Linear-Signature": _hmac_hex(secret, body), "Linear-Event": "Issue"}


def _twilio(secret: str, body: bytes, url: str) -> dict[str, str]:
    params = sorted(
        {(unquote_plus(k), unquote_plus(v)) for k, v in (p.split("=", 1) for p in body.decode().split("&"))}
    )
    message = url + "".join(k + v for k, v in params)
    mac = base64.b64encode(hmac.new(secret.encode(), message.encode(), hashlib.sha1).digest()).decode()
    return {"X-Twilio-Signature": mac, "Content-Type": "application/x-www-form-urlencoded",
            "I-Twilio-Idempotency-Token": hashlib.sha256(body).hexdigest()[:32]}  # fmt: skip


def _zoom(secret: str, body: bytes, url: str) -> dict[str, str]:
    ts = str(int(time.time()))
    return {"x-zm-request-timestamp": ts, "x-zm-signature": "v0=" + _hmac_hex(secret, f"v0:{ts}:".encode() + body)}


def _stripe(secret: str, body: bytes, url: str) -> dict[str, str]:
    t = str(int(time.time()))
    return {"Stripe-Signature": f"t={t},v1={_hmac_hex(secret, t.encode() + b'.' + body)}"}


def _standardwebhooks(secret: str, body: bytes, url: str) -> dict[str, str]:
    msg_id, ts = "msg_" + hashlib.sha256(body).hexdigest()[:20], str(int(time.time()))
    key = base64.b64decode(secret.removeprefix("whsec_"))
    mac = base64.b64encode(hmac.new(key, f"{msg_id}.{ts}.".encode() + body, hashlib.sha256).digest()).decode()
    return {"webhook-id": msg_id, "webhook-timestamp": ts, "webhook-signature": f"v1,{mac}"}


def _discord(secret: str, body: bytes, url: str) -> dict[str, str]:
    ts = str(int(time.time()))
    signature = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(DISCORD_SEED)).sign(ts.encode() + body)
    return {"X-Signature-Ed25519": signature.hex(), "X-Signature-Timestamp": ts}


SIGNERS: dict[str, Callable[[str, bytes, str], dict[str, str]]] = {
    "jira": _atlassian, "confluence": _atlassian, "linear": _linear, "twilio": _twilio, "zoom": _zoom,
    "stripe": _stripe, "standardwebhooks": _standardwebhooks, "discord": _discord,
}  # fmt: skip


# -- deliveries -----------------------------------------------------------------------------


def _linear_body() -> dict[str, Any]:
    return {"action": "create", "type": "Issue", "data": {"id": "i1", "title": "Fix it"},
            "organizationId": "org1", "webhookTimestamp": int(time.time() * 1000)}  # fmt: skip


def _payload(vendor: str) -> bytes:
    """A delivery as the vendor sends it (form-encoded for Twilio, JSON for the others)."""
    payloads: dict[str, Any] = {
        "jira": {"webhookEvent": "jira:issue_created", "timestamp": 1700000000000,
                 "issue": {"key": "PROJ-7", "self": "https://example.atlassian.net/rest/api/2/issue/10007"},
                 "matchedWebhookIds": [1]},
        "confluence": {"timestamp": 1700000000000, "userAccountId": "u1",
                       "page": {"id": 42, "title": "Runbook", "self": "https://example.atlassian.net/wiki/p/42"}},
        "linear": _linear_body(),
        "zoom": {"event": "meeting.started", "event_ts": 1700000000000,
                 "payload": {"account_id": "acc1", "object": {"id": "9", "topic": "Standup"}}},
        "stripe": {"id": "evt_1NG8Du2eZvKYlo2CUI79vXWy", "object": "event", "type": "payment_intent.succeeded",
                   "data": {"object": {"id": "pi_1", "object": "payment_intent", "amount": 2000}}},
        "standardwebhooks": {"type": "user.created", "timestamp": "2026-12-01T00:00:00Z",
                             "data": {"email": "ada@example.com"}},
        "discord": {"id": "1234567890", "application_id": "app1", "type": 2, "token": "itoken",
                    "data": {"id": "cmd1", "name": "hello", "type": 1},
                    "member": {"user": {"id": "u1", "username": "ada"}}},
    }  # fmt: skip
    if vendor == "twilio":
        return urlencode({"MessageSid": "SM0001", "AccountSid": "AC1", "From": "+15550001", "To": "+15550002",
                          "Body": "hi there", "NumMedia": "0"}).encode()  # fmt: skip
    return json.dumps(payloads[vendor]).encode()


def _post(vendor: str, url: str, body: bytes, secret: str | None) -> httpx.Response:
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers.update(SIGNERS[vendor](secret, body, url))
    return httpx.post(url, content=body, headers=headers, timeout=30)


def _event_ids(akd: Akd) -> list[str]:
    return [e["event_id"] for e in akd.akctl_json("event", "list", "--project", PROJECT, "--limit", "1000")]


def _session_of(akd: Akd, event_id: str) -> str:
    ids = wait_for(lambda: akd.api("GET", f"/events/{event_id}").json().get("session_ids"), 60)
    assert len(ids) == 1, ids
    assert akd.wait_session(ids[0], timeout=60)["state"] == "completed", akd.session(ids[0])
    sid: str = ids[0]
    return sid


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def akd_public(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Akd]:
    """The module's daemon, listening on 127.0.0.1:<port>, public as localhost:<port>."""
    daemon = Akd(tmp_path_factory.mktemp("akd"))
    port = _free_port()
    daemon.env["AKD_SERVER_PUBLIC_URL"] = f"http://localhost:{port}"
    res = daemon.akctl("up", "--detach", "--port", str(port), "--json", timeout=120)
    assert res.returncode == 0, res.stderr
    daemon.pids.append(int(json.loads(res.stdout)["pid"]))
    try:
        assert daemon.url == f"http://localhost:{port}"
        yield daemon
    finally:
        daemon.down()


@pytest.fixture(scope="module")
def deployed(akd_public: Akd, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The project deployed; each vendor's connection URL (no secrets set yet)."""
    root = tmp_path_factory.mktemp("vendev")
    akd_public.deploy(write_project(root, {"autokitteh.yaml": _manifest(), "program.py": PROGRAM}))
    return {
        v: akd_public.akctl_json("connection", "get", f"{PROJECT}/{c}")["webhook_url"] for v, c in CONNECTIONS.items()
    }


def _drop_secret(akd: Akd, vendor: str) -> None:
    akd.akctl("var", "delete", SECRETS[vendor][0], "--connection", f"{PROJECT}/{CONNECTIONS[vendor]}")


def _set_secret(akd: Akd, vendor: str) -> None:
    name, value = SECRETS[vendor]
    res = akd.akctl("var", "set", name, value, "--secret", "--connection", f"{PROJECT}/{CONNECTIONS[vendor]}")
    assert res.returncode == 0, res.stderr


EXPECTED = {
    "jira": "jira issue_created PROJ-7",
    "confluence": "confluence page_created Runbook",
    "linear": "linear issue create Fix it",
    "twilio": "twilio message +15550001 hi there SM0001",
    "zoom": "zoom meeting.started Standup",
    "stripe": "stripe payment_intent.succeeded 2000",
    "standardwebhooks": "standardwebhooks user.created ada@example.com",
    "discord": "discord interaction_create hello ada",
}
PATHS = {"jira": "/jira/webhook/", "confluence": "/confluence/webhook/", "linear": "/linear/event/",
         "twilio": "/twilio/message/", "zoom": "/zoom/event/", "stripe": "/stripe/webhook/",
         "standardwebhooks": "/standardwebhooks/webhook/", "discord": "/discord/interactions/"}  # fmt: skip


@pytest.mark.parametrize("vendor", list(CONNECTIONS))
def test_signed_delivery_runs_once_and_bad_ones_are_refused(akd_public: Akd, deployed: dict[str, str],
                                                            vendor: str) -> None:  # fmt: skip
    akd = akd_public
    url = deployed[vendor]
    if vendor == "confluence":
        url += "/created"  # the category, as AutoKitteh registers Confluence webhooks
    assert deployed[vendor].startswith(akd.url + PATHS[vendor]) and len(deployed[vendor].rsplit("/", 1)[1]) >= 32
    secret = SECRETS[vendor][1]
    signing_secret = DISCORD_SEED if vendor == "discord" else secret
    body = _payload(vendor)

    # No secret on the connection: refused (401), nothing stored.
    _drop_secret(akd, vendor)
    before = _event_ids(akd)
    res = _post(vendor, url, body, signing_secret)
    assert res.status_code == 401 and SECRETS[vendor][0] in res.json()["error"]["message"], res.text
    _set_secret(akd, vendor)

    # A signed delivery: stored, 2xx; the vendor retries it at once: 2xx, nothing new stored.
    res = _post(vendor, url, body, signing_secret)
    assert 200 <= res.status_code < 300, res.text
    event_id = res.headers["AutoKitteh-Event-ID"]
    again = _post(vendor, url, body, signing_secret)
    assert 200 <= again.status_code < 300 and again.headers["AutoKitteh-Event-ID"] == event_id, again.text
    assert len(_event_ids(akd)) == len(before) + 1

    # The trigger's one session ran with AutoKitteh's shape of the event.
    sid = _session_of(akd, event_id)
    assert akd.prints(sid) == [EXPECTED[vendor]]
    assert akd.api("GET", f"/events/{event_id}").json()["session_ids"] == [sid]

    # Wrong secret, no signature: 401 and nothing stored.
    wrong = "ab" * 32 if vendor == "discord" else ("whsec_" + "A" * 40 if vendor == "standardwebhooks" else "wrong")
    forged = body + b"&Forged=1" if vendor == "twilio" else json.dumps({**json.loads(body), "forged": True}).encode()
    if vendor == "discord":
        res = httpx.post(
            url, content=forged, timeout=30, headers={**_discord("", body, url), "Content-Type": "application/json"}
        )  # a signature of another body
    else:
        res = _post(vendor, url, forged, wrong)
    assert res.status_code == 401, res.text
    assert _post(vendor, url, forged, None).status_code == 401
    assert len(_event_ids(akd)) == len(before) + 1


def test_discord_ping_and_zoom_url_validation_are_answered(akd_public: Akd, deployed: dict[str, str]) -> None:
    akd = akd_public
    for vendor in ("discord", "zoom"):
        _set_secret(akd, vendor)
    before = _event_ids(akd)
    ping = json.dumps({"id": "p1", "application_id": "app1", "type": 1, "token": "t"}).encode()
    res = _post("discord", deployed["discord"], ping, DISCORD_SEED)
    assert res.status_code == 200 and res.json() == {"type": 1}, res.text
    assert _post("discord", deployed["discord"], ping, None).status_code == 401  # Discord checks this, too

    plain = "qgg8vlvZRS6UYooatFL8Aw"
    check = json.dumps({"event": "endpoint.url_validation", "event_ts": 1700000000000,
                        "payload": {"plainToken": plain}}).encode()  # fmt: skip
    res = _post("zoom", deployed["zoom"], check, SECRETS["zoom"][1])
    assert res.status_code == 200, res.text
    assert res.json() == {"plainToken": plain, "encryptedToken": _hmac_hex(SECRETS["zoom"][1], plain.encode())}
    assert _event_ids(akd) == before  # handshakes are answered, not stored


def test_autokittehs_global_paths_route_by_whose_secret_verifies(akd_public: Akd, deployed: dict[str, str]) -> None:
    akd = akd_public
    for vendor in ("jira", "twilio"):
        _set_secret(akd, vendor)
    issue = json.loads(_payload("jira"))
    issue["issue"]["key"] = "PROJ-9"
    body = json.dumps(issue).encode()
    res = _post("jira", f"{akd.url}/jira/webhook", body, SECRETS["jira"][1])
    assert res.status_code == 202, res.text
    assert akd.prints(_session_of(akd, res.headers["AutoKitteh-Event-ID"])) == ["jira issue_created PROJ-9"]

    sms = urlencode({"MessageSid": "SM0002", "AccountSid": "AC1", "From": "+15550003", "Body": "hello"}).encode()
    res = _post("twilio", f"{akd.url}/twilio/message", sms, "12345")
    assert res.status_code == 200 and "<Response>" in res.text, res.text
    sid = _session_of(akd, res.headers["AutoKitteh-Event-ID"])
    assert akd.prints(sid) == ["twilio message +15550003 hello SM0002"]

    before = _event_ids(akd)
    assert _post("jira", f"{akd.url}/jira/webhook", body, "wrong").status_code == 401
    # Twilio signs the URL it called: a signature for the connection's own URL fails here, and so
    # does one for the address akd listens on rather than its public URL.
    for signed_url in (deployed["twilio"], f"{akd.url}/twilio/message".replace("localhost", "127.0.0.1")):
        headers = _twilio("12345", sms, signed_url)
        assert httpx.post(f"{akd.url}/twilio/message", content=sms, headers=headers, timeout=30).status_code == 401
    assert _event_ids(akd) == before


def test_event_type_and_filter_decide_which_deliveries_start_sessions(
    akd_public: Akd, deployed: dict[str, str]
) -> None:
    akd = akd_public
    for vendor in ("jira", "linear"):
        _set_secret(akd, vendor)
    updated = {**json.loads(_payload("jira")), "webhookEvent": "jira:issue_updated"}
    res = _post("jira", deployed["jira"], json.dumps(updated).encode(), SECRETS["jira"][1])
    assert res.status_code == 202, res.text
    changed = {**_linear_body(), "action": "update"}  # the trigger's filter wants data.action == "create"
    res2 = _post("linear", deployed["linear"], json.dumps(changed).encode(), SECRETS["linear"][1])
    assert res2.status_code == 200, res2.text
    for answer, event_type in ((res, "issue_updated"), (res2, "issue")):
        event_id = answer.headers["AutoKitteh-Event-ID"]
        ev = akd.api("GET", f"/events/{event_id}", params={"wait": "final", "timeout": 30}).json()
        assert ev["state"] != "pending", ev  # dispatched: its triggers were matched
        assert ev["event_type"] == event_type and ev["session_ids"] == [], ev  # stored as such, nothing started

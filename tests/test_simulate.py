"""Simulated deliveries, in process: each vendor's signer produces what that vendor's
verification accepts (akd.signatures, the same check the routes run), data merges
into the fixture, and every fixture akd lists ships and parses."""

from __future__ import annotations

import json
from urllib.parse import parse_qs

import pytest

from akd.errors import FailedPrecondition, NotFound, Unauthenticated
from akd.services import simulate
from akd.services.deliveries import mask
from akd.signatures import verify

SCHEMES = {"github": "github", "slack": "slack", "jira": "atlassian", "twilio": "twilio"}
URL = "https://akd.example.net/twilio/message/k3y"  # Twilio signs the URL it calls


@pytest.mark.parametrize("integration", sorted(simulate.VENDORS))
def test_every_fixture_is_signed_as_the_vendors_verification_expects(integration: str) -> None:
    names = simulate.fixtures(integration)
    assert names, integration
    for event_type in names:
        sim = simulate.build(integration, event_type, {}, "s3cret", URL)
        headers = {k.lower(): v for k, v in sim.headers.items()}
        verify(SCHEMES[integration], "s3cret", headers, sim.body, url=URL)
        with pytest.raises(Unauthenticated):
            verify(SCHEMES[integration], "another", headers, sim.body, url=URL)
        assert sim.delivery_id and sim.delivery_id != simulate.build(integration, event_type, {}, "s", URL).delivery_id


def test_github_data_merges_into_the_payload() -> None:
    sim = simulate.build("github", "issue_comment", {"comment": {"body": "hi"}, "extra": [1]}, "k")
    body = json.loads(sim.body)
    assert body["comment"]["body"] == "hi" and body["comment"]["id"] == 1146825  # merged, not replaced
    assert body["extra"] == [1] and body["repository"]["full_name"] == "octo-org/hello-world"
    assert sim.headers["X-GitHub-Event"] == "issue_comment" and sim.headers["X-GitHub-Delivery"] == sim.delivery_id
    assert sim.route == ""


def test_slack_shapes_events_commands_and_interactions() -> None:
    event = simulate.build("slack", "app_mention", {"text": "yo"}, "k")
    envelope = json.loads(event.body)
    assert event.route == "event" and envelope["type"] == "event_callback"
    assert envelope["event"]["text"] == "yo" and envelope["event"]["type"] == "app_mention"
    assert envelope["event_id"] == event.delivery_id
    command = simulate.build("slack", "slash_command", {"text": "later"}, "k")
    fields = {k: v[0] for k, v in parse_qs(command.body.decode()).items()}
    assert command.route == "command" and fields["text"] == "later" and fields["trigger_id"] == command.delivery_id
    inter = simulate.build("slack", "interaction", {}, "k")
    payload = json.loads(parse_qs(inter.body.decode())["payload"][0])
    assert inter.route == "interaction" and payload["type"] == "block_actions"


def test_unknown_types_vendors_and_missing_secrets_are_explained() -> None:
    with pytest.raises(NotFound) as exc:
        simulate.build("github", "star", {}, "k")
    assert "push" in exc.value.message and exc.value.details["fixtures"] == simulate.fixtures("github")
    with pytest.raises(FailedPrecondition) as missing:
        simulate.secret_of(simulate.vendor("slack"), {}, "p/sl")
    assert "private_signing_secret" in missing.value.message
    assert simulate.secret_of(simulate.vendor("github"), {"webhook_secret": "w"}, "p/gh") == "w"


def test_merge_and_mask() -> None:
    assert simulate.merge({"a": {"b": 1, "c": 2}, "d": [1]}, {"a": {"b": 3}, "d": [2]}) == {"a": {"b": 3, "c": 2},
                                                                                          "d": [2]}  # fmt: skip
    assert mask("Authorization", "Bearer abc") == "Bearer ****" and mask("Cookie", "a=b") == "****"
    assert mask("X-Hub-Signature-256", "sha256=ab") == "sha256=ab"


def test_raw_bodies_as_json_text_base64_and_capped() -> None:
    from akd.api.deliveries import BODY_LIMIT, body_json

    assert body_json(b'{"a": 1}', full=False) == {"size": 8, "truncated": False, "text": '{"a": 1}'}
    binary = body_json(b"\xff\x00ok", full=False)
    assert binary["base64"] == "/wBvaw==" and "text" not in binary
    text = "a" + "é" * BODY_LIMIT  # two bytes a character after the first: the cap falls inside one
    capped = body_json(text.encode(), full=False)
    assert capped["truncated"] is True and capped["size"] == len(text.encode())
    assert capped["text"] == text[: 1 + (BODY_LIMIT - 1) // 2]  # text up to the cut character, not base64
    assert body_json(text.encode(), full=True) == {"size": len(text.encode()), "truncated": False, "text": text}


def test_slack_fixtures_shape_into_their_event_types() -> None:
    """What akd's own Slack shaping (the routes' and Socket Mode's) makes of each fixture."""
    from akd.services import slack_events

    for event_type in simulate.fixtures("slack"):
        sim = simulate.build("slack", event_type, {}, "k")
        form = {k: v[0] for k, v in parse_qs(sim.body.decode()).items()}
        if sim.route == "event":
            shaped = slack_events.from_callback(json.loads(sim.body))
        elif sim.route == "command":
            shaped = slack_events.from_command(form)
        else:
            shaped = slack_events.from_interaction(json.loads(form["payload"]))
        assert shaped is not None and shaped.event_type == event_type, event_type  # not dropped as the bot's own
        assert shaped.delivery_id == sim.delivery_id


def test_jira_and_twilio_deliveries_look_like_the_vendors() -> None:
    issue = simulate.build("jira", "issue_created", {"issue": {"fields": {"summary": "new"}}}, "k", URL)
    payload = json.loads(issue.body)
    assert payload["webhookEvent"] == "jira:issue_created" and payload["issue"]["key"] == "AKD-42"
    assert payload["issue"]["fields"]["summary"] == "new" and payload["issue"]["fields"]["status"]["name"] == "To Do"
    assert issue.headers["X-Atlassian-Webhook-Identifier"] == issue.delivery_id
    text = simulate.build("twilio", "message", {"Body": "ping"}, "k", URL)
    fields = {k: v[0] for k, v in parse_qs(text.body.decode()).items()}
    assert fields["Body"] == "ping" and fields["MessageSid"].startswith("SM") and fields["From"] == "+15005550006"
    assert text.headers["Content-Type"] == "application/x-www-form-urlencoded"
    with pytest.raises(Unauthenticated):  # Twilio's signature covers the URL: another one fails
        verify("twilio", "k", {k.lower(): v for k, v in text.headers.items()}, text.body, url=URL + "x")
